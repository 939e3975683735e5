"""`help.py ci github`: the workflow parses as YAML (PyYAML, in a venv of its own) with the jobs it promises."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import run_help
from tests.mcp.conftest import _venv

LOAD = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1])), default=str))"


def load(path: Path) -> dict[str, Any]:
    python = _venv("pyyaml>=6")
    done = subprocess.run([str(python), "-c", LOAD, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_github_workflow_shards_caches_and_checks_nightly(sample: Path) -> None:
    done = run_help("ci", "github", "--shards", "3", "--write", cwd=sample)
    assert done.returncode == 0, done.stderr
    path = sample / ".github" / "workflows" / "help.yml"
    flow = load(path)
    triggers = flow.get("on") or flow["true"]  # YAML 1.1 reads a bare `on` as true (a "true" key in JSON)
    assert "schedule" in triggers and "pull_request" in triggers
    test = flow["jobs"]["test"]
    assert test["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert test["env"]["HELP_CACHE__REMOTE"] == "${{ secrets.HELP_CACHE_REMOTE }}"
    runs = [step.get("run", "") for step in test["steps"]]
    assert "python help.py test --shard ${{ matrix.shard }}/3 --junit junit-${{ matrix.shard }}.xml" in runs
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in test["steps"])
    nightly = [step.get("run") for step in flow["jobs"]["health"]["steps"]]
    assert "python help.py env check" in nightly and "python help.py doctor" in nightly


def test_an_existing_different_workflow_needs_force(sample: Path) -> None:
    path = sample / ".github" / "workflows" / "help.yml"
    path.parent.mkdir(parents=True)
    path.write_text("name: mine\n")
    refused = run_help("ci", "github", "--write", cwd=sample)
    assert refused.returncode == 1 and "--force" in refused.stderr and path.read_text() == "name: mine\n"
    assert run_help("ci", "github", "--write", "--force", cwd=sample).returncode == 0
    assert path.read_text().startswith("# Made by `help.py ci github`")
