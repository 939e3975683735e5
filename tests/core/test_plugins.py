"""Plugins: listing, unavailable plugins' one-line error, the real sandbox plugin."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from helper.errors import MissingDependency
from helper.plugins import Plugin, require, status
from tests.conftest import need_tool, run_help


def test_plugins_lists_each_with_its_state(make_project) -> None:
    root = make_project()
    result = run_help("plugins", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["sandbox"]["commands"] == ["sandbox"]
    assert "bubblewrap" in (plugins["sandbox"]["install_hint"] or "bubblewrap")


def test_missing_requirements_give_one_line_with_the_fix() -> None:
    plugin = Plugin(
        "ghost", "needs things", {}, modules=("no_such_module_xyz",), install_hint="pip install 'help-py[ghost]'"
    )
    state = status(plugin)
    assert not state.available and "no_such_module_xyz" in state.reason
    with pytest.raises(MissingDependency) as info:
        require(plugin)
    assert info.value.hint == "pip install 'help-py[ghost]'"
    binary = Plugin(
        "bin", "needs a binary", {}, binaries=(("no-such-bin-1", "no-such-bin-2"),), install_hint="apt-get install x"
    )
    assert status(binary).reason == "needs no-such-bin-1 or no-such-bin-2 on PATH"


def test_a_disabled_plugin_command_fails_with_one_line(make_project) -> None:
    root = make_project(pyproject='[tool.help.plugins]\ndisabled = ["sandbox"]\n')
    result = run_help("sandbox", "check", cwd=root)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: plugin 'sandbox' is not available: disabled by plugins.disabled in the configuration",
        "hint: remove it from plugins.disabled",
    ]


def test_an_unavailable_plugin_command_says_what_to_install(make_project, tmp_path: Path) -> None:
    root = make_project()
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run_help("sandbox", "check", cwd=root, env={"PATH": str(empty)})  # no bwrap, no firejail
    assert result.returncode == 1
    assert "needs bwrap or firejail on PATH" in result.stderr
    assert "apt-get install bubblewrap" in result.stderr


@pytest.fixture
def listener() -> int:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    threading.Thread(target=lambda: [server.accept()[0].close() for _ in range(5)], daemon=True).start()
    return int(port)


PROBE = """
import pathlib, socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
    print("net: open")
except OSError:
    print("net: closed")
try:
    pathlib.Path("written.txt").write_text("x")
    print("project: writable")
except OSError:
    print("project: read-only")
pathlib.Path("/tmp/sandbox-probe").write_text("x")
print("tmp: ok")
pathlib.Path("out/result.txt").write_text("done")
print("rw: ok")
"""


def base_python() -> str:
    """The interpreter the test venv was made from: a venv under /tmp is hidden inside the sandbox."""
    import os
    import sys

    return os.path.realpath(os.path.join(sys.base_prefix, "bin", "python3"))


@pytest.mark.parametrize("backend", ["bwrap", "firejail"])
def test_sandbox_isolates_network_and_project(make_project, listener: int, backend: str) -> None:
    need_tool(backend, f"apt-get install {'bubblewrap' if backend == 'bwrap' else backend}")
    root = make_project(files={"probe.py": PROBE})
    (root / "out").mkdir()
    python = base_python()
    result = run_help(
        "sandbox", "run", "--backend", backend, "--rw", "out", "--", python, "probe.py", str(listener), cwd=root
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["net: closed", "project: read-only", "tmp: ok", "rw: ok"]
    assert not (root / "written.txt").exists()
    assert (root / "out/result.txt").read_text() == "done"
    opened = run_help(
        "sandbox",
        "run",
        "--backend",
        backend,
        "--net",
        "--rw",
        "out",
        "--",
        python,
        "probe.py",
        str(listener),
        cwd=root,
    )
    assert opened.stdout.splitlines()[0] == "net: open"


def test_sandbox_timeout_and_exit_codes(make_project) -> None:
    need_tool("bwrap", "apt-get install bubblewrap")
    root = make_project()
    assert run_help("sandbox", "run", "--", "sh", "-c", "exit 7", cwd=root).returncode == 7
    result = run_help("sandbox", "run", "--timeout", "1", "--", "sleep", "30", cwd=root, timeout=30)
    assert result.returncode == 124 and "stopped after 1s" in result.stderr
    result = run_help("sandbox", "run", cwd=root)
    assert result.returncode == 2 and "no command" in result.stderr
