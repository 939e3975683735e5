"""`build` as a pipeline: read build system -> environment -> key -> cache or build -> check -> store.

Like `python -m build`, the sdist is built first and the wheel is built from
the unpacked sdist, so a wheel never holds what the sdist forgot. The sdist is
built from a copy of exactly the files the cache key covers (what git tracks
or would track), so ignored files and help.py's own state never leak in.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helper.building import artifacts, buildsystem, isolation
from helper.errors import HelpError
from helper.fsutil import FileLock, atomic_copy_all
from helper.names import canonical
from helper.ui import console


@dataclass
class Options:
    targets: list[str] = field(default_factory=lambda: ["sdist", "wheel"])
    outdir: Path | None = None
    isolation: bool = True
    use_cache: bool = True
    config_settings: dict[str, Any] | None = None


@dataclass
class Outcome:
    artifacts: list[dict[str, Any]]
    cached: bool
    key: str
    duration: float
    name: str | None = None
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifacts": self.artifacts,
            "cached": self.cached,
            "key": self.key,
            "duration": round(self.duration, 3),
            "name": self.name,
            "version": self.version,
        }


def outdir_of(project: Any, options: Options) -> Path:
    out = options.outdir or Path(project.config["build.outdir"])
    return out if out.is_absolute() else project.root / out


def build(project: Any, options: Options) -> Outcome:
    started = time.monotonic()
    root = project.root
    if not (root / "pyproject.toml").is_file() and not (root / "setup.py").is_file():
        raise HelpError(
            f"{root} has no pyproject.toml or setup.py to build", "run inside a Python project or pass --project DIR"
        )
    system = buildsystem.read(project.pyproject, root)
    outdir = outdir_of(project, options)
    name, version = buildsystem.identity(project.pyproject)
    from helper.cache import for_project

    cache = for_project(project)
    state = project.ensure_state_dir()
    with FileLock(state / "build.lock", timeout=float(project.config["build.timeout"])):
        env = _environment(project, system, options)
        tree, files, hashed = artifacts.tree_digest(root, outdir)
        console.verbose(f"inputs: {len(files)} file(s), {hashed} read")
        python = os.path.realpath(env.python)
        from_git = version is None and (root / ".git").exists()
        extra = artifacts.git_state(root) if from_git else None

        def key_now() -> str:
            return artifacts.key(
                tree, system.as_key(), env.packages, python, options.targets, [options.config_settings, extra]
            )

        key = key_now()
        if options.use_cache:
            found = artifacts.lookup(cache, key, outdir)
            if found is not None:
                # A dynamic version (flit's __version__, hatch-vcs, setuptools-scm) is what the artifacts carry.
                found_version = version or artifacts.version_of(found)
                return Outcome(found, True, key, time.monotonic() - started, name, found_version)
        # Only a cache miss needs the heavy parts.
        import tempfile

        from helper.building import verify

        with tempfile.TemporaryDirectory(prefix="help-build-") as tmp:
            source = artifacts.copy_inputs(root, files, Path(tmp) / root.name, with_git=from_git)
            built = _run_backend(source, system, env, options, Path(tmp), project)
            metas = {path.name: verify.check(path, name, version) for path in built}
            _consistent(metas)
            try:  # all artifacts or none: Ctrl-C here leaves the output folder as it was
                atomic_copy_all([(path, outdir / path.name) for path in built])
            except OSError as exc:
                raise HelpError(
                    f"cannot write to {outdir}: {exc.strerror}", "fix its permissions or pass --outdir"
                ) from None
            key = key_now()  # the hooks may have installed more into the environment
            try:
                items = artifacts.store(cache, key, [outdir / p.name for p in built], time.monotonic() - started)
            except OSError as exc:  # a full disk must not fail a finished build
                console.warn(f"artifacts not cached: {exc.strerror or exc}")
                items = [artifacts.describe(outdir / p.name) for p in built]
        found_version = next(iter(metas.values()))["version"] if metas else version
        result = [{**item, "path": str(outdir / item["name"])} for item in items]
        return Outcome(result, False, key, time.monotonic() - started, name, version or found_version)


def _environment(project: Any, system: buildsystem.BuildSystem, options: Options) -> isolation.BuildEnv:
    if not options.isolation:
        return isolation.current(project)
    return isolation.existing(project, system.requires) or isolation.ensure(project, system.requires)


def _run_backend(
    root: Path, system: buildsystem.BuildSystem, env: isolation.BuildEnv, options: Options, tmp: Path, project: Any
) -> list[Path]:
    from helper.building.backend import Backend

    timeout = float(project.config["build.timeout"])
    out = tmp / "out"
    built: list[Path] = []
    settings = options.config_settings

    def prepared(backend: Backend, kind: str) -> Backend:
        if env.install(backend.get_requires(kind, settings)):
            backend.restart()  # the next hook must see what was just installed
        return backend

    with console.progress(f"building {', '.join(options.targets)}"):
        with Backend(
            env.python, root, system, timeout=timeout, isolated=env.isolated, scripts=env.scripts
        ) as tree_backend:
            if "sdist" in options.targets:
                built.append(prepared(tree_backend, "sdist").build("sdist", out, settings))
            else:
                built.append(prepared(tree_backend, "wheel").build("wheel", out, settings))
        if "sdist" in options.targets and "wheel" in options.targets:
            unpacked = _unpack(built[0], tmp / "src")
            with Backend(
                env.python, unpacked, system, timeout=timeout, isolated=env.isolated, scripts=env.scripts
            ) as backend:
                built.append(prepared(backend, "wheel").build("wheel", out, settings))
    return built


def _unpack(sdist: Path, into: Path) -> Path:
    import tarfile

    into.mkdir(parents=True)
    with tarfile.open(sdist, "r:gz") as archive:
        archive.extractall(into, filter="data")
    tops = [p for p in into.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise HelpError(f"{sdist.name} does not unpack into one directory", "check the backend's sdist settings")
    return tops[0]


def _consistent(metas: dict[str, dict[str, str]]) -> None:

    seen = {(canonical(m["name"]), m["version"]) for m in metas.values()}
    if len(seen) > 1:
        listing = ", ".join(f"{file}: {m['name']} {m['version']}" for file, m in metas.items())
        raise HelpError(
            f"the artifacts disagree on name or version ({listing})", "check the backend's dynamic metadata"
        )
