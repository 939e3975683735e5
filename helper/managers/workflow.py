"""One install operation as a pipeline: lock -> recover -> back up -> change -> check -> commit or roll back.

Every change (sync, add, remove, upgrade, lock) runs under the project's install
lock, inside a Transaction that restores manifest and lock byte for byte when the
tool fails, the user interrupts (Ctrl-C, SIGTERM) or the conflict check finds
an unmet requirement; on failure the environment is brought back too.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from helper.errors import HelpError
from helper.fsutil import FileLock
from helper.managers import conflicts, state, transaction
from helper.managers.base import Manager, Runner
from helper.ui import console


class ConflictError(HelpError):
    """The change would leave installed requirements unsatisfied."""


@dataclass
class Outcome:
    manager: str
    action: str
    status: str = "done"  # done | in-sync
    added: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)
    upgraded: list[dict[str, str]] = field(default_factory=list)
    downgraded: list[dict[str, str]] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    seconds: float = 0.0
    manager_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so the rollback runs.

    Only the main thread can set handlers (and receives signals): in another
    thread (an agent worker's) this is a no-op and the main thread's handlers stay.
    """

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def diff(
    before: dict[str, str], after: dict[str, str]
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    """(added, removed, upgraded, downgraded) between two {name: version} listings."""
    added = [{"name": n, "version": after[n]} for n in sorted(after) if n not in before]
    removed = [{"name": n, "version": before[n]} for n in sorted(before) if n not in after]
    upgraded: list[dict[str, str]] = []
    downgraded: list[dict[str, str]] = []
    for n in sorted(after):
        if n in before and before[n] != after[n]:
            change = {"name": n, "from": before[n], "to": after[n]}
            (downgraded if _older(after[n], before[n]) else upgraded).append(change)
    return added, removed, upgraded, downgraded


def _older(new: str, old: str) -> bool:
    from helper.managers.envcheck import InvalidVersion, Version

    try:
        return Version(new) < Version(old)
    except InvalidVersion:
        return False


def execute(
    project: Any, manager: Manager, action: str, operation: Callable[[Runner], None], *, force: bool = False
) -> Outcome:
    """Run `operation(runner)` as one safe change of the project's environment."""
    started = time.monotonic()
    state_dir = project.ensure_state_dir()
    outcome = Outcome(manager.name, action)
    lock = FileLock(state_dir / "install.lock", timeout=float(project.config["install.lock_timeout"]))
    with lock, terminate_as_interrupt():
        outcome.recovered = transaction.recover(state_dir, project.root)
        if outcome.recovered:
            console.warn(
                f"an interrupted install had left {', '.join(outcome.recovered)} changed: restored from .help/backups/"
            )
        if action == "sync" and not force and state.in_sync(project, manager):
            outcome.status = "in-sync"  # another process finished the same work while we waited
            return outcome
        before = manager.installed()
        runner = Runner(
            cwd=project.root,
            retries=int(project.config["install.retries"]),
            timeout=float(project.config["install.timeout"]),
        )
        tx = transaction.Transaction(state_dir, project.root, manager.manifest_files(), action)
        tx.begin()
        runner.on_spawn = tx.child
        try:
            operation(runner)
            if project.config["install.check"]:
                _check(manager, action)
        except BaseException as exc:
            restored = tx.rollback()
            state.forget(project)
            if restored:
                console.info(f"restored {', '.join(restored)} from the backup")
            if not isinstance(exc, KeyboardInterrupt) and action != "sync" and manager.installed() != before:
                try:
                    manager.restore_env(runner, before)
                except HelpError as again:
                    console.warn(f"could not bring the environment back ({again.message}); run `help.py install`")
            elif isinstance(exc, KeyboardInterrupt):
                console.warn("the environment may be half-installed; `help.py install` brings it back in sync")
            raise
        outcome.files_changed = tx.changed()
        tx.commit()
        state.save(project, manager)
    outcome.added, outcome.removed, outcome.upgraded, outcome.downgraded = diff(before, manager.installed())
    outcome.seconds = round(time.monotonic() - started, 3)
    return outcome


def _check(manager: Manager, action: str) -> None:
    python = manager.python()
    if not python.exists():
        console.verbose(f"no interpreter at {python}: conflict check skipped")
        return
    report = conflicts.check(python)
    problems = report.get("problems") or []
    if problems:
        lines = [conflicts.describe(p) for p in problems]
        for line in lines[1:]:
            console.info("  " + line)
        more = f" (and {len(lines) - 1} more, listed above)" if len(lines) > 1 else ""
        if action == "sync":
            raise ConflictError(
                f"the environment has conflicts: {lines[0]}{more}",
                "the installed versions are the ones the manifest or lock asks for; fix their versions and install again",
            )
        raise ConflictError(
            f"the change leaves conflicts: {lines[0]}{more}",
            "nothing was changed: the manifest, the lock and the environment were restored; relax the versions and try again",
        )
