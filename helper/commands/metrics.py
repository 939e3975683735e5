"""`help.py metrics`: the project's health in the Prometheus text exposition format (0.0.4).

Cache hits, misses, bytes and time saved; the known tests by last outcome and
their recorded durations; the last run of each command (exit code, duration,
when); whether the project's environment is usable. To stdout, to a
node-exporter textfile-collector file (atomically), or served over HTTP.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

EXAMPLES = """examples:
  help.py metrics                               print the metrics
  help.py metrics --textfile /var/lib/node_exporter/helpy.prom
                                                for node-exporter's textfile collector (atomic write)
  help.py metrics --serve 127.0.0.1:9464        serve them at /metrics"""

Sample = tuple[dict[str, str], float]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "metrics",
        help="print the project's health as Prometheus metrics",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--textfile", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    where.add_argument("--serve", metavar="HOST:PORT", help="serve /metrics over HTTP (loopback unless told)")
    return parser


class Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name, self.kind, self.help = name, kind, help_text
        self.samples: list[Sample] = []

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, float(value)))

    def render(self) -> str:
        name = self.name + ("_total" if self.kind == "counter" else "")  # the text format names counters whole
        lines = [f"# HELP {name} {self.help}", f"# TYPE {name} {self.kind}"]
        for labels, value in self.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{name}{'{' + text + '}' if text else ''} {_number(value)}")
        return "\n".join(lines)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def collect(project: Any) -> list[Family]:
    families: list[Family] = []

    def family(name: str, kind: str, text: str) -> Family:
        made = Family(f"helpy_{name}", kind, text)
        families.append(made)
        return made

    up = family("project_info", "gauge", "1 for the project these metrics describe")
    up.add(1, root=str(project.root), profile=str(project.profile))
    _cache(project, family)
    _tests(project, family)
    _runs(project, family)
    _agents(project, family)
    _env(project, family)
    return families


def _cache(project: Any, family: Any) -> None:
    try:
        from helper.cache import for_project

        stats = for_project(project).stats()
    except Exception:
        return
    family("cache_hits", "counter", "result cache hits").add(stats["hits"])
    family("cache_misses", "counter", "result cache misses").add(stats["misses"])
    rate = stats["hit_rate"]
    family("cache_hit_ratio", "gauge", "hits / (hits + misses); NaN before the first lookup").add(
        float("nan") if rate is None else rate
    )
    family("cache_bytes", "gauge", "bytes in the local cache").add(stats["bytes"])
    family("cache_max_bytes", "gauge", "size the cache is kept under").add(stats["max_bytes"])
    family("cache_entries", "gauge", "entries in the local cache").add(stats["entries"])
    family("cache_time_saved_seconds", "counter", "time saved by cache hits").add(stats["time_saved_s"])


def _tests(project: Any, family: Any) -> None:
    from helper.testing.state import State

    path = project.state_dir / "test-state.json"
    if not path.exists():
        return
    try:
        tests = State(path).tests
    except Exception:
        return
    outcomes: dict[str, int] = {}
    total = 0.0
    for record in tests.values():
        outcome = str(record.get("outcome") or "unknown")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        total += float(record.get("duration") or 0.0)
    counts = family("tests", "gauge", "known tests by their last outcome")
    for outcome, n in sorted(outcomes.items()):
        counts.add(n, outcome=outcome)
    family("tests_duration_seconds", "gauge", "sum of the tests' last recorded durations").add(total)


def _journal_runs(project: Any, command: str | None = None) -> list[dict[str, Any]] | None:
    """The journal's newest 5000 runs (of `command` only, when given); None when there is no readable journal."""
    from helper.journal import Journal, recorded

    if not recorded(project.state_dir):
        return None
    try:
        journal = Journal(project.state_dir / "journal.sqlite")
        try:
            return journal.runs(command=command, limit=5000)
        finally:
            journal.close()
    except Exception:
        return None


def _runs(project: Any, family: Any) -> None:
    rows = _journal_runs(project)
    if rows is None:
        return
    last: dict[str, dict[str, Any]] = {}
    totals: dict[tuple[str, str], int] = {}
    selected = family("test_selection_ratio", "gauge", "share of the tests the last test run ran (the rest reused)")
    for row in rows:  # newest first
        if row["exit_code"] is None:
            continue
        command = str(row["command"])
        result = "ok" if row["exit_code"] == 0 else "failed"
        totals[(command, result)] = totals.get((command, result), 0) + 1
        last.setdefault(command, row)
    runs = family("runs", "counter", "finished runs in the journal")
    for (command, result), n in sorted(totals.items()):
        runs.add(n, command=command, result=result)
    code = family("last_run_exit_code", "gauge", "exit code of the last run of each command")
    seconds = family("last_run_duration_seconds", "gauge", "duration of the last run of each command")
    when = family("last_run_timestamp_seconds", "gauge", "when the last run of each command started (Unix time)")
    for command, row in sorted(last.items()):
        code.add(row["exit_code"], command=command)
        seconds.add(row["duration"] or 0.0, command=command)
        when.add(row["started"] or 0.0, command=command)
    test = last.get("test")
    details = (test or {}).get("details") or {}
    if isinstance(details, dict) and details.get("ran") is not None and details.get("total"):
        selected.add(float(details["ran"]) / float(details["total"]))
    elif test is not None and (test.get("cache_hits") or test.get("cache_misses")):
        hits, misses = float(test.get("cache_hits") or 0), float(test.get("cache_misses") or 0)
        selected.add(misses / (hits + misses))


def _agents(project: Any, family: Any) -> None:
    """The agent's counters: one journal run (command `agent.task`) per finished task, its per-role calls in details."""
    rows = _journal_runs(project, "agent.task")
    if not rows:
        return
    tasks: dict[tuple[str, str], float] = {}
    task_seconds: dict[str, float] = {}
    per_role: dict[str, dict[tuple[str, str], float]] = {k: {} for k in ("calls", "tokens", "seconds", "failures")}
    for row in rows:
        details = row.get("details")
        if not isinstance(details, dict):
            continue
        model, state = str(details.get("model") or ""), str(details.get("state") or "unknown")
        tasks[(model, state)] = tasks.get((model, state), 0) + 1
        task_seconds[model] = task_seconds.get(model, 0.0) + float(row.get("duration") or 0.0)
        for agent in details.get("agents") or []:
            key = (str(agent.get("role")), str(agent.get("model")))
            for name, counts in per_role.items():
                counts[key] = counts.get(key, 0) + float(agent.get(name) or 0)
    done = family("agent_tasks", "counter", "agent tasks finished, by the task's model and final state")
    for (model, state), n in sorted(tasks.items()):
        done.add(n, model=model, state=state)
    spent = family("agent_task_duration_seconds", "counter", "time workers spent on agent tasks, by model")
    for model, seconds in sorted(task_seconds.items()):
        spent.add(seconds, model=model)
    texts = {
        "calls": ("agent_model_calls", "model calls, by agent role and model"),
        "tokens": ("agent_tokens", "tokens generated, by agent role and model"),
        "seconds": ("agent_model_duration_seconds", "time in model calls, by agent role and model"),
        "failures": ("agent_model_failures", "model calls that failed, by agent role and model"),
    }
    for name, (metric, text) in texts.items():
        made = family(metric, "counter", text)
        for (role, model), value in sorted(per_role[name].items()):
            made.add(value, role=role, model=model)


def _env(project: Any, family: Any) -> None:
    try:
        from helper.envs.detect import for_project

        found = for_project(project)
    except Exception:
        family("env_healthy", "gauge", "1 when the project has a usable Python environment").add(0)
        return
    chosen = found.chosen
    healthy = family("env_healthy", "gauge", "1 when the project has a usable Python environment")
    if chosen is None:
        healthy.add(0)
        return
    healthy.add(1 if chosen.exists and not chosen.problem else 0, kind=str(chosen.kind), version=str(chosen.version))


def exposition(project: Any) -> str:
    return "\n".join(f.render() for f in collect(project)) + "\n"


def run(args: argparse.Namespace, project: Any) -> int:
    import sys

    if args.textfile:
        from helper.fsutil import atomic_write

        atomic_write(args.textfile, exposition(project))
        return 0
    if args.serve:
        return _serve(args.serve, project)
    sys.stdout.write(exposition(project))
    return 0


def _serve(address: str, project: Any) -> int:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from helper.mcp.http import parse_address
    from helper.ui import console

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = exposition(project).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            console.verbose("metrics: " + format % args)

    server = ThreadingHTTPServer(parse_address(address), Handler)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"http://{host}:{port}/metrics", flush=True)
    started = time.monotonic()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        console.verbose(f"served for {time.monotonic() - started:.0f} s")
    finally:
        server.server_close()
    return 0
