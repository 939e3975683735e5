"""podman's seccomp profiles and the double sandbox's BPF file, built once and kept in the user cache
(XDG_CACHE_HOME/help/sandbox-seccomp/).

A profile's file is named after a key holding everything it is made of (the denied
syscalls, the layer, the engine profile's stat signature, FORMAT), so a changed
policy gets a new file. The file starts with that key and a CRC of the rest
(`{"helpKey":"KEY","helpCrc":"CRC",...}`; podman ignores keys it does not know):
a run reads it back, checks both, and rewrites it (atomically) when either is wrong.
Reusing a profile imports nothing but zlib; building one is the caller's job.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable

FORMAT = 1  # bump when the way a profile is built changes without any of its inputs changing


def folder() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "help", "sandbox-seccomp")


def _prefix(key: str) -> bytes:
    return b'{"helpKey":"' + key.encode("ascii") + b'","helpCrc":"'


def profile(key: str, build: Callable[[], bytes]) -> str:
    """The path of the profile for `key`: the cached file when intact, else `build()`'s JSON object written there.

    key: letters, digits and `_,.:/-` only (it is written inside a JSON string); build: a JSON object, b"{...}".
    """
    import zlib

    path = os.path.join(folder(), f"seccomp-{zlib.crc32(key.encode('ascii')):08x}.json")
    prefix = _prefix(key)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        data = b""
    if data.startswith(prefix) and data[len(prefix) + 8 : len(prefix) + 10] == b'",':
        rest = data[len(prefix) + 10 :]
        if data[len(prefix) : len(prefix) + 8] == b"%08x" % zlib.crc32(rest):
            return path
    body = build()
    if not body.startswith(b"{") or body.startswith(b"{}"):
        raise ValueError("a seccomp profile is a non-empty JSON object")
    rest = body[1:]
    from helper import fsutil

    fsutil.atomic_write(path, prefix + b"%08x" % zlib.crc32(rest) + b'",' + rest, mode=0o644, fsync=False)
    return path


def program(data: bytes) -> str:
    """The path of a file holding exactly `data` (bwrap's BPF program, mounted into the double sandbox's container).

    Named by its CRC and compared byte for byte on reuse, so a damaged or foreign file is rewritten.
    """
    import zlib

    path = os.path.join(folder(), f"bpf-{zlib.crc32(data):08x}-{len(data)}.bin")
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return path
    except OSError:
        pass
    from helper import fsutil

    fsutil.atomic_write(path, data, mode=0o644, fsync=False)
    return path
