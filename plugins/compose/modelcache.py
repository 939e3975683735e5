"""The parsed compose model's cache (.help/compose/model.marshal): its key and its validity, with `os` only.

plugins.compose.model builds the Model from a valid entry; `compose ps`'s fast
start path (plugins.compose.fast) reads the same entry without importing the
model code (re, pathlib). An entry holds while the compose files, the model code,
the .env, the variables interpolation used and every env_file it read are unchanged.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

BASE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
CACHE = ("compose", "model.marshal")  # in the state dir (.help/): the last model read, keyed by what it came from
CACHE_FORMAT = 2
CODE = ("model.py", "yamlish.py")  # the model's code: a change re-reads the files


def signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def path(root: str) -> str:
    from helper.root import state_dir  # follows HELP_STATE_DIR

    return os.path.join(state_dir(root), *CACHE)


def candidates(root: str, profile: str) -> list[str]:
    names = [*BASE_NAMES, f"compose.{profile}.yaml", f"compose.{profile}.yml"]
    return [os.path.join(root, n) for n in names]


def key(root: str, profile: str, configured: str | None) -> tuple[object, ...]:
    """What a cached model depends on besides its own recorded inputs; `configured` is run.env_file."""
    from helper import __version__

    code = [os.path.join(os.path.dirname(os.path.abspath(__file__)), n) for n in CODE]
    files = tuple((p, signature(p)) for p in (*candidates(root, profile), *code))
    return (CACHE_FORMAT, __version__, root, profile, configured, files)


def tuple_or_none(value: Any) -> tuple[int, ...] | None:
    return None if value is None else tuple(value)


def valid_entry(root: str, expected: tuple[object, ...]) -> dict[str, Any] | None:
    """The cached entry when it holds for `expected` (from `key`), the environment and its inputs; else None."""
    import marshal

    try:
        with open(path(root), "rb") as handle:
            stored_key, entry = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    try:
        if stored_key != expected or signature(entry["env_file"]) != tuple_or_none(entry["env_sig"]):
            return None
        if any(os.environ.get(name) != value for name, value in entry["environ"].items()):
            return None
        if any(signature(p) != tuple_or_none(sig) for p, sig in entry["extra"]["inputs"].items()):
            return None  # an env_file changed
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return dict(entry)
