"""Safe file writes and inter-process locks.

Every write in help.py goes through `atomic_write`: a temp file in the same
directory, fsync, then os.replace, so a reader sees the old or the new content,
never a mix, even when the writer is killed mid-way. `FileLock` serialises
processes that change shared state (cache index, manifests).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from helper.errors import HelpError
from helper.statsig import signature, stat_signature  # noqa: F401 - the stat signature's home, re-exported

_TEMP_COUNTER = iter(range(1 << 62))


def _temp_beside(target: Path) -> tuple[int, str]:
    """A new, exclusive temp file next to `target`, making its folder when missing.

    (tempfile would bring random's import with it.)
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = f"{target.parent}{os.sep}.{target.name}.{os.getpid()}.{next(_TEMP_COUNTER)}.tmp"
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:  # left by a killed process that had our pid
            continue
        except FileNotFoundError:  # the folder first; asked only on this rare path, not on every write
            target.parent.mkdir(parents=True, exist_ok=True)
            return os.open(tmp, flags, 0o600), tmp


def current_umask() -> int:
    """The process's umask, read without changing it where /proc allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode() -> int:
    """The mode an editor gives a new file: 0666 less the umask."""
    return 0o666 & ~current_umask()


def atomic_write(
    path: str | os.PathLike[str], data: bytes | str, *, mode: int | None = None, fsync: bool = True
) -> None:
    """Replace `path` with `data` atomically, keeping its permissions.

    A new file gets `mode`, by default 0666 less the umask, as any editor would
    make it; pass mode=0o600 for secrets. An existing file keeps its own mode
    unless `mode` is given.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = os.stat(target).st_mode & 0o7777
        except (FileNotFoundError, NotADirectoryError):
            mode = default_mode()
    fd, tmp = _temp_beside(target)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy a file atomically (temp file + rename), preserving its mode."""
    source = Path(src)
    target = Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_beside(target)
    os.close(fd)
    try:
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Hold off SIGINT/SIGTERM for a few renames that must happen together (delivered right after)."""
    import signal

    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def atomic_copy_all(pairs: list[tuple[Path, Path]]) -> None:
    """Copy several files into place together: all of them or, on any error or Ctrl-C, none.

    Each is staged beside its target first; the renames then run with SIGINT/SIGTERM held
    off, so an interrupt lands before (targets as they were; a folder made for them is
    removed again) or after (all in place), never in between.
    """
    made = [p for p in dict.fromkeys(dst.parent for _src, dst in pairs) if not p.exists()]
    staged: list[tuple[str, Path]] = []
    try:
        for src, dst in pairs:
            fd, tmp = _temp_beside(dst)
            os.close(fd)
            staged.append((tmp, dst))
            shutil.copy2(src, tmp)
        with signals_blocked():
            for tmp, dst in staged:
                os.replace(tmp, dst)
            staged.clear()
    except BaseException:
        for tmp, _dst in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: ours, left as it was
        raise


class FileLock:
    """An exclusive (or shared) flock on a lock file, with a timeout.

    Locks are released by the kernel when the process dies, so a killed holder
    never leaves a stale lock behind.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0, shared: bool = False) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.shared = shared
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        flag = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, flag | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise HelpError(
                        f"another help.py process holds {self.path} (waited {self.timeout:.0f}s)",
                        "wait for it to finish, or find it with `help.py history` and stop it",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


@contextlib.contextmanager
def locked(path: str | os.PathLike[str], timeout: float = 30.0) -> Iterator[None]:
    with FileLock(path, timeout=timeout):
        yield
