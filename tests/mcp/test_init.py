"""`help.py init`: the presets in config/presets/ give a valid project setup; nothing is overwritten unasked."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, need_tool, run_help
from tests.mcp.test_ci import load

FILES = {
    "config/help.toml",
    "config/env.template",
    ".pre-commit-config.yaml",
    ".vscode/tasks.json",
    ".github/workflows/help.yml",
}


@pytest.mark.parametrize("preset", ["library", "cli", "fastapi-service"])
def test_preset_makes_a_valid_setup(preset: str, sample: Path) -> None:
    done = run_help("--json", "init", "--preset", preset, cwd=sample)
    assert done.returncode == 0, done.stderr
    assert {r["path"]: r["action"] for r in json.loads(done.stdout)} == dict.fromkeys(FILES, "written")
    assert run_help("config", "check", cwd=sample).returncode == 0
    tasks = json.loads((sample / ".vscode" / "tasks.json").read_text())
    assert any(t["command"] == "python help.py test" for t in tasks["tasks"])
    pre_commit = need_tool("pre-commit", "pip install pre-commit (listed in .ci/pip.d/mcp.txt)")
    checked = subprocess.run(
        [pre_commit, "validate-config", ".pre-commit-config.yaml"], cwd=sample, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert load(sample / ".github" / "workflows" / "help.yml")["jobs"]["test"]
    again = json.loads(run_help("--json", "init", "--preset", preset, cwd=sample).stdout)
    assert {r["action"] for r in again} == {"unchanged"}


def test_fastapi_env_template_makes_a_dotenv(sample: Path) -> None:
    assert run_help("init", "--preset", "fastapi-service", cwd=sample).returncode == 0
    done = run_help("run", "env", cwd=sample)
    assert done.returncode == 0, done.stderr
    dotenv = (sample / ".env").read_text()
    assert re.search(r"^SECRET_KEY=\S{40,}$", dotenv, re.M) and "DATABASE_URL=sqlite:///./app_development.db" in dotenv


def test_existing_files_are_diffed_and_kept_without_force(sample: Path) -> None:
    mine = sample / "config" / "help.toml"
    mine.parent.mkdir()
    mine.write_text("[test]\npytest_args = ['-x']\n")
    dry = run_help("init", "--dry-run", cwd=sample)
    assert dry.returncode == 0 and "-pytest_args = ['-x']" in dry.stdout and "+pytest_args" in dry.stdout
    assert not (sample / ".vscode").exists()  # a dry run writes nothing
    kept = json.loads(run_help("--json", "init", cwd=sample).stdout)
    assert {r["path"]: r["action"] for r in kept}["config/help.toml"].startswith("kept")
    assert mine.read_text() == "[test]\npytest_args = ['-x']\n"
    assert run_help("init", "--force", cwd=sample).returncode == 0
    assert 'pytest_args = ["-q"]' in mine.read_text()
    assert run_help("init", "--preset", "nope", cwd=sample).returncode == 1


def test_hooks_manifest_and_alert_rules_are_valid() -> None:
    pre_commit = need_tool("pre-commit", "pip install pre-commit (listed in .ci/pip.d/mcp.txt)")
    checked = subprocess.run(
        [pre_commit, "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = load(ROOT / "config" / "prometheus" / "helpy-alerts.yml")["groups"][0]["rules"]
    names = {"helpy_env_healthy", "helpy_tests", "helpy_last_run_exit_code", "helpy_cache_hit_ratio"}
    assert names <= {m for r in rules for m in re.findall(r"helpy_[a-z_]+", r["expr"])}
