"""Components with their own test runner: a `test.components` table entry with `path` and `runner`.

    [tool.help.test.components.js-client]
    path = "clients/js"          # its folder: the runner runs there, its files are hashed
    runner = "node --test"       # or "npm test", "npx vitest run", ...

A component's result is cached under the hash of its files (git's view, minus
node_modules), its lockfile, test.env_vars and the runner's version, so an
unchanged component is answered without starting its runner. Results are read
per test from the runner's own output: `node --test` writes JUnit XML (its
junit reporter), a `junit` file the runner writes is read, else TAP in the
output; a runner that reports neither gives one result for the whole component.
Failed results are never cached.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helper.errors import HelpError, MissingDependency
from helper.ui import console

if TYPE_CHECKING:
    from helper.cache import Cache
    from helper.fingerprint import Fingerprinter
    from helper.project import Project

KEY_VERSION = 1
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock", "bun.lockb")
NODE_TOOLS = ("npm", "npx", "yarn", "pnpm", "corepack")  # scripts run by node: node's version counts too
PASSLIKE = {"passed", "skipped", "xfailed", "xpassed"}
INSTALL = {
    "node": "install Node.js (Debian/Ubuntu: apt-get install nodejs; macOS: brew install node; or https://nodejs.org)",
    "npm": "install npm (Debian/Ubuntu: apt-get install npm; or Node.js from https://nodejs.org, which includes it)",
    "npx": "install npm, which provides npx (Debian/Ubuntu: apt-get install npm; or https://nodejs.org)",
    "yarn": "install yarn: corepack enable (comes with Node.js), or npm install -g yarn",
    "pnpm": "install pnpm: corepack enable (comes with Node.js), or npm install -g pnpm",
}


@dataclass(frozen=True)
class Component:
    name: str
    path: str
    runner: list[str]
    inputs: list[str] = field(default_factory=list)
    junit: str | None = None
    timeout: float = 1800.0
    source: str | None = None  # file:line of test.components

    @property
    def where(self) -> str | None:
        """file:line of this component's own table."""
        from helper.project import key_line

        if not self.source or ":" not in self.source:
            return self.source
        path = Path(self.source.rsplit(":", 1)[0])
        prefix = ["tool", "help"] if path.name == "pyproject.toml" else []
        try:
            line = key_line(path.read_text(encoding="utf-8"), [*prefix, "test", "components", self.name])
        except OSError:
            return self.source
        return f"{path}:{line}" if line else self.source


@dataclass
class Outcome:
    """What the components add to a run: report rows, one summary per component, paths an answer read."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    info: list[dict[str, Any]] = field(default_factory=list)
    watch: list[Path] = field(default_factory=list)
    ran: bool = False  # some runner was started

    @property
    def failed(self) -> bool:
        return any(r["outcome"] not in PASSLIKE for r in self.rows)


def configured(project: Project) -> dict[str, Component]:
    """The components with a runner, by name (validated by config_schema when the config was read)."""
    where = project.sources.get("test.components")
    found: dict[str, Component] = {}
    for name, entry in (project.config.get("test.components") or {}).items():
        if not isinstance(entry, dict):
            continue  # a list of paths: a Python component
        try:
            runner = shlex.split(entry["runner"])
        except ValueError as exc:
            raise HelpError(
                f"test.components.{name}.runner: cannot parse {entry['runner']!r}: {exc}",
                "quote the command as a shell would",
                where=where,
            ) from None
        found[name] = Component(
            name=name,
            path=entry["path"].strip("/") or ".",
            runner=runner,
            inputs=list(entry.get("inputs") or []),
            junit=entry.get("junit"),
            timeout=float(entry.get("timeout") or 1800.0),
            source=where,
        )
    return found


def owns(project: Project, args: argparse.Namespace) -> bool:
    """True when `--component NAME` names a component with its own runner (no pytest involved)."""
    name = getattr(args, "component", None)
    return bool(name) and name in configured(project)


def for_whole_run(project: Project, args: argparse.Namespace, user_paths: list[str]) -> Outcome:
    """Every component with a runner, for a `help.py test` not narrowed to some tests (on shard 1 of N)."""
    if args.component or user_paths:
        return Outcome()
    if args.shard and args.shard.strip().split("/")[0] != "1":
        return Outcome()
    found = configured(project)
    return run(project, list(found.values()), args, extra=[]) if found else Outcome()


def run(project: Project, components: list[Component], args: argparse.Namespace, extra: list[str]) -> Outcome:
    """Each component answered from the cache or run; rows in the report's shape (helper.testing.report)."""
    from helper import cache as cache_module
    from helper.fingerprint import Fingerprinter, list_files

    state_dir = project.ensure_state_dir()
    fp = Fingerprinter(project.root, state_dir / "component-fingerprints.json")
    cache = cache_module.for_project(project)
    memory = _Memory(state_dir / "test-components.json")
    versions = _Versions(state_dir / "runner-versions.json")
    files = list_files(project.root)
    outcome = Outcome()
    try:
        for component in components:
            _one(project, component, args, extra, files, fp, cache, memory, versions, outcome)
    finally:
        fp.save()
        versions.save()
        memory.save()
    return outcome


def execute(project: Project, args: argparse.Namespace) -> int:
    """`help.py test --component NAME` for a component with its own runner: run it, report it as pytest's are."""
    from helper.testing import report as reports
    from helper.testing.select import Plan

    started = time.monotonic()
    component = configured(project)[args.component]
    outcome = run(project, [component], args, extra=list(getattr(args, "passthrough", []) or []))
    code = 1 if outcome.failed else 0
    elapsed = time.monotonic() - started
    info = reports.summary(outcome.rows, Plan(), code, elapsed)
    info["pytest_started"] = False
    info["components"] = outcome.info
    quality = None
    if getattr(args, "quality", False):
        from helper.testing import quality as quality_checks

        quality = quality_checks.run_quality(project)
        info["quality"] = quality
        if quality_checks.failed(quality):
            code = info["exit_code"] = 1
    if args.junit:
        reports.junit(Path(args.junit), outcome.rows, elapsed)
    if reports.in_github_actions():
        for line in reports.github_annotations(outcome.rows):
            print(line, flush=True)
    if console.json:
        console.result({**info, "tests": outcome.rows})
    else:
        reports.render_summary(info)
        if quality is not None:
            from helper.testing import quality as quality_checks

            quality_checks.render(quality)
    return code


# -- one component ------------------------------------------------------------------
def _one(
    project: Project,
    component: Component,
    args: argparse.Namespace,
    extra: list[str],
    files: list[str],
    fp: Fingerprinter,
    cache: Cache,
    memory: _Memory,
    versions: _Versions,
    outcome: Outcome,
) -> None:
    from helper import cache as cache_module
    from helper.fingerprint import combine

    root = project.root
    folder = root / component.path
    if not folder.is_dir():
        raise HelpError(
            f"test.components.{component.name}: path {component.path!r} is not a folder of the project",
            "set path to the component's folder, relative to the project root",
            where=component.where,
        )
    executables, runner_versions = _runner(component, versions)
    rels = _inputs(root, component, files)
    hashes = fp.files(rels)
    lockfile = _lockfile(root, folder)
    parts = {
        "files": combine(hashes),
        "lockfile": fp.file(lockfile) if lockfile else None,
        "runner": runner_versions,
        "command": [*component.runner, *extra],
        "env": {name: os.environ.get(name) for name in project.config["test.env_vars"]},
        "junit": component.junit,
    }
    key = cache_module.action_key("component-test", KEY_VERSION, component.name, component.path, parts)
    outcome.watch += _watch(root, component, rels, lockfile, executables)
    previous = memory.get(component.name)
    cached = None if args.all else cache.get_action(key)
    started = time.monotonic()
    if isinstance(cached, dict) and isinstance(cached.get("rows"), list):
        reason = "cached: its files, lockfile and runner are unchanged"
        rows = [{**row, "cached": True, "reason": reason} for row in cached["rows"]]
        ran = False
    else:
        reason = _why(args, previous, parts, hashes)
        if args.explain:
            sys.stderr.write(f"{'run':<8} {component.name}  ({reason})\n")
        rows, code = _execute(project, component, extra, reason)
        ran = True
        outcome.ran = True
        if code == 0 and all(r["outcome"] in PASSLIKE for r in rows):
            kept = [{k: v for k, v in row.items() if k not in ("cached", "reason")} for row in rows]
            cache.put_action(key, {"rows": kept, "exit_code": 0}, time.monotonic() - started)
    if not ran and args.explain:
        sys.stderr.write(f"{'cached':<8} {component.name}  ({reason})\n")
    passed = all(r["outcome"] in PASSLIKE for r in rows)
    memory.put(component.name, {"parts": {**parts, "hashes": hashes}, "passed": passed})
    outcome.rows += rows
    outcome.info.append(
        {
            "name": component.name,
            "path": component.path,
            "runner": shlex.join(component.runner),
            "runner_version": runner_versions,
            "cached": not ran,
            "reason": reason,
            "tests": len(rows),
            "failed": sum(r["outcome"] not in PASSLIKE for r in rows),
            "seconds": round(time.monotonic() - started, 3),
        }
    )
    if not console.json:
        for row in rows:
            if row["outcome"] not in PASSLIKE:
                line = f"{row['outcome'].upper()} {row['id']}" + (f" - {row['message']}" if row.get("message") else "")
                console.echo(console.style(line, "red"))


def _runner(component: Component, versions: _Versions) -> tuple[list[str], dict[str, str]]:
    """The runner's executables on PATH and their versions (remembered by the executable's stat)."""
    from helper import proc

    names = [component.runner[0]]
    base = os.path.basename(component.runner[0])
    if base in NODE_TOOLS:
        names.append("node")
    found: list[str] = []
    for name in names:
        path = proc.which(name)
        if path is None:
            tool = os.path.basename(name)
            why = f"`{tool}` is not on PATH"
            if name != component.runner[0]:
                why += f" ({base} needs it)"
            raise MissingDependency(
                f"test.components.{component.name}: {why}, so `{shlex.join(component.runner)}` cannot run",
                INSTALL.get(tool, f"install {tool}, or change test.components.{component.name}.runner"),
                where=component.where,
            )
        found.append(path)
    return found, {os.path.basename(n): versions.of(p) for n, p in zip(names, found, strict=True)}


def _inputs(root: Path, component: Component, files: list[str]) -> list[str]:
    """The component's files (git's view, never node_modules) and its extra inputs."""
    import glob

    prefix = "" if component.path == "." else component.path + "/"
    rels = {
        rel for rel in files if rel.startswith(prefix) and "node_modules/" not in rel and not rel.startswith(".help/")
    }
    for pattern in component.inputs:
        for match in glob.glob(str(root / pattern), recursive=True):
            if os.path.isfile(match):
                rels.add(os.path.relpath(match, root))
    return sorted(rels)


def _lockfile(root: Path, folder: Path) -> str | None:
    """The lockfile of the component's packages: in its folder or, for workspaces, a folder above (to the root)."""
    current = folder
    while True:
        for name in LOCKFILES:
            if (current / name).is_file():
                return (current / name).relative_to(root).as_posix()
        if current == root or root not in current.parents:
            return None
        current = current.parent


def _watch(root: Path, component: Component, rels: list[str], lockfile: str | None, exes: list[str]) -> list[Path]:
    """What an answer about this component read: its files and folders (new files), lockfile, runners."""
    folders = {component.path}
    for rel in rels:
        parent = os.path.dirname(rel)
        while parent and parent not in folders:
            folders.add(parent)
            parent = os.path.dirname(parent)
    paths = [root / rel for rel in [*rels, *sorted(folders)]]
    if lockfile:
        paths.append(root / lockfile)
    return paths + [Path(exe) for exe in exes]


def _why(
    args: argparse.Namespace, previous: dict[str, Any] | None, parts: dict[str, Any], hashes: dict[str, str]
) -> str:
    if args.all:
        return "--all"
    if not previous:
        return "new component"
    if not previous.get("passed", False):
        return "failed last time"
    before = previous.get("parts") or {}
    old = before.get("hashes") or {}
    edited = sorted(rel for rel in set(hashes) | set(old) if hashes.get(rel) != old.get(rel))
    changes = []
    if edited:
        changes.append(
            "changed: " + ", ".join(edited[:3]) + (f" and {len(edited) - 3} more" if len(edited) > 3 else "")
        )
    for name in ("lockfile", "runner", "command", "env", "junit"):
        if before.get(name) != parts.get(name):
            changes.append(f"{name} changed")
    return "; ".join(changes) or "no cached result"


# -- running ------------------------------------------------------------------------
def _execute(project: Project, component: Component, extra: list[str], reason: str) -> tuple[list[dict[str, Any]], int]:
    """Run the component's runner in its folder; its results, per test where its output says."""
    from helper import proc
    from helper.testing import junitxml, tap

    root = project.root
    folder = root / component.path
    run_dir = project.ensure_state_dir() / "run" / f"component-{os.getpid()}-{component.name}"
    run_dir.mkdir(parents=True, exist_ok=True)
    report_file = run_dir / "junit.xml"
    report_file.unlink(missing_ok=True)
    cmd, junit_file = _command(component, folder, report_file, extra)
    if junit_file is not None and junit_file != report_file:
        junit_file.unlink(missing_ok=True)  # a stale report must not pass for this run's
    console.info(f"{component.name}: {shlex.join([*component.runner, *extra])} in {component.path}/ ({reason})")
    out = sys.stderr if console.json else sys.stdout

    def show(line: str) -> None:
        print(line, file=out, flush=True)

    try:
        result = proc.stream(cmd, show, cwd=folder, timeout=component.timeout)
    except OSError as exc:
        raise HelpError(
            f"test.components.{component.name}: cannot start `{shlex.join(cmd)}`: {exc}",
            "check test.components.*.runner",
            where=component.where,
        ) from None
    cases: list[junitxml.Case] = []
    try:
        if junit_file is not None and junit_file.is_file():
            cases = junitxml.parse(junit_file)
        elif tap.looks_like_tap(result.stdout):
            cases = tap.parse(result.stdout)
    except (OSError, ValueError) as exc:
        console.warn(f"{component.name}: could not read the runner's results ({exc}); reporting it as one")
        cases = []
    finally:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)
    code = 124 if result.timed_out else result.returncode
    return _rows(root, folder, component, cases, code, result.stdout, reason), code


def _command(component: Component, folder: Path, report_file: Path, extra: list[str]) -> tuple[list[str], Path | None]:
    """The command to run and the JUnit file it writes (node --test: its junit reporter, spec on the terminal)."""
    cmd = [*component.runner, *extra]
    base = os.path.basename(cmd[0])
    if base in ("node", "nodejs") and "--test" in cmd and not any(a.startswith("--test-reporter") for a in cmd):
        reporters = [
            "--test-reporter=junit",
            f"--test-reporter-destination={report_file}",
            "--test-reporter=spec",
            "--test-reporter-destination=stdout",
        ]
        return [cmd[0], *reporters, *cmd[1:]], report_file
    if component.junit:
        return cmd, folder / component.junit
    return cmd, None


def _rows(
    root: Path, folder: Path, component: Component, cases: list[Any], code: int, output: str, reason: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for case in cases:
        test_id = "::".join([component.name, *case.names])
        seen[test_id] = seen.get(test_id, 0) + 1
        if seen[test_id] > 1:
            test_id += f" [{seen[test_id]}]"
        row: dict[str, Any] = {
            "id": test_id,
            "outcome": case.outcome,
            "cached": False,
            "duration": round(case.duration, 6),
            "reason": reason,
            "component": component.name,
        }
        if case.path:
            row["path"] = _relative(root, folder, case.path)
        if case.message:
            row["message"] = case.message
        if case.longrepr:
            row["longrepr"] = case.longrepr
        rows.append(row)
    tail = "\n".join(output.splitlines()[-60:])
    failed = any(r["outcome"] not in PASSLIKE for r in rows)
    if not rows or (code != 0 and not failed):
        runner = shlex.join(component.runner)
        timed_out = f"`{runner}` timed out after {component.timeout:g}s (test.components.{component.name}.timeout)"
        message = timed_out if code == 124 else f"`{runner}` exited with code {code}"
        rows.append(
            {
                "id": component.name if not rows else f"{component.name}::({component.runner[0]})",
                "outcome": "passed" if code == 0 else "failed" if not rows else "error",
                "cached": False,
                "duration": 0.0,
                "reason": reason,
                "component": component.name,
                "path": component.path,
                **({"message": message, "longrepr": tail} if code != 0 else {}),
            }
        )
    return rows


def _relative(root: Path, folder: Path, path: str) -> str:
    absolute = Path(path) if os.path.isabs(path) else folder / path
    try:
        return absolute.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


# -- small state files --------------------------------------------------------------
class _Json:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.dirty = False
        try:
            data = json.loads(path.read_text())
            self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            self.data = {}

    def save(self) -> None:
        if self.dirty:
            from helper.fsutil import atomic_write

            atomic_write(self.path, json.dumps(self.data, sort_keys=True), fsync=False)
            self.dirty = False


class _Memory(_Json):
    """Each component's last inputs and verdict: to say why it runs again."""

    def get(self, name: str) -> dict[str, Any] | None:
        entry = self.data.get(name)
        return entry if isinstance(entry, dict) else None

    def put(self, name: str, entry: dict[str, Any]) -> None:
        if self.data.get(name) != entry:
            self.data[name] = json.loads(json.dumps(entry))
            self.dirty = True


class _Versions(_Json):
    """`TOOL --version` per executable, remembered by its stat: a cached answer starts no runner."""

    def of(self, executable: str) -> str:
        from helper import proc
        from helper.statsig import signature

        real = os.path.realpath(executable)
        stamp = list(signature(os.stat(real)))
        entry = self.data.get(real)
        if isinstance(entry, list) and entry[:3] == stamp:
            return str(entry[3])
        result = proc.run([executable, "--version"], timeout=60)
        version = (result.stdout.strip() or result.stderr.strip()).splitlines()
        found = version[0] if result.ok and version else f"unknown ({os.path.basename(executable)})"
        self.data[real] = [*stamp, found]
        self.dirty = True
        return found
