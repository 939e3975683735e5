"""`help.py install`: make the project's environment from its lock/manifest, or add, upgrade packages."""

from __future__ import annotations

import argparse
from typing import Any

from helper.errors import HelpError, UsageError
from helper.ui import console

LONG_RUNNING = True
REPLAYABLE = True  # the no-op answer is replayed while nothing it read changes (helper.replay)

EXAMPLES = """examples:
  help.py install                       create .venv if missing and sync it from the lock file
  help.py install requests "rich>=13"   add packages with the project's own tool (uv, poetry, pdm, ...)
  help.py install pytest --dev          add to the dev dependencies (PEP 735 `dev` group / poetry group)
  help.py install mkdocs --group docs   add to a named dependency group
  help.py install orjson --optional fast  add to an optional extra
  help.py install --upgrade [PKG ...]   upgrade one, some or every package (and the lock)
  help.py install --outdated            list packages with newer versions
  help.py uninstall requests            remove a package again

The manager comes from `manager` in the configuration, else from the project's
files: uv.lock, poetry.lock or [tool.poetry], pdm.lock or [tool.pdm],
environment.yml, requirements*.txt or pyproject.toml (venv + pip).
Manifest and lock are backed up in .help/backups/ before any change and put
back byte for byte if it fails, is interrupted or leaves conflicts."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "install",
        help="make the project's environment, add or upgrade packages",
        description="Create and sync the project's environment, or add / upgrade packages safely.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "packages", nargs="*", metavar="PKG[SPEC]", help="requirements to add, e.g. requests or 'rich>=13'"
    )
    add_target_options(parser)
    parser.add_argument("-U", "--upgrade", action="store_true", help="upgrade PKG (or everything) and update the lock")
    parser.add_argument("--force", action="store_true", help="sync even when the environment looks in sync")
    parser.add_argument("--lock", action="store_true", help="(re)write the lock file from the manifest, then sync")
    parser.add_argument("--outdated", action="store_true", help="list installed packages that have newer versions")
    parser.add_argument("--list", dest="list_installed", action="store_true", help="list installed packages")
    return parser


def add_target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--dev", action="store_true", help="the dev dependencies")
    where.add_argument("--group", metavar="NAME", help="a dependency group (PEP 735, poetry group, pdm dev group)")
    where.add_argument("--optional", metavar="EXTRA", help="an optional extra ([project.optional-dependencies])")


def target(args: argparse.Namespace) -> Any:
    from helper.managers.base import Target

    for value in (args.group, args.optional):
        if value is not None and not value.replace("-", "").replace("_", "").isalnum():
            raise UsageError(f"not a valid group or extra name: {value!r}", "use letters, digits, '-' and '_'")
    return Target(dev=args.dev, group=args.group, optional=args.optional)


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.managers.registry import choose

    manager, reason = choose(project)
    console.verbose(f"package manager: {manager.name} ({reason})")
    _need_manifest(project, manager.name, [] if args.dev or args.group else args.packages)
    if args.outdated or args.list_installed:
        return _report(args, project, manager)
    plain = not (args.packages or args.upgrade or args.lock)
    if plain and not args.force:
        from helper.managers import state

        if state.in_sync(project, manager):
            from helper import replay

            replay.offer(state.inputs(project, manager), own=[project.state_dir / state.STATE_FILE])
            nothing: dict[str, Any] = {"manager": manager.name, "action": "sync", "status": "in-sync"}
            nothing["manager_reason"] = reason
            nothing |= {key: [] for key in ("added", "removed", "upgraded", "downgraded", "files_changed", "recovered")}
            console.result(nothing | {"seconds": 0.0}, render)
            return 0
    from helper.managers.base import parse_requirement
    from helper.managers.workflow import execute

    wanted = target(args)
    if args.upgrade:
        names = [parse_requirement(p).name for p in args.packages]
        outcome = execute(project, manager, "upgrade", lambda r: manager.upgrade(r, names))
    elif args.lock:

        def relock(runner: Any) -> None:
            manager.lock(runner)
            manager.sync(runner)

        outcome = execute(project, manager, "lock", relock)
    elif args.packages:
        reqs = [parse_requirement(p) for p in args.packages]

        def add(runner: Any) -> None:
            if not manager.python().exists() and manager.name == "pip":
                manager.sync(runner)
            manager.add(runner, reqs, wanted)

        outcome = execute(project, manager, "add", add)
    else:
        outcome = execute(project, manager, "sync", manager.sync, force=args.force)
    outcome.manager_reason = reason
    console.result(outcome.to_dict(), render)
    return 0


MANIFESTS = ("pyproject.toml", "setup.py", "setup.cfg", "environment.yml", "environment.yaml", "Pipfile")
START_HINT = (
    "start one with `uv init` (or `poetry init`), or write a minimal pyproject.toml:"
    ' [project] name = "NAME", version = "0.1.0", dependencies = []'
)


def _need_manifest(project: Any, manager: str, packages: list[str]) -> None:
    """A project without a manifest is one clear error; none is invented half-made.

    `packages` are those bound for [project] (a PEP 735 group needs no [project] table).
    """
    root = project.root
    if any((root / name).is_file() for name in MANIFESTS) or any(root.glob("requirements*.txt")):
        if manager == "pip" and packages and not (root / "requirements.txt").is_file():
            table = project.pyproject.get("project") if isinstance(project.pyproject, dict) else None
            poetry = ((project.pyproject.get("tool") or {}).get("poetry") or {}) if project.pyproject else {}
            if (
                (root / "pyproject.toml").is_file()
                and not (isinstance(table, dict) and table.get("name"))
                and not poetry
            ):
                raise HelpError(
                    f"{root / 'pyproject.toml'} has no [project] name, so it cannot record {', '.join(packages)}",
                    'add [project] with name = "NAME" and version = "0.1.0", or run `uv init` in a copy to see one',
                )
        return
    raise HelpError(f"{root} has no pyproject.toml or requirements.txt: no manifest to install from", START_HINT)


def render(data: dict[str, Any]) -> None:
    name = data["manager"]
    if data["status"] == "in-sync":
        console.info(f"{name}: environment already in sync")
        return
    lines = [f"+ {p['name']} {p['version']}" for p in data["added"]]
    lines += [f"- {p['name']} {p['version']}" for p in data["removed"]]
    lines += [f"^ {p['name']} {p['from']} -> {p['to']}" for p in data["upgraded"]]
    lines += [f"v {p['name']} {p['from']} -> {p['to']}" for p in data.get("downgraded", [])]
    for line in lines:
        console.echo(line)
    counts = f"{len(data['added'])} added, {len(data['removed'])} removed, {len(data['upgraded'])} upgraded"
    if data.get("downgraded"):
        counts += f", {len(data['downgraded'])} downgraded"
    files = f"; changed {', '.join(data['files_changed'])}" if data["files_changed"] else ""
    console.success(f"{name}: {data['action']} done in {data['seconds']:.1f}s: {counts}{files}")


def _report(args: argparse.Namespace, project: Any, manager: Any) -> int:
    if args.list_installed:
        rows = sorted(manager.installed().items())
        console.result(
            [{"name": n, "version": v} for n, v in rows], lambda d: console.table(rows, ["package", "version"])
        )
        return 0
    from helper.managers.base import Runner

    rows = manager.outdated(Runner(cwd=project.root, retries=int(project.config["install.retries"])))
    console.result(
        rows,
        lambda d: (
            console.table([(r["name"], r["version"], r["latest"]) for r in d], ["package", "installed", "latest"])
            if d
            else console.info("everything is up to date")
        ),
    )
    return 0
