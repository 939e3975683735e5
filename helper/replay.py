"""Answers replayed before the CLI loads: a command's output reused while nothing it read has changed.

Some answers depend only on files and variables: a no-op `install` on an
environment already in sync, say. When such a command succeeds it *offers* its
answer with the paths it read; the CLI then records, in .help/replay/, the exact
text it printed, its exit code and the stat signature (mtime_ns, size, inode) of
each path, under the arguments, the working directory, the relevant variables
and whether stdout and stderr are terminals. The next identical invocation
checks those signatures (a few stat calls) and, if all still hold, prints the
same text without importing anything beyond `os`. Anything uncertain (a changed
or too-fresh file, a different variable, a missing record) means the full
command runs, so a replay always says what the full command would say.

Replayed runs still reach the journal: each leaves a small file in
.help/journal.pending/ that the next full run moves into the SQLite journal.
"""

from __future__ import annotations

import os
import sys
import time

from helper import __version__
from helper.envs.keys import ENV_VARS
from helper.root import find_root, state_dir
from helper.statsig import stat_signature

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

HEADER = "help.py replay 2"
REPLAY_DIR = "replay"
PENDING_DIR = "journal.pending"
RACY_WINDOW_NS = 2_000_000_000  # a file this fresh may change again within the same mtime tick
# Besides HELP_*, the variables whose values can change an answer: where tools keep environments and
# how output is styled.
VARIABLES = (*ENV_VARS, "NO_COLOR", "TERM", "CI", "GITHUB_ACTIONS")

_offered: Offer | None = None


class Offer:
    """What a command read to reach its answer: files (and folders), its own state files, more variables."""

    __slots__ = ("own", "paths", "variables")

    def __init__(self, paths: list[str], own: list[str], variables: list[str]) -> None:
        self.paths = paths
        self.own = own
        self.variables = variables


def offer(
    paths: Iterable[str | os.PathLike[str]],
    *,
    own: Iterable[str | os.PathLike[str]] = (),
    variables: Iterable[str] = (),
) -> None:
    """Called by a command whose answer depends only on `paths` and variables.

    `own` are help.py's own state files: always replaced whole by rename (so any
    rewrite gives a new inode) and so exempt from the freshness rule. `variables`
    are names beyond the standard ones (VARIABLES and HELP_*).
    """
    global _offered
    _offered = Offer([os.fspath(p) for p in paths], [os.fspath(p) for p in own], list(variables))


def take_offer() -> Offer | None:
    global _offered
    found, _offered = _offered, None
    return found


def context(argv: list[str], environ: Mapping[str, str], extra: Iterable[str] = ()) -> str:
    """Everything besides files that an answer may depend on, as one comparable line."""
    variables = {k: environ.get(k) for k in VARIABLES}
    variables.update((k, v) for k, v in sorted(environ.items()) if k.startswith("HELP_") and k != "HELP_DEBUG")
    variables.update((k, environ.get(k)) for k in extra)
    ttys = tuple(_isatty(fd) for fd in (1, 2))
    return repr((__version__, sys.executable, argv, os.getcwd(), ttys, variables))


def record_name(argv: list[str]) -> str:
    words = "-".join(argv)
    if words.replace("-", "").isalnum() and len(words) < 80:
        return words
    import zlib  # built in, unlike hashlib (OpenSSL): a collision only means a context mismatch, never a wrong answer

    joined = "\0".join(argv).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(joined):08x}-{len(joined)}"


def eligible(argv: list[str]) -> bool:
    """Arguments a replay can stand for: not --debug (which wants the real run)."""
    return "--debug" not in argv


def project_option(argv: list[str]) -> str | None:
    """The directory given by -C DIR / --project DIR (the last one, as argparse takes it), if any."""
    found = None
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg in ("-C", "--project"):
            found = argv[index + 1] if index + 1 < len(argv) else None
        elif arg.startswith("--project="):
            found = arg[len("--project=") :]
        elif arg.startswith("-C") and len(arg) > 2:
            found = arg[2:]
    return found


def signature(path: str) -> str:
    """helper.statsig's signature as the record's text: "mtime_ns size inode", or "-"."""
    found = stat_signature(path)
    return "-" if found is None else f"{found[0]} {found[1]} {found[2]}"


def replay(argv: list[str], environ: Mapping[str, str] = os.environ) -> int | None:
    """Print a recorded answer for `argv` and return its exit code, or None when the command must run."""
    started = time.time()
    if not eligible(argv):
        return None
    # -C DIR is looked up like a cwd inside DIR: the record is still keyed by the arguments and the
    # cwd, so a relative DIR means what it meant when the answer was recorded.
    root = find_root(project_option(argv) or environ.get("HELP_PROJECT") or ".")
    if root is None:
        return None
    state = state_dir(root)
    try:
        with open(os.path.join(state, REPLAY_DIR, record_name(argv)), encoding="utf-8") as handle:
            text = handle.read()
        head, body = text.split("\n\n", 1)
        lines = head.split("\n")
        if lines[0] != HEADER or lines[2] != context(argv, environ, lines[1].split()[1:]):
            return None
        command = lines[3]
        code, out_len, err_len = (int(n) for n in lines[4].split())
        for line in lines[5:]:
            path, _, recorded = line.partition("\t")
            if signature(path) != recorded:
                return None
    except (OSError, ValueError, IndexError):
        return None
    sys.stdout.write(body[:out_len])
    sys.stdout.flush()
    sys.stderr.write(body[out_len : out_len + err_len])
    sys.stderr.flush()
    _journal_pending(state, started, command, argv, code)
    return code


def record(
    root: str | os.PathLike[str], command: str, argv: list[str], found: Offer, code: int, out: str, err: str
) -> bool:
    """Save an answer for replay, unless a path is unsuitable or too fresh to trust its stat."""
    if not eligible(argv) or os.environ.get("HELP_DEBUG") == "1":
        return False
    if any(not name.replace("_", "").isalnum() for name in found.variables):
        return False
    now = time.time_ns()
    own = set(found.own)
    entries = []
    for path in dict.fromkeys([*found.paths, *found.own]):
        if "\n" in path or "\t" in path:
            return False
        sig = signature(path)
        if sig != "-" and path not in own and now - int(sig.split()[0]) < RACY_WINDOW_NS:
            return False
        entries.append(f"{path}\t{sig}")
    extra = sorted(set(found.variables))
    head = [
        HEADER,
        " ".join(["variables:", *extra]),
        context(argv, os.environ, extra),
        command,
        f"{code} {len(out)} {len(err)}",
    ]
    from helper.fsutil import atomic_write

    text = "\n".join([*head, *entries]) + "\n\n" + out + err
    atomic_write(os.path.join(state_dir(os.fspath(root)), REPLAY_DIR, record_name(argv)), text, fsync=False)
    return True


def _journal_pending(state: str, started: float, command: str, argv: list[str], code: int) -> None:
    """One small file per replayed run, moved into the journal by the next full run."""
    folder = os.path.join(state, PENDING_DIR)
    line = "\t".join(
        [repr(started), repr(time.time() - started), command, str(code), os.getcwd(), str(os.getpid()), __version__]
    )
    body = line + "\n" + "\0".join(argv)
    name = f"{time.time_ns()}-{os.getpid()}"
    try:
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, "." + name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, body.encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(folder, name + ".run"))
    except OSError:
        pass  # the journal must never stop the answer itself


def read_pending(state: str) -> list[tuple[float, float, str, int, str, int, str, list[str]]]:
    """Claim and parse the pending journal entries (each file is claimed by one reader only)."""
    folder = os.path.join(state, PENDING_DIR)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".run"))
    except OSError:
        return []
    rows = []
    for name in names:
        claimed = os.path.join(folder, f".{name}.{os.getpid()}.claimed")
        try:
            os.rename(os.path.join(folder, name), claimed)
            with open(claimed, encoding="utf-8", errors="surrogateescape") as handle:
                first, _, args = handle.read().partition("\n")
            os.unlink(claimed)
            started, duration, command, code, cwd, pid, version = first.split("\t")
            rows.append((float(started), float(duration), command, int(code), cwd, int(pid), version, args.split("\0")))
        except (OSError, ValueError):
            continue
    return rows


class Tee:
    """A text stream that writes through and keeps a copy, so an answer can be recorded as printed."""

    def __init__(self, stream: object) -> None:
        self._stream = stream
        self.copy: list[str] = []

    def write(self, text: str) -> int:
        self.copy.append(text)
        return self._stream.write(text)  # type: ignore[attr-defined,no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
