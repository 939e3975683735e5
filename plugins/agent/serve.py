"""`help.py agent serve`: a worker that takes queued tasks until stopped; `agent queue` puts them there.

One process runs N worker threads, a heartbeat and a housekeeper, under a
supervisor that restarts a crashed component with backoff. A worker claims a
task with a lease that a heartbeat thread renews; losing the lease (another
worker took the task after it expired) or a stop request ends the task at its
next step, the state machine in SQLite keeping where it got to, so whoever
takes the task next resumes it there. An unreachable queue (Redis restarted)
is retried with backoff: nothing is lost, since a claimed task's lease simply
runs on. The housekeeper archives old finished tasks; the log is rotated.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from helper.errors import HelpError
from helper.retry import backoff_delays
from plugins.agent.logs import RotatingLog
from plugins.agent.queue import Claim, TaskQueue, Unavailable, open_queue, worker_name

T = TypeVar("T")
MAX_CLAIMS = 3  # a task claimed this often without finishing fails (a poison task must not loop forever)


class Stop(Exception):
    """Raised from the engine's progress callback: the lease is lost or the worker is stopping."""


@dataclass
class Options:
    workers: int = 1
    lease: float = 30.0
    archive_days: float = 7.0
    housekeeping: float = 60.0
    poll: float = 0.5
    drain: bool = False  # stop once the queue is empty
    log_max_bytes: int = 1_000_000

    @classmethod
    def from_project(cls, project: Any, **overrides: Any) -> Options:
        return cls(
            lease=float(project.get("agent.lease")),
            archive_days=float(project.get("agent.archive_days")),
            housekeeping=float(project.get("agent.housekeeping")),
            log_max_bytes=int(project.get("agent.log_max_bytes")),
            **{k: v for k, v in overrides.items() if v is not None},
        )


def rss_bytes() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


class Service:
    def __init__(self, project: Any, options: Options, name: str | None = None) -> None:
        self.project = project
        self.root: Path = project.root
        self.options = options
        self.name = name or worker_name()
        project.ensure_state_dir()
        self.db_path = project.state_dir / "agent.sqlite"
        self.log = RotatingLog(project.state_dir / "logs" / "agent.log", options.log_max_bytes)
        self.stopping = threading.Event()
        self.busy: dict[str, Claim] = {}
        self.done = 0
        self.failed = 0
        self.restarts: dict[str, int] = {}
        self.started = time.time()
        self.lock = threading.Lock()
        self.abandoned = 0  # tasks given back while their step still ran

    def say(self, text: str) -> None:
        self.log.write(f"{self.name} {text}")

    # -- resilience ------------------------------------------------------------------
    def call(self, what: str, fn: Callable[[], T]) -> T | None:
        """fn() until it works, backing off while the queue is unreachable; None when stopping meanwhile."""
        delays = backoff_delays(12, base=0.2, cap=5.0)
        attempt = 0
        while True:
            try:
                value = fn()
            except Unavailable as exc:
                delay = delays[min(attempt, len(delays) - 1)]
                if attempt == 0:
                    self.say(f"{what}: queue unreachable ({exc}); retrying with backoff")
                attempt += 1
                if self.stopping.wait(delay):
                    return None
                continue
            if attempt:
                self.say(f"{what}: queue reachable again after {attempt} retr{'y' if attempt == 1 else 'ies'}")
            return value

    def connect(self) -> TaskQueue:
        while True:
            try:
                return open_queue(self.project)
            except Unavailable as exc:
                self.say(f"cannot open the queue: {exc}")
                if self.stopping.wait(1.0):
                    raise Stop() from exc

    # -- components ---------------------------------------------------------------------
    def worker(self, slot: str) -> None:
        from plugins.agent.store import Store

        queue = self.connect()
        store = Store(self.db_path)
        try:
            while not self.stopping.is_set():
                claim = self.call(slot, lambda: queue.claim(f"{self.name}/{slot}", self.options.lease))
                if claim is None:
                    self.stopping.wait(self.options.poll)
                    continue
                self.handle(queue, store, claim, slot)
        finally:
            store.close()
            queue.close()

    def heartbeat(self) -> None:
        queue = self.connect()
        try:
            while True:
                with self.lock:
                    info = {
                        "host": socket.gethostname(),
                        "pid": os.getpid(),
                        "started": self.started,
                        "busy": {slot: c.task_id for slot, c in self.busy.items()},
                        "done": self.done,
                        "failed": self.failed,
                        "restarts": dict(self.restarts),
                        "rss": rss_bytes(),
                        "interval": self.beat_interval,
                    }
                with contextlib.suppress(Unavailable):
                    queue.beat(self.name, info, ttl=max(10.0, self.beat_interval * 4))
                if self.stopping.wait(self.beat_interval):
                    with contextlib.suppress(Unavailable):
                        queue.leave(self.name)
                    return
        finally:
            queue.close()

    @property
    def beat_interval(self) -> float:
        return max(0.5, min(5.0, self.options.lease / 3))

    def housekeeper(self) -> None:
        from plugins.agent import archive
        from plugins.agent.store import Store

        queue = self.connect()
        store = Store(self.db_path)
        try:
            while not self.stopping.wait(self.options.housekeeping):
                token = self.call("housekeeping", lambda: queue.lock("housekeeping", self.options.housekeeping * 2))
                if not token:
                    continue
                try:
                    while True:
                        done = archive.archive(self.root, store, self.options.archive_days)
                        if done["archived"]:
                            self.say(f"archived {done['archived']} finished task(s) to {done['file']}")
                        if done["archived"] < archive.BATCH:
                            break
                    with store.lock:
                        store.db.execute("DELETE FROM workers WHERE seen < ?", (time.time() - 86400,))
                        store.db.execute("DELETE FROM memory WHERE expires < ?", (time.time(),))
                finally:
                    with contextlib.suppress(Unavailable):
                        queue.unlock("housekeeping", token)
        finally:
            store.close()
            queue.close()

    # -- one task ---------------------------------------------------------------------------
    def handle(self, queue: TaskQueue, store: Any, claim: Claim, slot: str) -> None:
        from plugins.agent import metering

        lost = threading.Event()
        ended = threading.Event()
        with self.lock:
            self.busy[slot] = claim
        claim_row = store._write(
            "INSERT INTO claims (task_id, worker, claimed) VALUES (?,?,?)", (claim.task_id, claim.worker, time.time())
        )
        taken_over = f" (taken over from {claim.previous})" if claim.claims > 1 else ""
        self.say(f"{slot}: claimed task {claim.task_id}{taken_over}")

        def beat() -> None:
            while not ended.wait(self.beat_interval):
                try:
                    if not queue.renew(claim, self.options.lease):
                        self.say(f"{slot}: lost the lease of task {claim.task_id}; stopping it")
                        lost.set()
                        return
                except Unavailable as exc:
                    self.say(f"{slot}: cannot renew the lease of {claim.task_id} ({exc}); retrying")

        last = [0.0]

        def progress(text: str) -> None:
            if lost.is_set() or self.stopping.is_set():
                raise Stop()
            self.say(f"{slot}: {text.strip()}")
            now = time.monotonic()
            if now - last[0] >= 1.0:
                last[0] = now
                with contextlib.suppress(Unavailable):
                    queue.progress(
                        claim.task_id, {"worker": claim.worker, "step": text.strip()[:200], "at": time.time()}
                    )

        renewer = threading.Thread(target=beat, name=f"lease-{slot}", daemon=True)
        renewer.start()
        started = time.monotonic()
        meter = None
        state = "failed"
        outcome = "finished"
        try:
            try:
                state, meter = self.run_task(store, claim, progress)
            except Stop:
                outcome = "lease lost" if lost.is_set() else "stopped"
                return
            except HelpError as exc:
                self.say(f"{slot}: task {claim.task_id} failed: {exc.message}")
                store.update_task(claim.task_id, error=exc.message)
                state = "failed"
            except Exception:
                if claim.claims < MAX_CLAIMS:
                    outcome = "crashed"
                    raise  # the supervisor restarts this worker; the lease runs out and the task is taken again
                self.say(f"{slot}: task {claim.task_id} crashed {claim.claims} times:\n{traceback.format_exc()}")
                store.update_task(claim.task_id, error=f"crashed {claim.claims} times")
                state = "failed"
            ended.set()
            if meter is not None:
                metering.record(
                    self.project.state_dir,
                    claim.task_id,
                    state,
                    (store.task(claim.task_id) or {}).get("model"),
                    time.monotonic() - started,
                    claim.worker,
                    meter,
                )
            finished = self.call(slot, lambda: queue.finish(claim, state, self.options.archive_days * 86400))
            if finished is False:
                outcome = "lease lost"
                self.say(f"{slot}: task {claim.task_id} ended {state}, but its lease had been lost")
            else:
                with self.lock:
                    if state == "done":
                        self.done += 1
                    else:
                        self.failed += 1
                self.say(f"{slot}: task {claim.task_id} {state} in {time.monotonic() - started:.1f}s")
        finally:
            ended.set()
            if outcome in ("stopped", "crashed"):
                with contextlib.suppress(Unavailable):
                    queue.release(claim)
            store._write(
                "UPDATE claims SET outcome = ?, finished = ? WHERE id = ?",
                (outcome if outcome != "finished" else state, time.time(), claim_row),
            )
            with self.lock:
                self.busy.pop(slot, None)

    def run_task(self, store: Any, claim: Claim, progress: Callable[[str], None]) -> tuple[str, Any]:
        from helper.fsutil import FileLock
        from plugins.agent import workspace
        from plugins.agent.command import _engine
        from plugins.agent.metering import Metered

        now = time.time()
        store._write(
            "INSERT OR IGNORE INTO tasks (id, prompt, state, created, updated) VALUES (?, ?, 'new', ?, ?)",
            (claim.task_id, claim.prompt, now, now),
        )
        if claim.claims > 1:
            store.note(claim.task_id, None, "takeover", f"{claim.worker} took it over from {claim.previous}")
        engine, reason = _engine(self.project, store, claim.model, claim.prompt)
        meter = Metered(engine.client)
        engine.client = meter
        engine.say = progress
        task = store.task(claim.task_id) or {}
        if not task.get("worktree"):
            # git's ref and worktree locks do not wait: one worktree made at a time across the workers
            with FileLock(self.project.state_dir / "agent" / "git.lock", timeout=60):
                worktree, branch, base = workspace.create(self.root, claim.task_id)
            model = engine.models[0] if engine.models else None
            store.update_task(
                claim.task_id, branch=branch, worktree=str(worktree), base=base, model=model, model_reason=reason
            )
            store.note(claim.task_id, None, "model", f"{model or '-'}: {reason}")
        progress(f"task {claim.task_id}: {store.task(claim.task_id)['state']}")
        return engine.run(claim.task_id), meter

    # -- the supervisor ------------------------------------------------------------------------
    def run(self) -> int:
        components: dict[str, Callable[[], None]] = {
            f"worker-{n + 1}": functools.partial(self.worker, f"worker-{n + 1}") for n in range(self.options.workers)
        }
        components["heartbeat"] = self.heartbeat
        components["housekeeper"] = self.housekeeper
        failures: dict[str, int] = dict.fromkeys(components, 0)
        threads: dict[str, tuple[threading.Thread, float]] = {}
        errors: dict[str, BaseException] = {}
        restart_at: dict[str, float] = {}

        def wrap(name: str, fn: Callable[[], None]) -> Callable[[], None]:
            def body() -> None:
                try:
                    fn()
                except Stop:
                    pass
                except BaseException as exc:
                    errors[name] = exc
                    self.say(f"{name} crashed: {traceback.format_exc()}")

            return body

        def start(name: str) -> None:
            thread = threading.Thread(target=wrap(name, components[name]), name=name, daemon=True)
            threads[name] = (thread, time.monotonic())
            thread.start()

        from plugins.agent.store import Store

        Store(self.db_path).close()  # made and migrated once, before the components race for it
        previous = self._signals()
        self.say(f"serving: {self.options.workers} worker(s), lease {self.options.lease:g}s")
        try:
            for name in components:
                start(name)
            while not self.stopping.is_set():
                for name, (thread, began) in list(threads.items()):
                    if thread.is_alive() or self.stopping.is_set():
                        continue
                    if name not in restart_at:
                        failures[name] = 0 if time.monotonic() - began > 60 else failures[name] + 1
                        delay = backoff_delays(failures[name] + 1, base=0.5, cap=30.0)[-1]
                        restart_at[name] = time.monotonic() + delay
                        self.say(f"{name} stopped ({errors.pop(name, 'no error')}); restarting in {delay:.1f}s")
                    elif time.monotonic() >= restart_at[name]:
                        del restart_at[name]
                        with self.lock:
                            self.restarts[name] = self.restarts.get(name, 0) + 1
                        start(name)
                if self.options.drain and self._drained():
                    self.say("the queue is empty: stopping")
                    break
                self.stopping.wait(0.2)
        finally:
            self.stopping.set()
            deadline = time.monotonic() + 10.0
            for thread, _ in threads.values():
                thread.join(max(0.0, deadline - time.monotonic()))
            self._give_back()
            self.say(f"stopped: {self.done} done, {self.failed} failed")
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _drained(self) -> bool:
        with self.lock:
            if self.busy:
                return False
        try:
            queue = open_queue(self.project)
        except Unavailable:
            return False
        try:
            counts = queue.counts()
        except Unavailable:
            return False
        finally:
            queue.close()
        return counts["queued"] == 0 and counts["running"] == 0

    def _give_back(self) -> None:
        """Leases still held by workers that did not stop in time: released, so another worker resumes at once."""
        with self.lock:
            held = list(self.busy.values())
        if not held:
            return
        self.abandoned = len(held)
        with contextlib.suppress(Unavailable, Stop):
            queue = open_queue(self.project)
            try:
                for claim in held:
                    queue.release(claim)
                    self.say(f"gave task {claim.task_id} back")
            finally:
                queue.close()

    def _signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous

        def stop(signum: int, frame: Any) -> None:
            self.say(f"signal {signum}: stopping at the next step")
            self.stopping.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, stop)
        import faulthandler

        # `kill -USR1 <pid>` prints where every thread is to stderr: a worker that will not stop says why.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        return previous


# -- the commands -------------------------------------------------------------------------------
def queue_command(project: Any, rest: list[str], args: Any) -> int:
    """`agent queue "change"` enqueues; `agent queue` alone shows the queue and its workers."""
    from helper.ui import console
    from plugins.agent.store import Store

    queue = open_queue(project)
    try:
        if not rest:
            data = {"backend": queue.backend, **queue.counts(), "workers": queue.workers()}

            def render(d: dict[str, Any]) -> None:
                console.echo(
                    f"queue ({d['backend']}): {d['queued']} queued, {d['running']} running,"
                    f" {d['done']} done, {d['failed']} failed"
                )
                for w in d["workers"]:
                    busy = ", ".join(f"{k}: {v}" for k, v in w.get("busy", {}).items()) or "idle"
                    console.echo(f"  {w['name']}: {w.get('done', 0)} done, {w.get('failed', 0)} failed; {busy}")

            console.result(data, render)
            return 0
        prompt = " ".join(rest)
        project.ensure_state_dir()
        store = Store(project.state_dir / "agent.sqlite")
        try:
            task_id = store.new_task(prompt)
        finally:
            store.close()
        queue.put(task_id, prompt, args.model)
    except Unavailable as exc:
        raise HelpError(f"the agent queue is unreachable: {exc}", "start redis-server, or check agent.redis") from exc
    finally:
        queue.close()
    console.result(
        {"id": task_id, "queued": True, "backend": queue.backend},
        lambda d: console.success(f"queued task {task_id}: `help.py agent serve` works it"),
    )
    return 0


def serve_command(project: Any, args: Any) -> int:
    from helper.errors import UsageError
    from helper.ui import console

    workers = args.workers if args.workers is not None else 1
    if workers < 1:
        raise UsageError("--workers takes a positive number", "help.py agent serve --workers 2")
    open_queue(project).close()  # a missing redis package or a bad URL: one error now, not crashes forever
    service = Service(project, Options.from_project(project, workers=workers, drain=args.drain or None))
    if not console.json:
        console.info(f"agent worker {service.name}: {workers} worker(s); log in {service.log.path}; Ctrl-C stops")
    code = service.run()
    console.result(
        {"worker": service.name, "done": service.done, "failed": service.failed, "restarts": service.restarts},
        lambda d: console.info(f"stopped: {d['done']} done, {d['failed']} failed"),
    )
    if service.abandoned:
        # a step still hangs (a model call) in a thread the interpreter would wait for at exit; its task was
        # given back, so nothing is lost by not waiting
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
