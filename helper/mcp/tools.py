"""The MCP tools: each one is a help.py command line, run as `help.py --json CMD ...`.

A tool call runs the very command a person would type, in a child process of
its own group (so cancelling it stops everything it started); the tool's
structured result is that command's `--json` document, unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

HELP_PY = Path(__file__).resolve().parents[2] / "help.py"


class Param(NamedTuple):
    name: str
    type: str  # boolean | string | integer | array (of strings)
    flag: str | None  # None: positional (after the command words)
    description: str
    enum: tuple[str, ...] = ()
    passthrough: bool = False  # goes after `--` (pytest's own options)


class ToolSpec(NamedTuple):
    name: str
    title: str
    command: tuple[str, ...]
    description: str
    params: tuple[Param, ...] = ()
    read_only: bool = True
    destructive: bool = False
    long: bool = False  # may take seconds: progress notifications, cancellable
    output: str = "object"  # the JSON type of the command's --json document
    plugin_command: str | None = None  # offered only while this plugin command exists


_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_ARRAY: dict[str, Any] = {"type": "array", "items": {"type": "object", "additionalProperties": True}}

SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "env",
        "Project environment",
        ("env",),
        "The Python environments found for the project and the one it uses, with the reason.",
        (Param("refresh", "boolean", "--refresh", "ignore the detection cache"),),
    ),
    ToolSpec(
        "env_check",
        "Check the environment",
        ("env", "check"),
        "Whether the project's environment is healthy; each problem with the command that fixes it.",
        (Param("offline", "boolean", "--offline", "skip checks that run the package manager"),),
        long=True,
    ),
    ToolSpec(
        "install",
        "Install packages",
        ("install",),
        "Make or sync the project's environment; with packages, add them to the project.",
        (
            Param("packages", "array", None, "requirements to add (empty: sync the environment)"),
            Param("upgrade", "boolean", "--upgrade", "upgrade the packages (or everything) and the lock"),
            Param("dev", "boolean", "--dev", "add to the dev dependencies"),
        ),
        read_only=False,
        destructive=True,
        long=True,
    ),
    ToolSpec(
        "test",
        "Run tests",
        ("test",),
        "Run the tests a change can break, reuse cached results for the rest; per-test results.",
        (
            Param("all", "boolean", "--all", "run every test"),
            Param("changed", "string", "--changed", "only tests affected by changes since this git ref"),
            Param("component", "string", "--component", "only the tests of one component"),
            Param("shard", "string", "--shard", "K/N: this shard of the tests"),
            Param("keyword", "string", "-k", "pytest -k expression", passthrough=True),
        ),
        read_only=False,
        long=True,
    ),
    ToolSpec(
        "test_explain",
        "Explain test selection",
        ("test", "--explain"),
        "Run the selected tests and say why each one ran or was taken from the cache.",
        (Param("changed", "string", "--changed", "only tests affected by changes since this git ref"),),
        read_only=False,
        long=True,
    ),
    ToolSpec(
        "build",
        "Build",
        ("build",),
        "Build the wheel and sdist (or an image), cached by source hash.",
        (
            Param("what", "string", None, "dist (default) or image", enum=("dist", "image")),
            Param("no_cache", "boolean", "--no-cache", "build even when the inputs are unchanged"),
        ),
        read_only=False,
        long=True,
    ),
    ToolSpec("run_status", "Dev environment status", ("run", "status"), "Whether the dev environment is running."),
    ToolSpec(
        "history",
        "Run history",
        ("history",),
        "Past help.py runs from the journal.",
        (
            Param("failed", "boolean", "--failed", "only failed or unfinished runs"),
            Param("command", "string", "--command", "only runs of this command"),
            Param("limit", "integer", "--limit", "how many runs (default 20)"),
        ),
        output="array",
    ),
    ToolSpec(
        "doctor",
        "Doctor",
        ("doctor",),
        "Health checks of help.py and the project, each failing one with its fix.",
        output="array",
        long=True,
    ),
    ToolSpec("config", "Configuration", ("config", "show"), "The merged configuration with sources (secrets masked)."),
    ToolSpec(
        "compose_ps",
        "Compose services",
        ("compose", "ps"),
        "The project's compose services and their health.",
        plugin_command="compose",
    ),
)


def available(specs: tuple[ToolSpec, ...] = SPECS) -> dict[str, ToolSpec]:
    """The tools this installation offers (a plugin's tool only while its plugin command exists)."""
    wanted = [s for s in specs if s.plugin_command]
    commands: set[str] = set()
    if wanted:
        try:
            from helper.plugins import command_index

            commands = set(command_index())
        except Exception:  # a broken plugin hides its tool, never the server
            commands = set()
    return {s.name: s for s in specs if not s.plugin_command or s.plugin_command in commands}


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for p in spec.params:
        prop: dict[str, Any] = {"type": p.type, "description": p.description}
        if p.type == "array":
            prop["items"] = {"type": "string"}
        if p.enum:
            prop["enum"] = list(p.enum)
        props[p.name] = prop
    return {"type": "object", "properties": props, "additionalProperties": False}


def output_schema(spec: ToolSpec, wrap_arrays: bool) -> dict[str, Any]:
    if spec.output == "array":
        if wrap_arrays:
            return {"type": "object", "properties": {"items": _ARRAY}, "required": ["items"]}
        return _ARRAY
    return _OBJECT


def describe(spec: ToolSpec, version: str, modern: bool) -> dict[str, Any]:
    """The tool's entry in tools/list for this protocol version."""
    cli = " ".join(("help.py", *spec.command, "--json"))
    tool: dict[str, Any] = {
        "name": spec.name,
        "description": f"{spec.description} Same as `{cli}`.",
        "inputSchema": input_schema(spec),
    }
    if modern or version >= "2025-06-18":
        tool["title"] = spec.title
        tool["outputSchema"] = output_schema(spec, wrap_arrays=not modern)
    if modern or version >= "2025-03-26":
        tool["annotations"] = {
            "title": spec.title,
            "readOnlyHint": spec.read_only,
            "destructiveHint": spec.destructive,
            "idempotentHint": spec.read_only,
            "openWorldHint": spec.name == "install",
        }
    return tool


class BadArguments(ValueError):
    """Arguments that do not fit the tool's input schema."""


_TYPES: dict[str, Callable[[Any], bool]] = {
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}


def argv(spec: ToolSpec, arguments: Any) -> list[str]:
    """The command line for a call, after checking the arguments against the schema."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise BadArguments("arguments must be an object")
    known = {p.name: p for p in spec.params}
    for key in arguments:
        if key not in known:
            raise BadArguments(f"unknown argument {key!r} for tool {spec.name!r} (known: {', '.join(known) or 'none'})")
    words: list[str] = list(spec.command)
    tail: list[str] = []
    for p in spec.params:
        if p.name not in arguments or arguments[p.name] is None:
            continue
        value = arguments[p.name]
        if not _TYPES[p.type](value):
            raise BadArguments(f"argument {p.name!r} must be of type {p.type}, got {type(value).__name__}")
        if p.enum and value not in p.enum:
            raise BadArguments(f"argument {p.name!r} must be one of {', '.join(p.enum)}")
        if isinstance(value, str) and value.startswith("-"):
            raise BadArguments(f"argument {p.name!r} must not start with '-'")
        if isinstance(value, list) and any(v.startswith("-") for v in value):
            raise BadArguments(f"argument {p.name!r}: items must not start with '-'")
        target = tail if p.passthrough else words
        if p.type == "boolean":
            if value and p.flag:
                target.append(p.flag)
        elif p.flag is None:
            target.extend(value if isinstance(value, list) else [str(value)])
        else:
            target.extend([p.flag, str(value)])
    return words + (["--", *tail] if tail else [])


class Outcome(NamedTuple):
    exit_code: int
    data: Any  # the parsed --json document, or None
    stdout: str
    stderr: str
    seconds: float
    cancelled: bool


class Call:
    """One running tool call: started, watched for progress, cancellable from another thread."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def cancel(self) -> None:
        self.cancelled.set()
        with self._lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            threading.Thread(target=interrupt, args=(proc,), daemon=True).start()

    def execute(
        self,
        root: Path,
        words: list[str],
        progress: Callable[[float, str], None] | None = None,
        timeout: float | None = None,
    ) -> Outcome:
        """Run `help.py --json WORDS...` in ROOT; `progress(n, message)` about every second while it runs."""
        from helper.proc import spawn, stop

        started = time.monotonic()
        # cwd is the root (no -C), so an answer help.py keeps for replay is replayed here as on the CLI
        cmd = [sys.executable, str(HELP_PY), "--json", *words]
        env = dict(os.environ, NO_COLOR="1")
        env.pop("HELP_PROJECT", None)
        with self._lock:
            if self.cancelled.is_set():
                return Outcome(130, None, "", "", 0.0, True)
            self.proc = proc = spawn(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out: list[str] = []
        err: list[str] = []
        readers = [
            threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
            threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True),
        ]
        for r in readers:
            r.start()
        step = 0
        # Wait on stdout's end, not with Popen.wait(timeout) (which polls in sleeps and costs ~50 ms a call).
        while True:
            readers[0].join(timeout=1.0)
            if not readers[0].is_alive() or proc.poll() is not None:
                break
            if timeout is not None and time.monotonic() - started > timeout:
                stop(proc, 2.0)
                break
            if progress is not None and not self.cancelled.is_set():
                step += 1
                last = next((line.strip() for line in reversed(err) if line.strip()), "")
                progress(step, last or f"{' '.join(words)}: {time.monotonic() - started:.0f}s")
        proc.wait()
        for r in readers:
            r.join(timeout=5)
        stdout, stderr = "".join(out), "".join(err)
        data = None
        if stdout.strip():
            try:
                data = json.loads(stdout)
            except json.JSONDecodeError:
                data = None
        code = proc.returncode if proc.returncode is not None else 1
        return Outcome(code, data, stdout, stderr, time.monotonic() - started, self.cancelled.is_set())


def interrupt(proc: subprocess.Popen[str], grace: float = 8.0) -> None:
    """Stop a command as Ctrl-C does (help.py then stops what it started, e.g. pytest); force it after `grace`."""
    import signal

    from helper.proc import signal_group, stop

    signal_group(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    stop(proc, 2.0)


def allow_interrupts() -> None:
    """Children must see SIGINT as Ctrl-C even where this server was started with it ignored (main thread only)."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _drain(stream: Any, into: list[str]) -> None:
    for line in stream:
        into.append(line)
    stream.close()


def result(spec: ToolSpec, outcome: Outcome, wrap_arrays: bool) -> dict[str, Any]:
    """The CallToolResult for a finished command."""
    failed = outcome.exit_code != 0
    if outcome.data is None:
        text = (outcome.stderr.strip() or outcome.stdout.strip() or f"exit code {outcome.exit_code}")[-4000:]
        return {"content": [{"type": "text", "text": text}], "isError": True}
    structured = outcome.data
    if wrap_arrays and isinstance(structured, list):
        structured = {"items": structured}
    elif not isinstance(structured, (dict, list)) or (wrap_arrays and not isinstance(structured, dict)):
        structured = {"value": structured}
    body: dict[str, Any] = {
        "content": [{"type": "text", "text": json.dumps(outcome.data, default=str)}],
        "structuredContent": structured,
        "isError": failed,
    }
    if failed and outcome.stderr.strip():
        body["content"].append({"type": "text", "text": outcome.stderr.strip()[-4000:]})
    return body
