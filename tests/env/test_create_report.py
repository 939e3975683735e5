"""`env create`, `env report` and the doctor's environment checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import need_tool, run_help
from tests.env.conftest import PY, fake_venv, tool_env


def test_create_with_venv_and_python_version(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    created = run_help(
        "env", "create", "--manager", "venv", "--python", PY, "--json", cwd=project, env=tool_env(tmp_path), timeout=600
    )
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert data["chosen"]["prefix"] == str(project / ".venv") and data["chosen"]["version"].startswith(PY)
    again = run_help("env", "create", "--manager", "venv", cwd=project, env=tool_env(tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr and "--force" in again.stderr
    (project / ".venv/marker").write_text("old")
    forced = run_help("env", "create", "--manager", "uv", "--force", cwd=project, env=tool_env(tmp_path), timeout=600)
    if forced.returncode == 0:  # uv installed: the env was replaced, the old one is gone
        assert not (project / ".venv/marker").exists() and "uv = " in (project / ".venv/pyvenv.cfg").read_text()
    else:
        assert "`uv` is not installed" in forced.stderr and (project / ".venv/marker").exists()


def test_create_auto_picks_uv_for_a_uv_project(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    need_tool("uv", "pip install uv")
    project = make_project('[project]\nname = "p"\nversion = "0"\n\n[tool.uv]\npackage = false\n')
    created = run_help("env", "create", "--python", sys.executable, cwd=project, env=tool_env(tmp_path))
    assert created.returncode == 0, created.stderr
    assert "created the uv environment" in created.stdout
    shown = json.loads(run_help("env", "--json", cwd=project, env=tool_env(tmp_path)).stdout)
    assert shown["chosen"]["kind"] == "uv" and shown["chosen"]["manager"] == "uv"


def test_create_rejects_unknown_manager(make_project) -> None:  # type: ignore[no-untyped-def]
    shown = run_help("env", "create", "--manager", "nix", cwd=make_project())
    assert shown.returncode == 2 and "invalid choice" in shown.stderr


def test_report_writes_markdown_and_json_with_secrets_masked(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    fake_venv(project / ".venv")  # the project's environment: the report's chosen one
    secrets = {
        "PIP_INDEX_URL": "https://alice:s3cr3t-pw@pypi.example.com/simple",
        "UV_PUBLISH_TOKEN": "pypi-AgEIcHlwaS5vcmc",
        "POETRY_HTTP_BASIC_CORP_PASSWORD": "hunter2",
    }
    out = tmp_path / "out"
    made = run_help("env", "report", "--offline", "--output", str(out), cwd=project, env=secrets)
    assert made.returncode == 0, made.stderr
    md = (out / "env-report.md").read_text()
    js = json.loads((out / "env-report.json").read_text())
    for secret in ("s3cr3t-pw", "pypi-AgEIcHlwaS5vcmc", "hunter2"):
        assert secret not in md and secret not in json.dumps(js)
    assert js["variables"]["PIP_INDEX_URL"] == "https://****@pypi.example.com/simple"
    assert js["variables"]["UV_PUBLISH_TOKEN"] == "****"
    assert "## Chosen environment" in md and "## Health" in md and "## Environments found" in md
    assert js["chosen"]["executable"] and js["health"]["findings"]


def test_doctor_includes_environment_checks(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    shown = run_help("doctor", "--json", cwd=project, env=tool_env(tmp_path))
    names = {c["name"]: c for c in json.loads(shown.stdout)}
    assert names["env environment"]["status"] == "warn"  # no project env yet
    assert names["env environment"]["hint"] == "help.py env create"


def test_two_creates_at_once_make_one_env_and_one_clear_error(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import threading

    from tests.conftest import HELP, clean_env

    need_tool("uv", "pip install uv")
    project = make_project()
    results: list[subprocess.CompletedProcess[str]] = []

    def one() -> None:
        cmd = [sys.executable, str(HELP), "env", "create", "--manager", "uv", "--python", sys.executable]
        results.append(
            subprocess.run(
                cmd, cwd=project, env=clean_env(tool_env(tmp_path)), capture_output=True, text=True, timeout=300
            )
        )

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1], [r.stderr for r in results]
    loser = next(r for r in results if r.returncode == 1)
    assert "already exists" in loser.stderr and "Traceback" not in loser.stderr
    assert (project / ".venv/pyvenv.cfg").is_file()
