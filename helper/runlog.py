"""Run records written without SQLite: the journal's cheap path for a command's start and end.

Opening the SQLite journal (import, connect, WAL set-up, two transactions) costs
more than a quick command itself, so a run leaves its record as one small file
in .help/journal.pending/ and the next reader of the journal (`history`,
`doctor`, `metrics`, any command that opens helper.journal) moves it into the
table. Each file is written whole to a temp name and renamed into place (the
atomic-write rule, without fsync, as SQLite's WAL in synchronous=NORMAL): a
reader sees a complete record or none, never a torn one.

A long-running command writes KEY.start when it begins (shown as running, and
kept as "killed" once its process is gone without an end) and KEY.rec when it
ends; the end is written in the CLI's `finally`, so before the process exits,
on errors too. Only `os`, `time` and the built-in `marshal` are imported.
"""

from __future__ import annotations

import marshal
import os
import time

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

PENDING_DIR = "journal.pending"  # shared with helper.replay, whose replayed runs leave NAME.run files
START, END = ".start", ".rec"
FORMAT = 1
FIELDS = (
    "started",
    "duration",
    "command",
    "argv",
    "cwd",
    "pid",
    "version",
    "exit_code",
    "error",
    "cache_hits",
    "cache_misses",
    "details",
)


# Patterns compiled on first use (re caches them): most runs have nothing to mask.
_SECRET_WORDS = ("secret", "token", "password", "passwd", "key", "credential")
_SECRET_OPT = r"^(--?[\w-]*(secret|token|password|passwd|key|credential)[\w-]*)(=.*)?$"
_SECRET_ASSIGN = r"^([\w.-]*(secret|token|password|passwd|key|credential)[\w.-]*)=.*$"
_URL_CREDENTIALS = r"(://[^:/@\s]+:)[^@/\s]+@"


def mask_argv(argv: list[str]) -> list[str]:
    """Hide values of secret-looking options, NAME=value pairs and URL passwords."""
    if not any(word in arg.lower() for arg in argv for word in _SECRET_WORDS) and not any("@" in a for a in argv):
        return list(argv)
    import re

    masked: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            masked.append("****")
            hide_next = False
            continue
        option = re.match(_SECRET_OPT, arg, re.IGNORECASE)
        if option:
            if option.group(3):
                masked.append(option.group(1) + "=****")
            else:
                masked.append(arg)
                hide_next = True
            continue
        assign = re.match(_SECRET_ASSIGN, arg, re.IGNORECASE)
        if assign:
            masked.append(assign.group(1) + "=****")
            continue
        masked.append(re.sub(_URL_CREDENTIALS, r"\1****@", arg))
    return masked


def new_key() -> str:
    return f"{time.time_ns()}-{os.getpid()}"


def _write(folder: str, name: str, record: dict[str, Any]) -> None:
    payload = marshal.dumps((FORMAT, record))
    tmp = os.path.join(folder, f".{name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(folder, name))


def record(
    state_dir: str,
    key: str,
    *,
    started: float,
    command: str,
    argv: list[str],
    version: str,
    exit_code: int | None = None,
    duration: float | None = None,
    error: str | None = None,
    cache_hits: int = 0,
    cache_misses: int = 0,
    details: str | None = None,
) -> None:
    """Write run `key`'s start (exit_code None) or its end (which replaces the start)."""
    folder = os.path.join(state_dir, PENDING_DIR)
    entry = {
        "started": started,
        "duration": duration,
        "command": command,
        "argv": mask_argv(argv),  # secrets never reach the disk
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "version": version,
        "exit_code": exit_code,
        "error": error,
        "cache_hits": cache_hits,
        "cache_misses": cache_misses,
        "details": details,
    }
    if exit_code is None:
        _write(folder, key + START, entry)
        return
    _write(folder, key + END, entry)
    try:  # noqa: SIM105 - contextlib is not imported on this path
        os.unlink(os.path.join(folder, key + START))
    except OSError:
        pass  # there was none, or a reader already took it


def read(path: str) -> dict[str, Any] | None:
    """One record file, or None when it is unreadable or of an unknown format."""
    try:
        with open(path, "rb") as handle:
            version, entry = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if version != FORMAT or not isinstance(entry, dict) or any(f not in entry for f in FIELDS):
        return None
    return entry


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True


def take(state_dir: str) -> list[dict[str, Any]]:
    """Claim the finished records, and the starts whose process is gone (killed): each by one reader only.

    The caller holds the journal's lock, so readers never race each other; a writer's end file
    appears before its process exits, so a start seen without an end after its process is gone
    is a run that was killed.
    """
    folder = os.path.join(state_dir, PENDING_DIR)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    ends = {n[: -len(END)] for n in names if n.endswith(END)}
    taken = []
    for name in names:
        if name.startswith("."):
            continue
        if name.endswith(END):
            key = name[: -len(END)]
        elif name.endswith(START) and name[: -len(START)] not in ends:
            key = name[: -len(START)]
            entry = read(os.path.join(folder, name))
            if entry is not None and alive(int(entry["pid"])):
                continue  # still running
            if os.path.exists(os.path.join(folder, key + END)):
                continue  # it ended meanwhile: its end file is taken on the next read
        else:
            continue
        claimed = os.path.join(folder, f".{name}.{os.getpid()}.claimed")
        try:
            os.rename(os.path.join(folder, name), claimed)
        except OSError:
            continue
        entry = read(claimed)
        try:
            os.unlink(claimed)
            if name.endswith(END):
                os.unlink(os.path.join(folder, key + START))
        except OSError:
            pass
        if entry is not None:
            taken.append(entry)
    return taken


def running(state_dir: str) -> list[dict[str, Any]]:
    """Starts of runs whose process is still alive (not claimed: they are not finished)."""
    folder = os.path.join(state_dir, PENDING_DIR)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    found = []
    for name in names:
        if name.endswith(START) and not name.startswith("."):
            entry = read(os.path.join(folder, name))
            if entry is not None and alive(int(entry["pid"])):
                found.append(entry)
    return found
