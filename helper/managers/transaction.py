"""Backups of the manifest and lock around every change, restored byte for byte on failure.

Before a change each file is copied to .help/backups/<stamp>/ and
.help/backups/pending.json names that backup and the tool processes started
since. Failure, Ctrl-C, SIGTERM or conflicts restore the files at once. If
help.py is killed outright (SIGKILL, power loss) pending.json survives, and
the next install command stops the orphaned tool and restores the files before
anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import time
from pathlib import Path
from types import TracebackType

from helper.fsutil import atomic_copy, atomic_write, signals_blocked

KEEP = 10  # finished backups kept for the curious


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class Transaction:
    """`with Transaction(...) as tx:` backs files up; an exception inside restores them."""

    def __init__(self, state_dir: Path, root: Path, files: list[Path], action: str) -> None:
        self.backups = state_dir / "backups"
        self.root = root
        self.files = files
        self.action = action
        self.dir: Path | None = None
        self.record: dict = {}
        self.restored: list[str] = []

    @property
    def pending(self) -> Path:
        return self.backups / "pending.json"

    def begin(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        self.dir = self.backups / stamp
        self.dir.mkdir(parents=True, exist_ok=True)
        files = {}
        for index, path in enumerate(self.files):
            rel = os.path.relpath(path, self.root)
            digest = _sha(path)
            copy = f"{index}-{path.name}" if digest is not None else None
            if copy:
                atomic_copy(path, self.dir / copy)
            files[rel] = {"sha256": digest, "copy": copy}
        self.record = {
            "action": self.action,
            "dir": stamp,
            "pid": os.getpid(),
            "started": time.time(),
            "files": files,
            "children": [],
        }
        atomic_write(self.dir / "backup.json", json.dumps(self.record, indent=1), fsync=False)
        atomic_write(self.pending, json.dumps(self.record), fsync=True)  # only now is a rollback possible

    def child(self, pid: int) -> None:
        """Remember a tool's process group so a later recovery can stop it."""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv0 = handle.read().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            argv0 = ""
        self.record["children"].append({"pid": pid, "argv0": argv0})
        atomic_write(self.pending, json.dumps(self.record), fsync=False)

    def changed(self) -> list[str]:
        return [rel for rel, info in self.record["files"].items() if _sha(self.root / rel) != info["sha256"]]

    def rollback(self) -> list[str]:
        """Put every file back as it was (deleting those that did not exist); returns those restored."""
        with signals_blocked():
            self.restored = restore(self.root, self.backups / self.record["dir"], self.record)
            self._finish("rolled back")
        return self.restored

    def commit(self) -> None:
        self._finish("committed")

    def _finish(self, status: str) -> None:
        self.record["status"] = status
        if self.dir is not None:
            atomic_write(self.dir / "backup.json", json.dumps(self.record, indent=1), fsync=False)
        with contextlib.suppress(FileNotFoundError):
            self.pending.unlink()
        prune(self.backups)

    def __enter__(self) -> Transaction:
        self.begin()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and self.pending.exists():
            self.rollback()
        elif exc_type is None and self.pending.exists():
            self.commit()


def restore(root: Path, folder: Path, record: dict) -> list[str]:
    restored = []
    for rel, info in record["files"].items():
        target = root / rel
        if _sha(target) == info["sha256"]:
            continue
        if info["sha256"] is None:
            with contextlib.suppress(FileNotFoundError):
                # Keep what the interrupted change made, next to the backup, in case it is wanted.
                shutil.move(str(target), str(folder / f"new-{target.name}"))
        else:
            if target.exists():
                shutil.copy2(target, folder / f"new-{target.name}")
            atomic_copy(folder / info["copy"], target)
            if _sha(target) != info["sha256"]:
                raise OSError(f"restoring {rel} from {folder} did not give back the same bytes")
        restored.append(rel)
    return restored


def _stop_orphans(children: list[dict]) -> None:
    """Stop tool process groups an outright-killed help.py left running (checking they are still ours)."""
    for child in children:
        pid = int(child.get("pid") or 0)
        if pid <= 0:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv0 = handle.read().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        if child.get("argv0") and argv0 != child["argv0"]:
            continue  # the pid was reused by something else
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
                time.sleep(0.05)


def recover(state_dir: Path, root: Path) -> list[str]:
    """Finish the rollback of a change whose help.py died; call with the install lock held."""
    pending = state_dir / "backups" / "pending.json"
    try:
        record = json.loads(pending.read_text())
    except FileNotFoundError:
        return []
    except ValueError:
        pending.unlink()
        return []
    _stop_orphans(record.get("children", []))
    with signals_blocked():
        folder = state_dir / "backups" / record["dir"]
        restored = restore(root, folder, record)
        record["status"] = "recovered"
        atomic_write(folder / "backup.json", json.dumps(record, indent=1), fsync=False)
        pending.unlink()
    return restored


def prune(backups: Path, keep: int = KEEP) -> None:
    try:
        folders = sorted((p for p in backups.iterdir() if p.is_dir()), key=lambda p: p.name)
    except OSError:
        return
    for old in folders[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
