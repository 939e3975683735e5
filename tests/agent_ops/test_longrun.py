"""A worker left running: old finished tasks archived, its log rotated, its health in `doctor`, counters in `metrics`."""

from __future__ import annotations

import json
import re
import socket

from plugins.agent import archive
from tests.agent.conftest import git
from tests.agent_ops.conftest import db, enqueue, make_repo, wait_for
from tests.conftest import run_help

SAMPLE = re.compile(r"^(\w+)(?:\{([^}]*)\})? (\S+)$")


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The Prometheus text format's samples: (name, labels) -> value."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        found = SAMPLE.match(line)
        assert found, line
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', found[2] or ""))
        samples[(found[1], labels)] = float(found[3])
    return samples


def test_a_long_running_worker_archives_rotates_and_reports_its_health(tmp_path, model, workers):
    repo = make_repo(
        tmp_path / "repo", model.url, archive_days=1e-5, housekeeping=0.5, log_max_bytes=4096
    )  # archived ~1 s after finishing
    ids = enqueue(repo, [f"make add add ({n})" for n in range(8)])
    worker = workers(repo)

    def archived() -> bool:
        with db(repo) as con:
            return con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0 and len(archive.read(repo)) == 8

    wait_for(archived, 60, "8 tasks archived")

    with db(repo) as con:
        left = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("tasks", "events", "queue")}
    assert left == {"tasks": 0, "events": 0, "queue": 0}  # the database keeps only what is not archived
    records = {r["task"]["id"]: r for r in archive.read(repo)}
    assert set(records) == set(ids) and all(r["task"]["state"] == "done" for r in records.values())
    assert all(any(e["new"] == "done" for e in r["events"]) for r in records.values())
    assert not any((repo / ".help" / "agent" / "worktrees").iterdir())  # worktrees removed...
    assert len(git(repo, "branch", "--list", "agent/*").split()) == 8  # ...done tasks' branches kept

    logs = sorted((repo / ".help" / "logs").glob("agent.log*"))
    names = [p.name for p in logs if not p.name.endswith(".lock")]
    assert "agent.log.1" in names and len(names) <= 4, names  # rotated, 3 old files kept at most
    assert all(p.stat().st_size <= 4096 for p in logs)

    name = f"{socket.gethostname()}-{worker.pid}"
    doctor = {c["name"]: c for c in json.loads(run_help("--json", "doctor", cwd=repo).stdout)}
    assert doctor[f"agent worker {name}"]["status"] == "ok", doctor.get(f"agent worker {name}")
    assert "alive: 8 done, 0 failed" in doctor[f"agent worker {name}"]["detail"]
    assert doctor["agent queue"]["status"] == "ok"

    metrics = parse(run_help("metrics", cwd=repo).stdout)
    model_name = ("model", "coder:1b")
    assert metrics[("helpy_agent_tasks_total", frozenset({model_name, ("state", "done")}))] == 8
    for role in ("planner", "coder", "reviewer", "tester"):
        labels = frozenset({model_name, ("role", role)})
        assert metrics[("helpy_agent_model_calls_total", labels)] == 8
        assert metrics[("helpy_agent_tokens_total", labels)] > 0
        assert metrics[("helpy_agent_model_duration_seconds_total", labels)] > 0
        assert metrics[("helpy_agent_model_failures_total", labels)] == 0
    assert metrics[("helpy_agent_task_duration_seconds_total", frozenset({model_name}))] > 0

    worker.kill()  # no goodbye: the doctor sees a worker whose process is gone
    doctor = {c["name"]: c for c in json.loads(run_help("--json", "doctor", cwd=repo).stdout)}
    assert doctor[f"agent worker {name}"]["status"] == "warn"
    assert "process is gone" in doctor[f"agent worker {name}"]["detail"]


def test_the_supervisor_restarts_a_crashed_component_with_backoff(tmp_path, model):
    import itertools
    import time

    from helper.project import load
    from plugins.agent.serve import Options, Service

    repo = make_repo(tmp_path / "repo", model.url)
    service = Service(load(repo), Options(workers=1, lease=3.0, housekeeping=3600.0))
    crashes: list[float] = []

    def housekeeper() -> None:
        crashes.append(time.monotonic())
        if len(crashes) <= 3:
            raise RuntimeError(f"crash {len(crashes)}")
        service.stopping.set()  # the fourth start works: stop the service

    service.housekeeper = housekeeper  # type: ignore[method-assign]
    assert service.run() == 0
    assert service.restarts == {"housekeeper": 3}
    gaps = [b - a for a, b in itertools.pairwise(crashes)]
    assert all(gap >= 0.2 for gap in gaps), gaps  # backed off, not restarted in a hot loop
    assert sum(gaps) < 10
    log = (repo / ".help" / "logs" / "agent.log").read_text()
    assert log.count("housekeeper crashed") == 3 and "RuntimeError: crash 3" in log and "restarting in" in log
