"""`help.py completion`: the script, sourced by a real bash, completes commands, actions and options."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helper.cli import COMMANDS
from tests.conftest import need_tool, run_help


def complete(script: Path, *words: str, function: str = "_help_py_complete") -> list[str]:
    bash = need_tool("bash")
    line = " ".join(f"'{w}'" for w in words)
    program = (
        f"source {script}\ncomplete -p help.py\n"
        f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; {function}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run([bash, "--norc", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "complete -F _help_py_complete help.py"
    return lines[1:]


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "help.py.bash"
    done = run_help("completion", "bash", cwd=path.parent)
    assert done.returncode == 0, done.stderr
    path.write_text(done.stdout)
    return path


def test_commands_actions_and_options(script: Path) -> None:
    assert set(COMMANDS) <= set(complete(script, "help.py", ""))
    assert complete(script, "help.py", "en") == ["env"]
    assert {"check", "create", "repair", "--refresh"} <= set(complete(script, "help.py", "env", ""))
    assert {"config", "tools", "--http"} <= set(complete(script, "help.py", "--json", "mcp", ""))
    assert complete(script, "help.py", "hooks", "install", "--ho") == ["--hook"]
    assert complete(script, "python", "help.py", "mcp", "c", function="_help_py_python") == ["config"]


def test_zsh_script_uses_bashcompinit(tmp_path: Path) -> None:
    done = run_help("completion", "zsh", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("#compdef help.py")
    assert "bashcompinit" in done.stdout and "_help_py_complete" in done.stdout
