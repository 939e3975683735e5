"""`help.py build`: wheel and sdist through any PEP 517 backend, cached by source hash.

Also the release steps around it (--bump, --tag, --publish, each undone when a
later one fails) and `build image` for a Containerfile/Dockerfile.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from helper.errors import ConfigError, HelpError, UsageError
from helper.ui import console

LONG_RUNNING = True

EXAMPLES = """examples:
  help.py build                       sdist + wheel into dist/ (instant when nothing changed)
  help.py build --wheel               only the wheel
  help.py build --no-isolation        use the current environment's backend as it is
  help.py build --bump patch --tag    1.2.3 -> 1.2.4 everywhere, commit, tag v1.2.4, build
  help.py build --publish --repository https://test.pypi.org/legacy/
                                      build, then upload (TWINE_PASSWORD / UV_PUBLISH_TOKEN)
  help.py build image                 podman/docker build, tagged with version and git sha"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "build",
        help="build wheel, sdist or image (cached by source hash)",
        description="Build the project's sdist and wheel with its PEP 517 backend, or its container image.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", nargs="?", choices=("dist", "image"), default="dist", help="dist (default) or image")
    parser.add_argument("--sdist", action="store_true", help="build the sdist only (with --wheel: both)")
    parser.add_argument("--wheel", action="store_true", help="build the wheel only (with --sdist: both)")
    parser.add_argument("-o", "--outdir", help="output directory (default: build.outdir, dist)")
    parser.add_argument(
        "--no-isolation", action="store_true", help="build in the current environment, installing nothing"
    )
    parser.add_argument("--no-cache", action="store_true", help="build even when the inputs are unchanged")
    parser.add_argument(
        "--config-setting", action="append", default=[], metavar="KEY=VALUE", help="passed to the backend's hooks"
    )
    release = parser.add_argument_group("release")
    release.add_argument("--bump", choices=("major", "minor", "patch", "pre"), help="bump the version before building")
    release.add_argument("--tag", action="store_true", help="commit the bump and create the git tag (build.tag_format)")
    release.add_argument("--allow-dirty", action="store_true", help="tag even with uncommitted changes")
    release.add_argument("--publish", action="store_true", help="upload the artifacts after building")
    release.add_argument("--repository", metavar="URL", help="upload URL (default: build.repository)")
    return parser


def _settings(pairs: list[str]) -> dict[str, Any] | None:
    if not pairs:
        return None
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(
                f"--config-setting {pair!r} is not KEY=VALUE", "e.g. --config-setting=--build-option=--quiet"
            )
        if key in settings:  # repeated keys become a list, as `python -m build` does
            previous = settings[key]
            settings[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            settings[key] = value
    return settings


def _format(project: Any, key: str, version: str) -> str:
    template = project.config[key]
    try:
        return str(template).format(version=version)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"{key} = {template!r} cannot be filled in: {exc}",
            "use {version} as the only placeholder",
            where=project.sources.get(key),
        ) from None


def _reload(project: Any) -> None:
    """Forget the parsed pyproject.toml after the version in it changed."""
    project.__dict__.pop("pyproject", None)


def run(args: argparse.Namespace, project: Any) -> int:
    if args.what == "image":
        from helper.building import image

        used = [
            flag
            for flag, on in (
                ("--sdist", args.sdist),
                ("--wheel", args.wheel),
                ("--bump", args.bump),
                ("--tag", args.tag),
                ("--publish", args.publish),
                ("--no-isolation", args.no_isolation),
            )
            if on
        ]
        if used:
            raise UsageError(
                f"`build image` does not take {', '.join(used)}",
                "run `help.py build` for the sdist and wheel, then `help.py build image`",
            )

        data = image.build_image(project)
        console.result(data, lambda d: console.success(f"built image {', '.join(d['tags'])} with {d['engine']}"))
        return 0
    from helper.building import frontend

    targets = [t for t in ("sdist", "wheel") if getattr(args, t)] or ["sdist", "wheel"]
    options = frontend.Options(
        targets=targets,
        outdir=Path(args.outdir) if args.outdir else None,
        isolation=not args.no_isolation,
        use_cache=not args.no_cache,
        config_settings=_settings(args.config_setting),
    )
    if (args.allow_dirty and not args.tag) or (args.repository and not args.publish):
        raise UsageError("--allow-dirty needs --tag and --repository needs --publish", "add the missing option")
    if args.bump or args.tag:
        from helper.fsutil import FileLock

        # Two releases at once would both read the old version; the second waits for the first.
        with FileLock(project.ensure_state_dir() / "release.lock", timeout=float(project.config["build.timeout"])):
            _reload(project)
            return _release(args, project, options)
    return _release(args, project, options)


def _release(args: argparse.Namespace, project: Any, options: Any) -> int:
    from helper.building import frontend, release

    root = project.root
    if args.tag:
        release.require_repo(root)
        dirty = release.dirty_files(root)
        if dirty and not args.allow_dirty:
            raise HelpError(
                f"the working tree has uncommitted changes ({', '.join(dirty[:3])}{', ...' if len(dirty) > 3 else ''})",
                "commit or stash them first, or pass --allow-dirty",
            )
    tx = release.Transaction()
    report: dict[str, Any] = {}
    try:
        if args.bump:
            old, new, files = release.bump_step(tx, root, project.pyproject, args.bump)
            _reload(project)
            report["bumped"] = {"from": old, "to": new, "files": [str(f.relative_to(root)) for f in files]}
            console.info(f"version {old} -> {new}")
        if args.tag:
            from helper.building.version_files import find

            version = report.get("bumped", {}).get("to") or find(root, project.pyproject)[0].version
            message = _format(project, "build.commit_message", version)
            if args.bump:
                release.commit_step(tx, root, files, message)
            tag = _format(project, "build.tag_format", version)
            release.tag_step(tx, root, tag, message)
            report["tag"] = tag
        outcome = frontend.build(project, options)
        report.update(outcome.to_dict())
        if args.publish:
            from helper.building import publish

            url = args.repository or project.config["build.repository"]
            report["published"] = publish.upload(project, [Path(a["path"]) for a in outcome.artifacts], url)
    except BaseException:
        undone, problems = tx.rollback()
        if undone:
            console.warn("rolled back: " + ", ".join(undone))
        for problem in problems:
            console.error(f"could not roll back {problem}", "undo it by hand")
        raise
    console.result(report, _render)
    return 0


def _render(report: dict[str, Any]) -> None:
    how = "unchanged, from cache" if report["cached"] else f"built in {report['duration']:.1f}s"
    for item in report["artifacts"]:
        console.echo(f"{item['path']}  ({item['size'] // 1024 or 1} KiB)")
    console.success(f"{len(report['artifacts'])} artifact(s) {how}")
    if report.get("tag"):
        console.success(f"tagged {report['tag']}")
    if report.get("published"):
        console.success(f"published to {report['published']['repository']} with {report['published']['tool']}")
