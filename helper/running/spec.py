"""What to run: process specs from `[tool.help.run.processes]` or a Procfile, validated.

Each entry's shape is checked here (the schema only knows it is a table) and
every error names the file and line of the offending key.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from helper.errors import ConfigError
from helper.records import Factory, Record

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

RESTART_POLICIES = ("on-failure", "always", "no")
FIELDS = ("command", "env", "cwd", "depends_on", "ready", "restart", "reload", "grace")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHELL_CHARS = re.compile(r"[$|&;<>()`*?~\n]")


class Ready(Record):
    """How to tell a process is ready: a port accepts, a URL answers 200, or a log line appears."""

    kind: str  # port | http | log
    target: str | int
    timeout: float | None = None

    def describe(self) -> str:
        return {
            "port": f"port {self.target} open",
            "http": f"HTTP 200 from {self.target}",
            "log": f"log line /{self.target}/",
        }[self.kind]


class ProcessSpec(Record):
    name: str
    command: list[str]
    env: dict[str, str] = Factory(dict)
    cwd: Path | None = None
    depends_on: list[str] = Factory(list)
    ready: Ready | None = None
    restart: str = "on-failure"
    reload: bool = False
    grace: float | None = None
    oneshot: bool = False  # a step that must finish (exit 0) before dependents start
    requires: tuple[str, ...] = ()  # modules the command imports (detected commands), checked before start

    @property
    def display(self) -> str:
        if self.command[:2] == ["/bin/sh", "-c"]:
            return self.command[2]
        return shlex.join(self.command)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": self.display,
            "cwd": str(self.cwd) if self.cwd else None,
            "depends_on": self.depends_on,
            "ready": self.ready.describe() if self.ready else None,
            "restart": self.restart,
            "reload": self.reload,
        }


def split_command(command: str) -> list[str]:
    """A command string -> argv; anything using shell syntax runs under /bin/sh."""
    if _SHELL_CHARS.search(command):
        return ["/bin/sh", "-c", command]
    try:
        return shlex.split(command)
    except ValueError:
        return ["/bin/sh", "-c", command]


class _Locator:
    """file:line of `run.processes.<name>.<field>` in whichever file set the table."""

    def __init__(self, source: str | None) -> None:
        self.path: Path | None = None
        self.prefix: list[str] = []
        self.text = ""
        if source and source not in ("default",) and not source.startswith("environment"):
            path = Path(source.rsplit(":", 1)[0])
            if path.is_file():
                self.path = path
                self.text = path.read_text(encoding="utf-8")
                self.prefix = (
                    ["tool", "help", "run", "processes"] if path.name == "pyproject.toml" else ["run", "processes"]
                )

    def __call__(self, *parts: str) -> str | None:
        if self.path is None:
            return None
        from helper.project import key_line

        for depth in range(len(parts), -1, -1):
            line = key_line(self.text, self.prefix + list(parts[:depth]))
            if line:
                return f"{self.path}:{line}"
        return f"{self.path}:1"


def from_config(table: dict[str, Any], root: Path, source: str | None) -> list[ProcessSpec]:
    """Validate `run.processes` entries into specs; errors point at file:line."""
    where = _Locator(source)
    specs = []
    for name, entry in table.items():
        key = f"run.processes.{name}"
        if not _NAME.match(name):
            raise ConfigError(
                f"{key}: a process name uses letters, digits, '-', '_' or '.'", "rename it", where=where(name)
            )
        if isinstance(entry, (str, list)):
            entry = {"command": entry}
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{key}: expected a table, a command string or a list, got {entry!r}",
                'write web = { command = "..." }',
                where=where(name),
            )
        unknown = [f for f in entry if f not in FIELDS]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], FIELDS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(FIELDS)}"
            raise ConfigError(f"{key}: unknown field {unknown[0]!r}", hint, where=where(name, unknown[0]))
        specs.append(_entry(name, entry, root, key, lambda *p, n=name: where(n, *p)))
    check_graph(specs, lambda name, *p: where(name, *p))
    return specs


def _entry(name: str, entry: dict[str, Any], root: Path, key: str, where: Any) -> ProcessSpec:
    command = entry.get("command")
    if isinstance(command, str) and command.strip():
        argv = split_command(command)
    elif isinstance(command, list) and command and all(isinstance(c, str) for c in command):
        argv = list(command)
    else:
        raise ConfigError(
            f"{key}.command: expected a command string or a list of strings",
            'command = "uvicorn app:app"',
            where=where("command"),
        )
    env = entry.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, (str, int, float, bool)) for v in env.values()):
        raise ConfigError(
            f"{key}.env: expected a table of NAME = value", 'env = { LOG_LEVEL = "debug" }', where=where("env")
        )
    cwd = entry.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not (root / cwd).is_dir()):
        raise ConfigError(
            f"{key}.cwd: {cwd!r} is not a directory of the project",
            "give a path relative to the project root",
            where=where("cwd"),
        )
    depends = entry.get("depends_on", [])
    if isinstance(depends, str):
        depends = [depends]
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise ConfigError(
            f"{key}.depends_on: expected a list of process names", 'depends_on = ["db"]', where=where("depends_on")
        )
    restart = entry.get("restart", "on-failure")
    if restart is False:
        restart = "no"
    if restart not in RESTART_POLICIES:
        raise ConfigError(
            f"{key}.restart: expected one of {', '.join(RESTART_POLICIES)}, got {restart!r}",
            'restart = "on-failure"',
            where=where("restart"),
        )
    reload = entry.get("reload", False)
    if not isinstance(reload, bool):
        raise ConfigError(
            f"{key}.reload: expected true or false",
            "reload = true restarts it when a project file changes",
            where=where("reload"),
        )
    grace = entry.get("grace")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0):
        raise ConfigError(f"{key}.grace: expected seconds (a number >= 0)", "grace = 5", where=where("grace"))
    return ProcessSpec(
        name=name,
        command=argv,
        env={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in env.items()},
        cwd=root / cwd if cwd else None,
        depends_on=depends,
        ready=parse_ready(entry.get("ready"), key, where),
        restart=restart,
        reload=reload,
        grace=float(grace) if grace is not None else None,
    )


def parse_ready(value: Any, key: str, where: Any) -> Ready | None:
    if value is None:
        return None
    hint = 'ready = { port = 8000 }, { http = "http://127.0.0.1:8000/health" } or { log = "started" }'
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"port": value}
    elif isinstance(value, str):
        value = {"http": value} if value.startswith(("http://", "https://")) else {"log": value}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}.ready: expected a table", hint, where=where("ready"))
    kinds = [k for k in ("port", "http", "log") if k in value]
    extra = [k for k in value if k not in ("port", "http", "log", "timeout")]
    if len(kinds) != 1 or extra:
        raise ConfigError(
            f"{key}.ready: give exactly one of port, http or log (and optionally timeout)", hint, where=where("ready")
        )
    kind = kinds[0]
    target = value[kind]
    if kind == "port" and not (isinstance(target, int) and not isinstance(target, bool) and 0 < target < 65536):
        raise ConfigError(f"{key}.ready.port: expected a port number", hint, where=where("ready"))
    if kind == "http" and not (isinstance(target, str) and target.startswith(("http://", "https://"))):
        raise ConfigError(f"{key}.ready.http: expected an http:// URL", hint, where=where("ready"))
    if kind == "log":
        if not isinstance(target, str) or not target:
            raise ConfigError(f"{key}.ready.log: expected a regular expression", hint, where=where("ready"))
        try:
            re.compile(target)
        except re.error as exc:
            raise ConfigError(
                f"{key}.ready.log: invalid regular expression: {exc}",
                "escape special characters with \\",
                where=where("ready"),
            ) from None
    timeout = value.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError(f"{key}.ready.timeout: expected seconds (> 0)", hint, where=where("ready"))
    return Ready(kind, target, float(timeout) if timeout is not None else None)


def check_graph(specs: list[ProcessSpec], where: Any) -> None:
    """Every depends_on names a process, and there is no cycle."""
    names = {s.name for s in specs}
    for spec in specs:
        for dep in spec.depends_on:
            if dep not in names:
                raise ConfigError(
                    f"run.processes.{spec.name}.depends_on: no process named {dep!r}",
                    f"known processes: {', '.join(sorted(names))}",
                    where=where(spec.name, "depends_on"),
                )
    start_order(specs, where)


def start_order(specs: list[ProcessSpec], where: Any = None) -> list[ProcessSpec]:
    """Dependencies before dependents (a stable topological sort); a cycle is an error."""
    by_name = {s.name: s for s in specs}
    order: list[ProcessSpec] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise ConfigError(
                f"run.processes: depends_on forms a cycle: {cycle}",
                "remove one of the dependencies",
                where=where(name, "depends_on") if where else None,
            )
        state[name] = 1
        for dep in by_name[name].depends_on:
            visit(dep, [*path, name])
        state[name] = 2
        order.append(by_name[name])

    for spec in specs:
        visit(spec.name, [])
    return order


def from_procfile(path: Path) -> list[ProcessSpec]:
    """`name: command` lines (honcho/foreman format); a bad line names file:line."""
    specs: list[ProcessSpec] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, command = stripped.partition(":")
        name = name.strip()
        if not sep or not _NAME.match(name) or not command.strip():
            raise ConfigError(
                f"not a `name: command` line: {stripped[:40]!r}",
                "write each process as  web: uvicorn app:app",
                where=f"{path}:{number}",
            )
        if name in seen:
            raise ConfigError(
                f"process {name!r} is defined twice", "give each process its own name", where=f"{path}:{number}"
            )
        seen.add(name)
        specs.append(ProcessSpec(name=name, command=split_command(command.strip())))
    if not specs:
        raise ConfigError(f"{path.name} lists no process", "add a line such as  web: uvicorn app:app", where=str(path))
    return specs
