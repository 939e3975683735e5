"""The Python API (Policy, Result, run with streamed output), `sandbox run --json`, the journal, `sandbox check`."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import pytest

from helper.errors import HelpError
from tests.conftest import run_help
from tests.sandbox.conftest import BACKENDS, PACKAGES, PYTHON, need_tool, sandbox_api


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "none"])
def test_run_streams_lines_and_fills_the_result(tmp_path: Path, backend: str) -> None:
    need_tool(backend, PACKAGES[backend])
    sandbox = sandbox_api()
    seen: list[tuple[str, str]] = []
    script = "import sys; print('one'); print('two', file=sys.stderr); print('three'); sys.exit(3)"
    result = sandbox.run(
        [PYTHON, "-c", script],
        sandbox.Policy(workdir=tmp_path),
        backend=backend,
        on_output=lambda s, line: seen.append((s, line)),
    )
    assert [line for s, line in seen if s == "stdout"] == ["one", "three"]
    assert ("stderr", "two") in seen
    assert result.exit_code == 3 and result.signal is None and result.limit_hit is None
    assert result.stdout == "one\nthree\n" and "two" in result.stderr
    assert result.duration > 0 and result.peak_memory > 1024 * 1024 and result.backend == backend
    data = result.to_dict()
    assert {"exit_code", "signal", "limit_hit", "duration", "peak_memory", "stdout", "stderr", "violations"} <= set(
        data
    )


def test_no_shell_is_involved(tmp_path: Path) -> None:
    need_tool("bwrap", PACKAGES["bwrap"])
    sandbox = sandbox_api()
    result = sandbox.run(["/bin/echo", "$HOME; true"], sandbox.Policy(workdir=tmp_path), backend="bwrap")
    assert result.stdout == "$HOME; true\n"


def test_unknown_or_missing_backend_refuses_with_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = sandbox_api()
    monkeypatch.setenv("PATH", str(tmp_path))  # no backend on PATH
    with pytest.raises(HelpError) as caught:
        sandbox.run(["true"], sandbox.Policy(workdir=tmp_path))
    assert "no sandbox backend can enforce the policy" in str(caught.value.args[0])
    assert "--unsafe-no-sandbox" in caught.value.hint


def test_seccomp_program_is_well_formed() -> None:
    from plugins.sandbox import seccomp

    program = seccomp.program()
    assert len(program) % 8 == 0 and len(program) // 8 < 4096
    first = struct.unpack("<HBBI", program[:8])
    assert first == (0x20, 0, 0, 4)  # load the architecture first
    numbers = {struct.unpack("<HBBI", program[i : i + 8])[3] for i in range(0, len(program), 8)}
    assert {165, 101, 250, 321, 272, 308, 246, 320, 175, 313, 176, 155, 167, 168, 169, 298, 323, 304} <= numbers


def test_cli_json_result_and_journal_record(make_project) -> None:
    need_tool("bwrap", PACKAGES["bwrap"])
    root = make_project()
    result = run_help("sandbox", "run", "--json", "--cpu", "1", "--", PYTHON, "-c", "while True: pass", cwd=root)
    data = json.loads(result.stdout)
    assert data["limit_hit"] == "cpu" and data["signal"] in ("SIGXCPU", "SIGKILL") and result.returncode != 0
    assert data["violations"] == ["limit: cpu"]
    db = sqlite3.connect(root / ".help" / "journal.sqlite")
    rows = db.execute("SELECT argv, error, details FROM runs WHERE details LIKE '%sandbox%'").fetchall()
    assert rows, "the limit hit was not recorded"
    argv, error, details = rows[-1]
    assert "while True: pass" in argv and error == "limit: cpu"
    assert json.loads(details)["sandbox"]["limit_hit"] == "cpu"


def test_cli_exit_code_output_and_unsafe_flag(make_project) -> None:
    need_tool("bwrap", PACKAGES["bwrap"])
    root = make_project()
    result = run_help("sandbox", "run", "--", "sh", "-c", "echo out; echo err >&2; exit 5", cwd=root)
    assert (result.returncode, result.stdout, result.stderr.strip()) == (5, "out\n", "err")
    unsafe = run_help(
        "sandbox", "run", "--unsafe-no-sandbox", "--", "sh", "-c", "ls /root >/dev/null && echo seen", cwd=root
    )
    assert unsafe.stdout == "seen\n" and "WITHOUT a sandbox" in unsafe.stderr


def test_check_reports_what_each_backend_enforces(make_project) -> None:
    need_tool("bwrap", PACKAGES["bwrap"])
    root = make_project()
    result = run_help("sandbox", "check", "--json", "--backend", "bwrap", cwd=root)
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["default"] == "bwrap"
    (row,) = data["backends"]
    assert row["works"] and "seccomp filter" in row["enforced"] and "no network" in row["enforced"]
    assert row["missing"] == []


def test_firejail_guard_refuses_an_unisolated_start(tmp_path: Path) -> None:
    # firejail inside a container runs the command unsandboxed; the guard shell it starts first notices
    import subprocess

    from plugins.sandbox import backends

    unisolated = subprocess.run(backends._cd(str(tmp_path), ["echo", "ran"]), capture_output=True, text=True)
    assert (
        unisolated.returncode == 126 and backends.NOT_ISOLATED in unisolated.stderr and "ran" not in unisolated.stdout
    )


@pytest.mark.parametrize("engine_profile", [True, False])
def test_podman_seccomp_profile_denies_with_or_without_the_engine_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine_profile: bool
) -> None:
    need_tool("podman", PACKAGES["podman"])
    from plugins.sandbox import backends

    if not engine_profile:
        monkeypatch.setattr(backends, "ENGINE_PROFILE", str(tmp_path / "missing.json"))
    sandbox = sandbox_api()
    probe = (
        "import ctypes, os\nc = ctypes.CDLL(None)\npid = os.fork()\nif pid == 0: os._exit(0)\n"
        "os.waitpid(pid, 0)\nprint(c.unshare(0x10000000), c.mount(b'n', b'/tmp', b'tmpfs', 0, None), pid > 0)"
    )
    result = sandbox.run([PYTHON, "-c", probe], sandbox.Policy(workdir=tmp_path), backend="podman")
    assert result.stdout.split() == ["-1", "-1", "True"], result.stderr


def test_cli_double_runs_bwrap_inside_podman(make_project) -> None:
    need_tool("podman", PACKAGES["podman"])
    need_tool("bwrap", PACKAGES["bwrap"])
    root = make_project()
    probe = "grep -E '^(Seccomp_filters|NoNewPrivs):' /proc/self/status; id -u"
    result = run_help("sandbox", "run", "--double", "--json", "--", "sh", "-c", probe, cwd=root)
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["backend"] == "podman+bwrap", result.stderr
    assert "Seccomp_filters:\t2" in data["stdout"] and "NoNewPrivs:\t1" in data["stdout"]
    assert data["stdout"].split()[-1] == "65534"
    both = run_help("sandbox", "run", "--double", "--backend", "bwrap", "--", "true", cwd=root)
    assert both.returncode == 2 and "--double chooses the backends itself" in both.stderr
