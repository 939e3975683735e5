"""Run processes together: start order, readiness, prefixed output, restarts, reload, stop.

One loop in the main thread owns every state change; a reader thread per child
prints its output with a coloured name prefix and feeds its log-line probe; a
watcher thread polls the tree's fingerprint for processes with reload = true.
Ctrl-C or SIGTERM: SIGTERM to every process group, a grace period, SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from helper import proc
from helper.records import Factory, Record
from helper.retry import CircuitBreaker, backoff_delays
from helper.running import state
from helper.running.readiness import Probe
from helper.running.spec import ProcessSpec, start_order

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any, TextIO

COLOURS = ("36", "35", "32", "33", "34", "96", "95", "92")


class Settings(Record):
    root: Path
    run_dir: Path
    env: dict[str, str]
    grace: float = 5.0
    ready_timeout: float = 60.0
    restart_limit: int = 5
    restart_window: float = 10.0
    reload_interval: float = 1.0
    backoff_base: float = 0.5
    color: bool = False
    host: str = "127.0.0.1"
    profile: str = "development"


class Managed(Record):
    """One process's live state, touched only by the supervisor loop."""

    spec: ProcessSpec
    probe: Probe
    breaker: CircuitBreaker
    status: str = "waiting"  # waiting starting ready restarting done failed stopped
    popen: subprocess.Popen[str] | None = None
    reader: threading.Thread | None = None
    started_at: float = 0.0
    next_start: float = 0.0
    next_probe: float = 0.0
    crashes: int = 0
    restarts: int = 0
    reason: str = ""
    killed: bool = False
    last_code: int | None = None
    history: list[int] = Factory(list)
    tree: list[tuple[int, int]] = Factory(list)  # (pid, ticks) below the leader, also outside its group


class Outcome(Record):
    code: int
    reason: str  # "stopped" (by a signal or `run stop`), "finished", "failed"
    failed: dict[str, str]
    killed: list[str]
    processes: list[dict[str, Any]]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Output:
    """Interleaved lines with a padded, coloured `name |` prefix, one line at a time."""

    def __init__(self, names: list[str], stream: TextIO, color: bool) -> None:
        self.width = max([len(n) for n in names] + [4])
        self.stream = stream
        self.color = color
        self.lock = threading.Lock()
        self.colours = {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(names)}

    def line(self, name: str, text: str) -> None:
        prefix = f"{name:<{self.width}} | "
        if self.color:
            prefix = f"\033[{self.colours.get(name, '1')}m{prefix}\033[0m"
        with self.lock:
            try:
                self.stream.write(prefix + text + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                pass

    def note(self, text: str) -> None:
        self.line("run", text)


class Watcher(threading.Thread):
    """Polls the project tree: stat first, content hash of what changed, flag a reload."""

    IGNORE_SUFFIXES = (".db", ".sqlite", ".sqlite3", "-journal", "-wal", "-shm", ".log", ".pid", ".pyc", ".tmp")

    def __init__(self, root: Path, interval: float, on_change: Callable[[list[str]], None]) -> None:
        super().__init__(daemon=True, name="help-run-watch")
        from helper.fingerprint import Fingerprinter

        self.root = root
        self.interval = interval
        self.on_change = on_change
        self.fingerprinter = Fingerprinter(root, None)
        self.stop_event = threading.Event()
        self.stats: dict[str, tuple[int, int, int]] = {}
        self.hashes: dict[str, str] = {}

    def snapshot(self) -> dict[str, tuple[int, int, int]]:
        from helper.fingerprint import list_files
        from helper.statsig import stat_signature

        stats = {}
        for rel in list_files(self.root):
            if rel.endswith(self.IGNORE_SUFFIXES) or "/." in f"/{rel}":
                continue
            found = stat_signature(self.root / rel)
            if found is not None:
                stats[rel] = found
        return stats

    def run(self) -> None:
        self.stats = self.snapshot()
        self.hashes = self.fingerprinter.files(self.stats)
        from helper.ui import console

        console.verbose(f"reload: watching {len(self.stats)} files every {self.interval:g}s")
        while not self.stop_event.wait(self.interval):
            try:
                current = self.snapshot()
            except Exception:  # a vanished directory mid-walk: try again next tick
                continue
            changed = [rel for rel, st in current.items() if self.stats.get(rel) != st]
            removed = [rel for rel in self.stats if rel not in current]
            self.stats = current
            if not changed and not removed:
                continue
            real = list(removed)
            for rel, digest in self.fingerprinter.files(changed).items():
                if self.hashes.get(rel) != digest:
                    real.append(rel)
                self.hashes[rel] = digest
            for rel in removed:
                self.hashes.pop(rel, None)
            if real:
                self.on_change(sorted(real))


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], settings: Settings, stream: TextIO | None = None) -> None:
        self.settings = settings
        self.order = start_order(specs)
        breaker = lambda: CircuitBreaker(threshold=settings.restart_limit, reset_after=float("inf"))  # noqa: E731
        self.managed = {s.name: Managed(s, Probe(s.ready, settings.host), breaker()) for s in self.order}
        self.out = Output([s.name for s in self.order], stream or sys.stdout, settings.color)
        self.stop_requested: str | None = None
        self.force = False
        self.reload_files: list[str] = []
        self.reload_lock = threading.Lock()
        self.wake = threading.Event()
        self._next_track = 0.0
        self.delays = backoff_delays(settings.restart_limit + 1, base=settings.backoff_base, cap=10.0, jitter=0.2)

    # -- signals --------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: Any) -> None:
        # Only plain assignments here. The handler runs in the main thread between
        # bytecodes, possibly while that thread holds self.wake's internal lock
        # (inside wait() or clear()); calling wake.set() from here could then
        # deadlock. The loops poll these flags every few tens of milliseconds.
        if self.stop_requested:
            self.force = True  # a second Ctrl-C: do not wait for the grace period
        self.stop_requested = signal.Signals(signum).name

    def _on_change(self, files: list[str]) -> None:
        with self.reload_lock:
            self.reload_files = files
        self.wake.set()

    # -- one process ------------------------------------------------------------
    def _env(self, spec: ProcessSpec) -> dict[str, str]:
        env = dict(self.settings.env)
        env.update(spec.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _start(self, m: Managed) -> None:
        spec = m.spec
        m.probe.reset()
        try:
            popen = proc.spawn(
                spec.command,
                cwd=spec.cwd or self.settings.root,
                env=self._env(spec),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except Exception as exc:
            m.status, m.reason = "failed", getattr(exc, "message", str(exc))
            self.out.note(f"{spec.name}: {m.reason}")
            return
        m.popen = popen
        m.tree = []
        m.started_at = time.monotonic()
        m.next_probe = 0.0
        m.status = "starting"
        state.write_pid(self.settings.run_dir, spec.name, popen.pid, spec.display, m.restarts)
        m.reader = threading.Thread(target=self._read, args=(m, popen), daemon=True, name=f"help-run-{spec.name}")
        m.reader.start()

    def _read(self, m: Managed, popen: subprocess.Popen[str]) -> None:
        assert popen.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            for raw in popen.stdout:
                line = raw.rstrip("\n")
                m.probe.feed(line)
                self.out.line(m.spec.name, line)
        self.wake.set()

    def _reap(self, m: Managed) -> int:
        assert m.popen is not None
        code = m.popen.wait()
        # The leader is gone; its group may not be (a reloader's worker): sweep it,
        # and what left the group (setsid) but was seen below the leader.
        proc.signal_group(m.popen.pid, signal.SIGKILL)
        for pid, ticks in m.tree:
            if state.alive(pid, ticks):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        if m.reader is not None:
            m.reader.join(timeout=1)
        state.remove(self.settings.run_dir / f"{m.spec.name}.pid")
        m.popen = None
        m.last_code = code
        return code

    def _exited(self, m: Managed, now: float) -> None:
        code = self._reap(m)
        spec = m.spec
        describe = f"exited with code {code}" if code >= 0 else f"was killed by {_signal_name(-code)}"
        if spec.oneshot or spec.restart == "no" or (spec.restart == "on-failure" and code == 0):
            if code == 0:
                m.status = "done"
                self.out.note(f"{spec.name} finished")
            else:
                m.status, m.reason = "failed", describe
                self.out.note(f"{spec.name} {describe}")
            return
        if now - m.started_at >= self.settings.restart_window:
            m.breaker.record_success()  # it had been up long enough: a fresh crash, not a loop
            m.crashes = 0
        m.breaker.record_failure()
        m.crashes += 1
        m.history.append(code)
        if not m.breaker.allow():
            m.status = "failed"
            m.reason = f"crash loop: {describe}, {m.crashes} times in a row; gave up"
            self.out.note(f"{spec.name}: {m.reason}")
            return
        delay = self.delays[min(m.crashes - 1, len(self.delays) - 1)]
        m.status, m.next_start = "restarting", now + delay
        self.out.note(f"{spec.name} {describe}; restarting in {delay:.1f}s ({m.crashes}/{self.settings.restart_limit})")

    def _deps_ready(self, m: Managed) -> bool:
        """Every dependency is ready, or finished with exit 0 (a setup step)."""
        return all(self.managed[dep].status in ("ready", "done") for dep in m.spec.depends_on)

    def _tick(self, now: float) -> None:
        for m in self.managed.values():
            # A failed dependency ends the run; a waiting process is then reported "not started".
            if m.status == "waiting" and self._deps_ready(m):
                self._start(m)
            if m.popen is not None and m.popen.poll() is not None:
                self._exited(m, now)
                continue
            if m.status == "starting" and now >= m.next_probe:
                if m.spec.oneshot:
                    continue
                if m.probe.check(m.popen.pid if m.popen is not None else None):
                    m.status = "ready"
                    took = now - m.started_at
                    if m.spec.ready:
                        self.out.note(f"{m.spec.name} ready ({m.spec.ready.describe()}, {took:.2f}s)")
                elif now - m.started_at > (
                    m.spec.ready.timeout if m.spec.ready and m.spec.ready.timeout else self.settings.ready_timeout
                ):
                    m.status, m.reason = (
                        "failed",
                        f"not ready after {now - m.started_at:.0f}s (waited for {m.spec.ready.describe() if m.spec.ready else 'start'})"
                        + (f"; {m.probe.note}" if m.probe.note else ""),
                    )
                    self.out.note(f"{m.spec.name}: {m.reason}")
                else:
                    m.next_probe = now + 0.05
            if m.status == "restarting" and now >= m.next_start:
                m.restarts += 1
                self._start(m)

    def _reload(self) -> None:
        with self.reload_lock:
            files, self.reload_files = self.reload_files, []
        if not files:
            return
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        for m in self.managed.values():
            if m.spec.reload and m.popen is not None:
                self.out.note(f"{m.spec.name}: {shown} changed; restarting")
                self._terminate([m])
                m.restarts += 1
                self._start(m)

    # -- stopping -------------------------------------------------------------
    def _terminate(self, targets: list[Managed]) -> list[str]:
        """SIGTERM every group at once, wait each one's grace, SIGKILL the rest; names killed."""
        live = [m for m in targets if m.popen is not None]
        self._track(force=True)
        for m in live:
            assert m.popen is not None
            proc.signal_group(m.popen.pid, signal.SIGTERM)
            for pid, ticks in m.tree:
                if state.alive(pid, ticks):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGTERM)
        killed = []
        started = time.monotonic()
        pending = list(live)
        while pending:
            now = time.monotonic()
            for m in list(pending):
                assert m.popen is not None
                grace = m.spec.grace if m.spec.grace is not None else self.settings.grace
                if m.popen.poll() is not None and not any(state.alive(p, t) for p, t in m.tree):
                    pending.remove(m)
                elif self.force or now - started >= grace:
                    proc.signal_group(m.popen.pid, signal.SIGKILL)
                    m.killed = True
                    killed.append(m.spec.name)
                    self.out.note(f"{m.spec.name} ignored SIGTERM for {grace:g}s; killed")
                    pending.remove(m)
            if pending:
                self.wake.wait(0.02)
                self.wake.clear()
        for m in live:
            self._reap(m)
        return killed

    def _track(self, force: bool = False) -> None:
        """Record each live child's process tree, so processes that setsid are still stopped."""
        now = time.monotonic()
        if not force and now < self._next_track:
            return
        self._next_track = now + 1.0
        table = state.process_table()
        for m in self.managed.values():
            if m.popen is None or m.popen.pid not in table:
                continue
            below = [(pid, table[pid][1]) for pid in state.descendants(m.popen.pid, table)]
            known = {pid for pid, _ in m.tree}
            fresh = [item for item in below if item[0] not in known]
            if fresh:
                m.tree = [item for item in m.tree if state.alive(*item)] + fresh
                state.write_pid(self.settings.run_dir, m.spec.name, m.popen.pid, m.spec.display, m.restarts, m.tree)

    def preflight(self) -> None:
        """A port a process will listen on must be free before anything starts."""
        from helper.errors import HelpError
        from helper.running.readiness import port_in_use

        for m in self.managed.values():
            port = m.probe.port
            if port is None:
                continue
            holder = port_in_use(m.probe.host, port)
            if holder is not None:
                raise HelpError(
                    f"port {port} on {m.probe.host} is already in use{holder}: {m.spec.name} cannot listen there",
                    "stop that process (`help.py run stop` if it is an earlier run), or give the process a free port"
                    " (e.g. PORT=8001 help.py run)",
                )

    def _watchdog(self) -> int:
        """Start the process that stops the children if this one dies; our end of its pipe."""
        read_end, write_end = os.pipe()
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        try:
            subprocess.Popen(
                [sys.executable, "-m", "helper.running.watchdog", str(self.settings.run_dir), str(self.settings.grace)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=root,
                start_new_session=True,
            )
        finally:
            os.close(read_end)
        return write_end

    # -- the loop -------------------------------------------------------------
    def run(self) -> Outcome:
        run_dir = self.settings.run_dir
        self.preflight()
        state.write_supervisor(run_dir, self.settings.profile, list(self.managed))
        watchdog = self._watchdog()
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        watcher = None
        if any(m.spec.reload for m in self.managed.values()):
            watcher = Watcher(self.settings.root, self.settings.reload_interval, self._on_change)
            watcher.start()
        killed: list[str] = []
        try:
            while not self.stop_requested:
                self._tick(time.monotonic())
                self._track()
                if self.reload_files:
                    self._reload()
                failed = [m for m in self.managed.values() if m.status == "failed"]
                if failed or all(m.status == "done" for m in self.managed.values()):
                    break
                self.wake.wait(0.05)
                self.wake.clear()
        finally:
            if watcher is not None:
                watcher.stop_event.set()
            if self.stop_requested:
                self.out.note(
                    f"{self.stop_requested}: stopping {', '.join(m.spec.name for m in self.managed.values() if m.popen) or 'nothing'}"
                )
            killed = self._terminate(list(self.managed.values()))
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            state.remove(run_dir / state.SUPERVISOR)
            os.close(watchdog)  # the watchdog sees end of file, finds no state left and exits
        return self._outcome(killed)

    def _outcome(self, killed: list[str]) -> Outcome:
        failed = {m.spec.name: m.reason for m in self.managed.values() if m.status == "failed"}
        for m in self.managed.values():
            if m.status == "waiting":
                m.status = "not started"
                blocked = [d for d in m.spec.depends_on if self.managed[d].status in ("failed", "not started")]
                m.reason = f"{', '.join(blocked)} failed" if blocked else "stopped before its dependencies were ready"
            elif m.status not in ("failed", "done"):
                m.status = "stopped"
        processes = [
            {
                "name": m.spec.name,
                "status": m.status,
                "restarts": m.restarts,
                "killed": m.killed,
                "reason": m.reason or None,
                "command": m.spec.display,
            }
            for m in self.managed.values()
        ]
        if failed:
            return Outcome(1, "failed", failed, killed, processes)
        if self.stop_requested:
            return Outcome(0, "stopped", failed, killed, processes)
        return Outcome(0, "finished", failed, killed, processes)
