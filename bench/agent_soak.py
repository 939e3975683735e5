"""Agent soak: 500 scripted tasks through one `help.py agent serve` worker; is it fit to be left running?

Reports the worker's RSS after warm-up, at the middle and at the end (flat
within 10% is the bar), how often the log was rotated and that its files stay
under the size bound, and the database's size over the run, which the archive
policy (tasks archived seconds after they finish here) keeps bounded.
Run: .venv/bin/python bench/agent_soak.py [--tasks 500] [--redis URL]
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.agent.fakeserver import FakeModelServer  # noqa: E402
from tests.agent_ops.conftest import enqueue, make_repo, script  # noqa: E402
from tests.conftest import HELP, clean_env  # noqa: E402

LOG_MAX = 200_000
ARCHIVE_SECONDS = 20.0


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def db_bytes(repo: Path) -> int:
    base = repo / ".help" / "agent.sqlite"
    return sum(p.stat().st_size for p in (base, base.with_name(base.name + "-wal")) if p.exists())


def finished(repo: Path) -> int:
    path = repo / ".help" / "journal.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=30) as con:
            return int(con.execute("SELECT COUNT(*) FROM runs WHERE command = 'agent.task'").fetchone()[0])
    except sqlite3.OperationalError:  # the journal being created by the worker
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--redis", help="a Redis URL for the queue (default: SQLite alone)")
    parser.add_argument("--limit", type=float, default=600.0, help="give up after this many seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeModelServer(script()) as model:
        extra = {"redis": args.redis} if args.redis else {}
        repo = make_repo(
            Path(tmp) / "repo",
            model.url,
            archive_days=ARCHIVE_SECONDS / 86400,
            housekeeping=5.0,
            log_max_bytes=LOG_MAX,
            **extra,
        )
        enqueue(repo, [f"make add add ({n})" for n in range(args.tasks)])
        started = time.monotonic()
        worker = subprocess.Popen(
            [sys.executable, str(HELP), "agent", "serve"],
            cwd=repo,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        marks = {"warm": max(1, args.tasks // 10), "middle": args.tasks // 2, "end": args.tasks}
        samples: dict[str, tuple[int, int, float]] = {}
        peak_db = 0
        first_rss = 0
        try:
            while worker.poll() is None and time.monotonic() - started < args.limit:
                done = finished(repo)
                if done >= args.tasks and "end" in samples:
                    break
                size = db_bytes(repo)
                peak_db = max(peak_db, size)
                if not first_rss and done >= 1:
                    first_rss = rss(worker.pid)
                for name, at in marks.items():
                    if name not in samples and done >= at:
                        samples[name] = (rss(worker.pid), size, time.monotonic() - started)
                time.sleep(0.2)
            worker.terminate()  # SIGTERM, as a service manager stops it
            code = worker.wait(60)
        finally:
            if worker.poll() is None:
                worker.kill()
        elapsed = time.monotonic() - started
        logs = sorted(p for p in (repo / ".help" / "logs").glob("agent.log*") if not p.name.endswith(".lock"))
        total = finished(repo)
        print(f"agent soak: {total}/{args.tasks} tasks in {elapsed:.0f}s ({elapsed / max(total, 1):.2f}s a task)")
        print(f"  worker exit code {code}; RSS after the first task {first_rss / 2**20:.1f} MiB")
        for name in marks:
            if name in samples:
                r, size, at = samples[name]
                print(
                    f"  {name:>6} (task {marks[name]:>3}, {at:5.0f}s): RSS {r / 2**20:6.1f} MiB, db {size / 1024:7.0f} KiB"
                )
        if {"warm", "end"} <= samples.keys():
            values = [samples[n][0] for n in ("warm", "middle", "end") if n in samples]
            spread = (max(values) - min(values)) / min(values)
            print(f"  RSS spread warm..end: {spread:.1%} ({'flat' if spread <= 0.10 else 'NOT flat'} within 10%)")
        print(f"  db peak {peak_db / 1024:.0f} KiB, at the end {db_bytes(repo) / 1024:.0f} KiB")
        rotated = [p.name for p in logs]
        biggest = max((p.stat().st_size for p in logs), default=0)
        print(f"  log files {rotated}; largest {biggest} bytes (bound {LOG_MAX})")
        archived = sorted((repo / ".help" / "agent" / "archive").glob("*.jsonl.gz"))
        print(f"  archive: {len(archived)} file(s), {sum(p.stat().st_size for p in archived) / 1024:.0f} KiB")
        ok = total == args.tasks and code == 0 and biggest <= LOG_MAX and len(logs) > 1
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
