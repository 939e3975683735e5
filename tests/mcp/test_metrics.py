"""`help.py metrics`: parsed by prometheus_client's own parser (in a venv of its own), to stdout, file, HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HELP, clean_env, run_help
from tests.mcp.conftest import _venv

PARSE = """
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {"type": family.type, "samples": [[s.name, s.labels, s.value] for s in family.samples]}
print(json.dumps(out))
"""


@pytest.fixture(scope="session")
def parse() -> Callable[[str], dict[str, Any]]:
    python = _venv("prometheus_client>=0.20")

    def run(text: str) -> dict[str, Any]:
        done = subprocess.run([str(python), "-c", PARSE], input=text, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    return run


def test_metrics_parse_with_the_real_parser(sample: Path, parse: Callable[[str], dict[str, Any]]) -> None:
    assert run_help("test", cwd=sample).returncode == 0
    done = run_help("metrics", cwd=sample)
    assert done.returncode == 0, done.stderr
    families = parse(done.stdout)
    assert all(f["type"] in ("gauge", "counter") for f in families.values()), families  # no stray samples
    assert families["helpy_tests"]["samples"] == [["helpy_tests", {"outcome": "passed"}, 1.0]]
    runs = {(s[1]["command"], s[1]["result"]): s[2] for s in families["helpy_runs"]["samples"]}
    assert families["helpy_runs"]["type"] == "counter" and runs[("test", "ok")] >= 1
    last = {s[1]["command"]: s[2] for s in families["helpy_last_run_exit_code"]["samples"]}
    assert last["test"] == 0
    assert families["helpy_env_healthy"]["samples"][0][2] == 1.0
    for name in ("helpy_cache_hits", "helpy_cache_bytes", "helpy_cache_hit_ratio", "helpy_tests_duration_seconds"):
        assert name in families


def test_textfile_and_serve(sample: Path, parse: Callable[[str], dict[str, Any]]) -> None:
    target = sample / "out" / "helpy.prom"
    target.parent.mkdir()
    assert run_help("metrics", "--textfile", str(target), cwd=sample).returncode == 0
    assert "helpy_project_info" in parse(target.read_text())
    proc = subprocess.Popen(
        [sys.executable, str(HELP), "metrics", "--serve", "127.0.0.1:0"],
        cwd=sample,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert "helpy_env_healthy" in parse(response.read().decode())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_shipped_dashboard_and_alerts_name_only_metrics_help_py_exports(sample: Path) -> None:
    import re

    assert run_help("test", cwd=sample).returncode == 0
    done = run_help("metrics", cwd=sample)
    assert done.returncode == 0, done.stderr
    exported = {line.split()[2] for line in done.stdout.splitlines() if line.startswith("# TYPE helpy_")}
    config = Path(HELP).parent / "config"
    dashboard = json.loads((config / "grafana" / "helpy-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += re.findall(r"expr:\s*(.+)", (config / "prometheus" / "helpy-alerts.yml").read_text())
    named = {name for expr in exprs for name in re.findall(r"\bhelpy_[a-z_]+", expr)}
    assert named and named <= exported, sorted(named - exported)
