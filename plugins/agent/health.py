"""The doctor's view of the agent: which client speaks the Ollama API, and the workers (alive, stalled, none)."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from helper.checks import Check


def checks(project: Any) -> list[Check]:
    return [client_check(str(project.get("agent.client"))), *worker_checks(project)]


def client_check(choice: str) -> Check:
    """Which client `agent.client = choice` uses for the Ollama API (found, not imported: the doctor stays quick)."""
    from importlib import metadata

    from plugins.agent.client import package_found

    found = package_found()
    try:
        version = metadata.version("ollama") if found else ""
    except metadata.PackageNotFoundError:
        version = "?"
    if choice == "stdlib":
        note = f" (the ollama package {version} is installed, not used)" if found else ""
        return Check("agent client", "ok", f"Ollama API through the stdlib HTTP client: agent.client = stdlib{note}")
    if found:
        return Check("agent client", "ok", f"Ollama API through the ollama package {version} (agent.client = {choice})")
    if choice == "ollama":
        return Check(
            "agent client",
            "fail",
            "agent.client = ollama but the ollama package is not installed",
            "pip install ollama (or help.py install --optional ollama), or set agent.client = auto",
        )
    return Check(
        "agent client",
        "ok",
        "Ollama API through the stdlib HTTP client (agent.client = auto; the ollama package is not installed)",
    )


def worker_checks(project: Any) -> list[Check]:
    url = project.get("agent.redis")
    path = project.state_dir / "agent.sqlite"
    if not url and not path.exists():
        return [Check("agent worker", "ok", "no agent queue here yet (help.py agent queue / agent serve)")]
    from plugins.agent.queue import Unavailable, open_queue

    try:
        queue = open_queue(project)
    except Unavailable as exc:
        return [
            Check("agent queue", "fail", f"agent.redis unreachable: {exc}", "start redis-server, or unset agent.redis")
        ]
    except Exception as exc:  # the redis package missing, a broken database
        hint = getattr(exc, "hint", None)
        return [Check("agent queue", "fail", str(getattr(exc, "message", exc)), hint)]
    try:
        counts = queue.counts()
        workers = queue.workers()
    except Unavailable as exc:
        return [
            Check("agent queue", "fail", f"agent.redis unreachable: {exc}", "start redis-server, or check agent.redis")
        ]
    finally:
        queue.close()
    found = [
        Check(
            "agent queue",
            "ok",
            f"{queue.backend}: {counts['queued']} queued, {counts['running']} running, {counts['done']} done,"
            f" {counts['failed']} failed",
        )
    ]
    now = time.time()
    alive = []
    for worker in workers:
        age = now - float(worker.get("seen") or 0)
        restarts = sum((worker.get("restarts") or {}).values())
        gone = worker.get("host") == socket.gethostname() and not _alive(int(worker.get("pid") or 0))
        if gone or age > 4 * float(worker.get("interval") or 5.0):
            found.append(
                Check(
                    f"agent worker {worker['name']}",
                    "warn",
                    f"no heartbeat for {age:.0f}s{' (its process is gone)' if gone else ''}",
                    "it was killed or hangs: its tasks are taken over once their leases expire",
                )
            )
            continue
        alive.append(worker)
        busy = ", ".join((worker.get("busy") or {}).values()) or "idle"
        found.append(
            Check(
                f"agent worker {worker['name']}",
                "warn" if restarts else "ok",
                f"alive: {worker.get('done', 0)} done, {worker.get('failed', 0)} failed, {busy};"
                f" rss {int(worker.get('rss') or 0) / 2**20:.0f} MiB; {restarts} component restart(s)",
                "see .help/logs/agent.log for what crashed" if restarts else None,
            )
        )
    if not alive and counts["queued"]:
        found.append(
            Check("agent worker", "warn", f"{counts['queued']} task(s) queued and no worker", "help.py agent serve")
        )
    return found


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
