"""The health monitor: healthchecks run by help.py, restarts with backoff, a breaker per service.

Each tick (compose.monitor_interval, or at once when an engine event says a container died): one
`ps` of the project's containers; a service not running is restarted; a running one with a
healthcheck has its test run through `exec` every healthcheck interval and is restarted after
`retries` failures in a row (on docker the daemon runs the test and counts the retries: its
own health state, read with the `ps`, is the verdict). Restarts wait helper.retry's backoff
(growing while the service keeps failing soon after a start) and go through a CircuitBreaker: compose.breaker_threshold restarts within
compose.breaker_window seconds open it and the service is left down (an event says why);
after the window it is half-open, one restart is tried, and a healthy run closes it.
CPU and memory above the thresholds give a warning event. Engine events for the project's
containers (from a cursor saved in the state file, so a restarted monitor misses none)
and compose-file changes (re-applying only the changed services) are logged too.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections import deque
from typing import Any

from helper import proc
from helper.retry import CircuitBreaker, backoff_delays
from helper.ui import console
from plugins.compose import engine as eng
from plugins.compose import events
from plugins.compose.model import Model, load

JOURNALED = ("restart", "breaker", "health", "config-changed", "config-error", "resource-warning")


class Watch:
    def __init__(self, engine: eng.Engine, model: Model, project: Any, names: list[str]) -> None:
        self.engine = engine
        self.model = model
        self.project = project
        self.names = names
        self.root = model.root
        self.interval = float(project.get("compose.monitor_interval"))
        self.base = float(project.get("compose.restart_backoff"))
        self.cap = float(project.get("compose.restart_backoff_max"))
        self.threshold = int(project.get("compose.breaker_threshold"))
        self.window = float(project.get("compose.breaker_window"))
        self.cpu_limit = float(project.get("compose.cpu_warn"))
        self.mem_limit = float(project.get("compose.mem_warn"))
        self.state = events.load_state(self.root)
        self.state.setdefault("services", {})
        self.breakers: dict[str, CircuitBreaker] = {}
        self.recent: dict[str, deque[float]] = {}
        self.started_at: dict[str, float] = {}
        self.fast_failures: dict[str, int] = {}
        self.next_check: dict[str, float] = {}
        self.failing: dict[str, int] = {}
        self.warned: set[str] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.wake = threading.Event()  # set by an engine event that a container died: check now, not next tick
        self.file_stamp = self._stamp()
        self._journal: Any = None

    # -- state & events ---------------------------------------------------------
    def svc(self, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = self.state["services"].setdefault(
            name, {"health": "unknown", "restarts": 0, "breaker": "closed"}
        )
        return entry

    def emit(self, kind: str, service: str = "", **fields: Any) -> None:
        with self.lock:
            event = events.append(self.root, kind, service, **fields)
            events.save_state(self.root, self.state)
        if kind in JOURNALED:
            self.journal(kind, service, fields)
        if kind != "engine":
            console.info(f"compose: {kind} {service} " + " ".join(f"{k}={v}" for k, v in fields.items()))
        del event

    def open_journal(self) -> None:
        try:
            if self._journal is None and self.project.get("journal.enabled"):
                from helper.journal import Journal

                self._journal = Journal(self.project.ensure_state_dir() / "journal.sqlite")
        except Exception as exc:  # the journal must never stop the monitor
            console.verbose(f"journal not opened: {exc}")

    def journal(self, kind: str, service: str, fields: dict[str, Any]) -> None:
        """Also a run in the journal (`help.py history`): command `compose-event`, the event as details."""
        try:
            if not self.project.get("journal.enabled"):
                return
            from helper import __version__
            from helper.journal import Journal

            if self._journal is None:
                self._journal = Journal(self.project.ensure_state_dir() / "journal.sqlite")
            run_id = self._journal.start("compose-event", ["compose", kind, service], __version__)
            details = {"kind": kind, "service": service, **{k: v for k, v in fields.items() if v is not None}}
            failed = kind in ("breaker", "config-error") and fields.get("state", "open") == "open"
            self._journal.finish(run_id, 1 if failed else 0, duration=0.0, details=details)
        except Exception as exc:  # the journal must never stop the monitor
            console.verbose(f"journal not written: {exc}")

    def breaker(self, name: str) -> CircuitBreaker:
        if name not in self.breakers:
            self.breakers[name] = CircuitBreaker(threshold=self.threshold, reset_after=self.window)
            self.recent[name] = deque()
        return self.breakers[name]

    def set_health(self, name: str, health: str, **why: Any) -> None:
        entry = self.svc(name)
        if entry["health"] != health:
            entry["health"] = health
            self.emit("health", name, health=health, **why)

    def set_breaker(self, name: str) -> None:
        state = self.breaker(name).state
        entry = self.svc(name)
        if entry["breaker"] != state:
            entry["breaker"] = state
            self.emit("breaker", name, state=state)

    # -- one tick ---------------------------------------------------------------
    def tick(self) -> None:
        now = time.monotonic()
        rows = {eng.labels_of(r).get(eng.SERVICE_LABEL, ""): r for r in self.engine.containers(self.model.name)}
        for name in self.names:
            row = rows.get(name)
            service = self.model.services[name]
            breaker = self.breaker(name)
            self.set_breaker(name)
            running = row is not None and eng.state_of(row) == "running"
            if not running:
                code = row.get("ExitCode") if row else None
                if row is not None and code == 0 and self.model.one_shot(name):
                    continue  # an init container that did its job: not a crash
                self.set_health(name, "down", exit_code=code)
                self.restart(name, f"exited (code {code})" if row else "missing", now)
                continue
            started = self.started_at.setdefault(name, now)
            if service.health is None:
                if now - started >= 2 * self.interval:
                    self.succeed(name)
                continue
            if self.engine.docker:  # the daemon ran the test `retries` times already: its state is the verdict
                health = row.get("Health") if row else None
                if health == "healthy":
                    self.set_health(name, "healthy")
                    self.succeed(name)
                elif health == "unhealthy":
                    self.set_health(name, "unhealthy")
                    self.restart(name, "unhealthy", now)
                continue
            if now < self.next_check.get(name, 0.0):
                continue
            self.next_check[name] = now + min(service.health.interval, self.interval)
            check = self.engine.run("exec", eng.container_name(self.model, service), *service.health.argv(),
                                    timeout=service.health.timeout)  # fmt: skip
            if check.ok:
                self.failing[name] = 0
                self.set_health(name, "healthy")
                self.succeed(name)
            else:
                self.failing[name] = self.failing.get(name, 0) + 1
                if self.failing[name] >= service.health.retries:
                    self.set_health(name, "unhealthy", exit_code=check.returncode)
                    self.restart(name, "unhealthy", now)
            del breaker

    def succeed(self, name: str) -> None:
        breaker = self.breaker(name)
        self.fast_failures[name] = 0
        if breaker.state == "half-open":  # the trial run worked: close
            self.set_breaker(name)  # the half-open state is an event even when it lasted one check
            breaker.record_success()
            self.recent[name].clear()
        self.set_breaker(name)

    def restart(self, name: str, reason: str, now: float) -> None:
        breaker = self.breaker(name)
        began = time.time()
        if not breaker.allow():
            return  # open: left down; the event was written when it opened
        recent = self.recent[name]
        while recent and now - recent[0] > self.window:
            recent.popleft()
        quick = now - self.started_at.get(name, 0.0) < max(2 * self.interval, self.base * 4)
        self.fast_failures[name] = self.fast_failures.get(name, 0) + 1 if quick else 0
        fast = self.fast_failures[name]
        delay = backoff_delays(fast + 1, self.base, self.cap, jitter=0.0)[-1] if fast else 0.0
        if delay:
            time.sleep(delay)
        service = self.model.services[name]
        cname = eng.container_name(self.model, service)
        verb = "restart" if reason == "unhealthy" else "start"
        result = self.engine.run(verb, *(["-t", "1"] if verb == "restart" else []), cname, timeout=60)
        if not result.ok:
            eng.up(self.engine, self.model, [name])
        self.started_at[name] = time.monotonic()
        self.failing[name] = 0
        self.next_check[name] = time.monotonic() + (service.health.start_period if service.health else 0)
        entry = self.svc(name)
        entry["restarts"] = int(entry.get("restarts", 0)) + 1
        recent.append(now)
        self.emit(
            "restart", name, reason=reason, restarts=entry["restarts"], delay=round(delay, 3), began=round(began, 3)
        )
        breaker.failures = len(recent) - 1
        breaker.record_failure()
        if breaker.state == "open":
            entry["breaker"] = "open"
            self.emit(
                "breaker",
                name,
                state="open",
                reason=f"{len(recent)} restarts within {self.window:g}s (last: {reason}); left down",
            )

    # -- side loops -------------------------------------------------------------
    def _stamp(self) -> list[tuple[str, float]]:
        return [(str(p), p.stat().st_mtime) for p in self.model.files if p.exists()]

    def files_changed(self) -> None:
        stamp = self._stamp()
        if stamp == self.file_stamp:
            return
        self.file_stamp = stamp
        try:
            fresh = load(self.project)
        except Exception as exc:
            self.emit("config-error", "", error=str(exc))
            return
        changed = [n for n in fresh.services if n not in self.model.services
                   or fresh.services[n].digest() != self.model.services[n].digest()]  # fmt: skip
        self.model = fresh
        self.names = [n for n in self.names if n in fresh.services] + [n for n in changed if n not in self.names]
        self.emit("config-changed", "", services=changed)
        if changed:
            eng.up(self.engine, fresh, fresh.order(changed))
            for name in changed:
                self.started_at[name] = time.monotonic()

    def stats(self) -> None:
        out = self.engine.run("stats", "--no-stream", "--format", self.engine.json_format, timeout=30)
        if not out.ok:
            return
        try:
            rows = eng._json_list(out.stdout)
        except ValueError:
            return
        names = {eng.container_name(self.model, s): n for n, s in self.model.services.items()}
        for row in rows:
            service = names.get(str(row.get("Name") or row.get("name") or ""))
            if not service:
                continue
            for keys, limit, label in ((("CPU", "CPUPerc", "cpu_percent"), self.cpu_limit, "cpu"),
                                       (("MemPerc", "mem_percent"), self.mem_limit, "mem")):  # fmt: skip
                raw = str(next((row[k] for k in keys if row.get(k)), "0"))
                with contextlib.suppress(ValueError):
                    value = float(raw.rstrip("%") or 0)
                    tag = f"{service}:{label}"
                    if value > limit and tag not in self.warned:
                        self.warned.add(tag)
                        self.emit("resource-warning", service, resource=label, percent=value, limit=limit)
                    elif value <= limit:
                        self.warned.discard(tag)

    def stats_loop(self) -> None:
        """`stats` in its own thread: docker's takes two samples (~2 s), which must not hold up a restart."""
        while not self.stop.is_set():
            with contextlib.suppress(Exception):  # a failed sample is skipped, the next one may work
                self.stats()
            self.stop.wait(max(10 * self.interval, 5))

    def engine_events(self) -> None:
        """Follow the engine's events for the project's containers, from the saved cursor."""
        since = self.state.get("cursor") or str(int(time.time()))
        argv = [self.engine.binary, "events", "--format", self.engine.json_format, "--since", str(since),
                "--filter", f"label={eng.LABEL}={self.model.name}"]  # fmt: skip
        if self.engine.docker:  # docker also reports the project's labelled networks and volumes
            argv += ["--filter", "type=container"]
        seen: set[str] = set(self.state.get("cursor_seen", []))
        while not self.stop.is_set():
            child = proc.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            self.child = child
            assert child.stdout is not None
            for line in child.stdout:
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(data, dict):
                    continue
                event = eng.parse_event(data)
                stamp, key, status = event["cursor"], event["key"], event["status"]
                if key in seen or status.startswith("exec"):  # exec: healthchecks (ours, or docker's)
                    continue
                seen.add(key)
                with self.lock:
                    if self.state.get("cursor") != stamp:
                        seen = {key}
                    self.state["cursor"] = stamp
                    self.state["cursor_seen"] = sorted(seen)
                fields = {k: event[k] for k in ("status", "container", "exit_code")}
                self.emit("engine", event["service"], **fields)
                if status in ("died", "die", "stop", "kill", "oom", "health_status: unhealthy"):
                    self.wake.set()  # podman says died, docker die; docker also says when a test fails
                if self.stop.is_set():
                    break
            proc.stop(child, grace=1)
            argv[argv.index("--since") + 1] = str(self.state.get("cursor") or since)
            self.stop.wait(1)

    def run(self) -> int:
        thread = threading.Thread(target=self.engine_events, daemon=True)
        thread.start()
        self.open_journal()  # before watching: the first restart must not wait for SQLite's set-up
        self.emit("monitor-start", "", services=self.names, interval=self.interval)
        threading.Thread(target=self.stats_loop, daemon=True).start()
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                self.files_changed()
                self.tick()
                self.wake.wait(max(0.0, self.interval - (time.monotonic() - started)))
                self.wake.clear()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop.set()
            child = getattr(self, "child", None)
            if child is not None:
                proc.stop(child, grace=1)
            self.emit("monitor-stop", "")
        return 0
