"""The package-manager protocol and the runner every manager calls its tool through.

A manager is one small class: which files it owns (manifest and lock), where its
environment lives, and sync / add / remove / upgrade / lock / list / outdated.
The Runner runs the tool with progress, retries transient network failures with
backoff, names unknown packages clearly and tells the install transaction which
process group to stop if help.py itself is killed.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helper.errors import HelpError
from helper.ui import console

if TYPE_CHECKING:
    from helper import proc
    from helper.managers.envcheck import Requirement


class Target:
    """Where new requirements go: main dependencies, dev, a named group or an extra.

    Plain classes here rather than dataclasses: a no-op `install` loads this
    module, and importing dataclasses costs it ~8 ms.
    """

    __slots__ = ("dev", "group", "optional")

    def __init__(self, dev: bool = False, group: str | None = None, optional: str | None = None) -> None:
        self.dev = dev
        self.group = group
        self.optional = optional

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Target):
            return NotImplemented
        return (self.dev, self.group, self.optional) == (other.dev, other.group, other.optional)

    def __hash__(self) -> int:
        return hash((self.dev, self.group, self.optional))

    def __repr__(self) -> str:
        return f"Target(dev={self.dev!r}, group={self.group!r}, optional={self.optional!r})"

    def describe(self) -> str:
        if self.optional:
            return f"extra {self.optional!r}"
        if self.group:
            return f"group {self.group!r}"
        return "dev dependencies" if self.dev else "dependencies"


class NetworkError(HelpError):
    """The package index could not be reached (after retries)."""


class UnknownPackage(HelpError):
    """The index has no such package (or no version matching the request)."""


class StaleLock(HelpError):
    """The lock file no longer matches the manifest; help.py does not re-resolve on its own."""


class Unresolvable(HelpError):
    """The requested requirements cannot all be satisfied together."""


STALE_PATTERNS = (
    r"needs to be updated, but `--locked` was provided"
    r"|changed significantly since poetry\.lock was last generated|poetry\.lock was last generated"
    r"|lock ?file hash doesn't match|lock ?file is not up to date|lockfile is outdated|lock ?file doesn't satisfy the project"
)
UNRESOLVABLE_PATTERNS = (
    r"requirements are unsatisfiable|version solving failed|unable to find a resolution|resolutionimpossible"
    r"|conflicting dependencies|cannot install .* because these package versions have conflicting"
)


# Phrases tools print when the index is unreachable (worth a retry) ...
NETWORK_PATTERNS = (
    r"connection refused|connecterror|connection ?error|failed to establish|max retries exceeded|temporary failure in name"
    r"|name or service not known|timed out|timeout|network is unreachable|could not connect|failed to fetch"
    r"|error sending request|connection reset|remote ?disconnected|incomplete ?read|http error 50[234]"
)
# ... and when a package simply does not exist there.
UNKNOWN_PATTERNS = (
    r"no matching distribution found for ([A-Za-z0-9._\-\[\]]+)",
    r"could not find a version that satisfies the requirement ([A-Za-z0-9._\-\[\]]+)",
    r"because ([A-Za-z0-9._\-]+) was not found in the package registry",
    r"([A-Za-z0-9._\-]+) was not found in the package registry",
    r"no solution found[^\n]*\n[^\n]*?(?:there are no versions of|there is no version of) ([A-Za-z0-9._\-]+)",
    r"could not find a matching version of package ([A-Za-z0-9._\-]+)",
    r"package ([A-Za-z0-9._\-]+) \(.*\) not found",
    r"unable to find candidates for ([A-Za-z0-9._\-]+)",
    r"PackagesNotFoundError[^\n]*\n(?:\s*\n)?\s*-\s*([A-Za-z0-9._\-]+)",
)


def network_failure(output: str) -> bool:
    return re.search(NETWORK_PATTERNS, output, re.IGNORECASE) is not None


def unknown_package(output: str) -> str | None:
    for pattern in UNKNOWN_PATTERNS:
        match = re.search(pattern, output, re.IGNORECASE)
        if match:
            return match.group(1).rstrip(".,:")
    return None


class Runner:
    """Runs manager tools: progress, logs, retries with backoff, known failures as HelpErrors."""

    def __init__(
        self,
        cwd: Path,
        retries: int = 3,
        timeout: float = 1800.0,
        on_spawn: Callable[[int], None] | None = None,  # told each child's process group
        extra_env: dict[str, str] | None = None,
        log: list[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cwd = cwd
        self.retries = retries
        self.timeout = timeout
        self.on_spawn = on_spawn
        self.extra_env = {} if extra_env is None else extra_env
        self.log = [] if log is None else log
        self.sleep = sleep

    def run(
        self,
        cmd: Sequence[str | os.PathLike[str]],
        label: str,
        *,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> proc.Result:
        """Run `cmd`; retry when the output says the network failed; raise a clear HelpError."""
        from helper.retry import backoff_delays

        delays = backoff_delays(max(self.retries, 1), base=0.5, cap=8.0)
        attempt = 0
        while True:
            result = self._once(cmd, label, env)
            if result.ok or not check:
                return result
            output = result.stdout + "\n" + result.stderr
            if result.timed_out:
                raise HelpError(
                    f"{label} did not finish within {self.timeout:.0f}s and was stopped",
                    "raise install.timeout, or run with -v to see where it hangs; nothing was changed",
                )
            if network_failure(output):
                if attempt < len(delays):
                    console.warn(f"{label}: the package index did not answer; retrying in {delays[attempt]:.1f}s")
                    self.sleep(delays[attempt])
                    attempt += 1
                    continue
                last = _tail(output)
                raise NetworkError(
                    f"{label}: could not reach the package index after {attempt + 1} attempts ({last})",
                    "check the network or the index URL (PIP_INDEX_URL, UV_INDEX_URL, the project's sources); nothing was changed",
                )
            if re.search(STALE_PATTERNS, output, re.IGNORECASE):
                raise StaleLock(
                    f"{label}: the lock file is out of date with pyproject.toml",
                    "help.py never re-resolves on its own: run `help.py install --lock` to update the lock, then install",
                )
            missing = unknown_package(output)
            if missing:
                raise UnknownPackage(
                    f"package {missing!r} was not found on the package index",
                    "check the name and version (and the index the project uses); nothing was changed",
                )
            if re.search(UNRESOLVABLE_PATTERNS, output, re.IGNORECASE):
                raise Unresolvable(
                    f"{label}: the requirements conflict: {_tail(output, conflict=True)}",
                    "nothing was changed; relax one of the versions (run with -v for the whole explanation)",
                )
            raise HelpError(
                f"`{' '.join(os.fspath(a) for a in cmd[:3])} ...` failed (exit {result.returncode}): {_tail(output)}",
                "run again with -v to see the tool's whole output; nothing was changed",
            )

    def _once(self, cmd: Sequence[str | os.PathLike[str]], label: str, env: Mapping[str, str] | None) -> proc.Result:
        import subprocess

        from helper import proc

        args = [os.fspath(a) for a in cmd]
        console.verbose("$ " + " ".join(args))
        started = time.monotonic()
        merged = {**self.extra_env, **(env or {})}
        child = proc.spawn(
            args, cwd=self.cwd, extra_env=merged or None, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        if self.on_spawn is not None:
            self.on_spawn(child.pid)
        lines: list[str] = []
        timer = None
        timed_out = False
        try:
            with console.progress(label) as bar:
                import threading

                def expire() -> None:
                    nonlocal timed_out
                    timed_out = True
                    proc.stop(child, 5.0)

                timer = threading.Timer(self.timeout, expire)
                timer.daemon = True
                timer.start()
                assert child.stdout is not None
                for raw in child.stdout:
                    line = raw.rstrip("\n")
                    lines.append(line)
                    self.log.append(line)
                    if line.strip():
                        bar.update(note=line.strip()[:80])
                    if console.verbosity >= 1:
                        print("  " + line, file=sys.stderr, flush=True)
                child.wait()
        except BaseException:
            proc.stop(child, 5.0)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        return proc.Result(args, child.returncode, "\n".join(lines), "", time.monotonic() - started, timed_out)


def _tail(output: str, conflict: bool = False) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    wanted = r"because .*depend|depends on|requires|\(from " if conflict else r"error|because|failed|not found|conflict"
    errors = [
        line
        for line in lines
        if re.search(wanted, line, re.I) and not line.lower().startswith("hint") and not line.endswith(":")
    ]
    picked = (errors or lines)[-3 if conflict else -2 :]
    return " | ".join(picked)[:400] or "no output"


def parse_requirement(text: str) -> Requirement:
    """A PEP 508 requirement from the command line, or a UsageError saying what is wrong."""
    from helper.errors import UsageError
    from helper.managers.envcheck import Requirement

    try:
        return Requirement(text)
    except ValueError as exc:
        raise UsageError(
            f"not a valid requirement: {text!r} ({exc})", "write it like `name`, `name>=1.2` or `name[extra]==1.0`"
        ) from None


class Manager:
    """Base of every package manager. Subclasses set `name` and override the operations."""

    name = "base"
    tool: str | None = None  # binary the manager needs, if any
    install_hint = ""
    lock_file: str | None = None  # its lock file, if it has one
    lock_check: tuple[str, ...] = ()  # arguments after the tool that check the lock against the manifest
    sync_command = "help.py install"  # what a person runs to sync the environment

    def __init__(self, project: Any) -> None:
        self.project = project
        self.root: Path = project.root

    # -- files and environment ------------------------------------------------
    def manifest_files(self) -> list[Path]:
        """Files an edit may change, backed up before and fingerprinted after (existing or not)."""
        return [self.root / "pyproject.toml"]

    def listed_dirs(self) -> list[Path]:
        """Directories whose listing decides which manifest files there are (a new file there counts)."""
        return []

    def env_dir(self) -> Path:
        return self.root / str(self.project.config.get("install.venv") or ".venv")

    def python(self) -> Path:
        from helper.envs.layout import venv_python

        return venv_python(self.env_dir())

    def site_packages(self) -> Path | None:
        from helper.envs.layout import site_packages

        return next(iter(site_packages(self.env_dir())), None)

    def installed(self) -> dict[str, str]:
        """{canonical name: version} read from the metadata directories, without a subprocess."""
        from helper.envs.layout import installed_versions

        return installed_versions(self.env_dir())

    def exe(self) -> str:
        if self.tool is None:
            raise HelpError(f"{self.name} needs no tool")
        from helper import proc

        found = proc.which(self.tool)
        if not found:
            raise HelpError(f"this project uses {self.name}, but `{self.tool}` is not installed", self.install_hint)
        return found

    # -- making environments (env create / env repair) --------------------------
    def create_commands(self, tool: str, base: str, version: str | None, prefix: Path) -> list[list[str]]:
        """The commands that make an empty environment at `prefix` from `base` (default: venv)."""
        return [[base, "-m", "venv", str(prefix)]]

    def rebuild_commands(self, tool: str, base: str, prefix: Path) -> list[list[str]] | None:
        """The commands that remake the environment from the lock on `base`; None: no lock-driven rebuild."""
        return None

    # -- the protocol -----------------------------------------------------------
    def sync(self, runner: Runner) -> None:
        raise NotImplementedError

    def add(self, runner: Runner, requirements: list[Requirement], target: Target) -> None:
        raise NotImplementedError

    def remove(self, runner: Runner, names: list[str], target: Target) -> None:
        raise NotImplementedError

    def upgrade(self, runner: Runner, names: list[str]) -> None:
        raise NotImplementedError

    def lock(self, runner: Runner) -> None:
        raise NotImplementedError

    def outdated(self, runner: Runner) -> list[dict[str, str]]:
        raise NotImplementedError

    def restore_env(self, runner: Runner, before: dict[str, str]) -> None:
        """After the files were rolled back: bring the environment back (default: sync again)."""
        self.sync(runner)

    def declared(self) -> list[str]:
        """Canonical names of the requirements the manifest declares (for `uninstall` checks)."""
        return sorted({key for key, _target in self.declarations()})

    def declarations(self) -> list[tuple[str, Target]]:
        """(canonical name, where it is declared) for every requirement in pyproject.toml."""
        data = fresh_pyproject(self.root)
        found: list[tuple[str, Target]] = []
        project = data.get("project", {}) or {}
        found += [(_req_key(t), Target()) for t in project.get("dependencies", []) or []]
        for extra, reqs in (project.get("optional-dependencies", {}) or {}).items():
            found += [(_req_key(t), Target(optional=extra)) for t in reqs]
        for group, reqs in (data.get("dependency-groups", {}) or {}).items():
            target = Target(dev=True) if group == "dev" else Target(group=group)
            found += [(_req_key(t), target) for t in reqs if isinstance(t, str)]
        tool = data.get("tool", {}) or {}
        poetry = tool.get("poetry", {}) or {}
        found += [(_canon(n), Target()) for n in poetry.get("dependencies", {}) or {} if n.lower() != "python"]
        found += [(_canon(n), Target(dev=True)) for n in poetry.get("dev-dependencies", {}) or {}]
        for group, table in (poetry.get("group", {}) or {}).items():
            target = Target(dev=True) if group == "dev" else Target(group=group)
            found += [(_canon(n), target) for n in (table or {}).get("dependencies", {}) or {}]
        for group, reqs in ((tool.get("pdm", {}) or {}).get("dev-dependencies", {}) or {}).items():
            target = Target(dev=True) if group == "dev" else Target(group=group)
            found += [(_req_key(t), target) for t in reqs if isinstance(t, str)]
        return [(key, target) for key, target in found if key]

    def locate(self, name: str) -> Target | None:
        """Where `name` is declared (the first place), or None."""
        from helper.names import canonical

        key = canonical(name)
        return next((target for found, target in self.declarations() if found == key), None)


def _canon(name: str) -> str:
    from helper.names import canonical

    return canonical(name)


def _req_key(text: str) -> str:
    from helper.managers.envcheck import Requirement

    try:
        return Requirement(text).key
    except ValueError:
        return ""


def fresh_pyproject(root: Path) -> dict[str, Any]:
    """pyproject.toml parsed now (the project's cached parse is stale after an edit)."""
    import tomllib

    path = root / "pyproject.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def base_python() -> str:
    """The interpreter new environments are made from: help.py's own, or its base when it runs in a venv."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return base if os.path.exists(base) else sys.executable
