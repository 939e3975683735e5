"""The schema of help.py's configuration: every known key, its type, its default.

A key is a dotted path ("cache.max_size"). Commands add their own sections here,
so `config check` knows every key and an unknown one is always an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One configuration key: its type, default and a line of help."""

    kind: str  # str | int | float | bool | size | list | table | choice
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    # For "table": values of the table are free-form (user-named entries, e.g.
    # processes or components); their inner shape is checked by the command.
    item: str | None = None


SCHEMA: dict[str, Setting] = {
    "profile": Setting("str", "development", "active profile: development, test, production, ..."),
    "python": Setting("str", None, "interpreter or version the project uses (e.g. 3.12)"),
    "manager": Setting(
        "choice", "auto", "package manager", choices=("auto", "uv", "poetry", "pdm", "conda", "pip")
    ),
    "cache.dir": Setting("str", ".help/cache", "local cache directory (relative to the project root)"),
    "cache.max_size": Setting("size", "2GiB", "size cap of the local cache; least recently used entries go first"),
    "cache.remote": Setting("str", None, "Bazel HTTP cache URL shared with CI (e.g. http://cache:8080/help)"),
    "cache.remote_timeout": Setting("float", 5.0, "seconds before a remote cache request is given up"),
    "cache.remote_write": Setting("bool", True, "upload local results to the remote cache"),
    "journal.enabled": Setting("bool", True, "record every run in .help/journal.sqlite"),
    "journal.keep": Setting("int", 5000, "how many runs the journal keeps"),
    "plugins.disabled": Setting("list", [], "plugins not to load"),
    "test.depends": Setting("list", [], "extra files (globs) every test depends on"),
    "test.pytest_args": Setting("list", [], "arguments always passed to pytest"),
    "test.env_vars": Setting("list", [], "environment variables whose values invalidate cached results"),
    "test.components": Setting("table", {}, "named components: name -> list of paths", item="list"),
    "test.setup": Setting("list", [], "commands run before the tests"),
    "test.teardown": Setting("list", [], "commands run after the tests"),
    "test.venv": Setting("str", ".venv", "environment the tests run in"),
    "test.extras": Setting("list", ["dev"], "extras installed into the test environment"),
    #
    # -- env ----------------------------------------------------------------
    #
    #
    # -- install ------------------------------------------------------------
    #
    "install.venv": Setting("str", ".venv", "environment directory for pip, uv and poetry projects"),
    "install.conda_prefix": Setting("str", ".conda", "prefix of the conda environment (environment.yml projects)"),
    "install.retries": Setting("int", 3, "attempts when the package index cannot be reached"),
    "install.timeout": Setting("float", 1800.0, "seconds one package-manager command may take"),
    "install.lock_timeout": Setting("float", 600.0, "seconds to wait for another install in the same project"),
    "install.check": Setting("bool", True, "check every installed requirement after each change"),
    #
    # -- run ----------------------------------------------------------------
    #
    #
    # -- build --------------------------------------------------------------
    #
    #
}

_SECRET = re.compile(r"secret|token|password|passwd|key|credential", re.IGNORECASE)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20}
_UNITS |= {"g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def is_secret(key: str) -> bool:
    """True for keys whose values must never be shown (secret, token, password, key...)."""
    return bool(_SECRET.search(key.rsplit(".", 1)[-1]))


def parse_size(value: str | int) -> int:
    """'2GiB' -> 2147483648; plain integers are bytes. Raises ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r}")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()])


def type_error(setting: Setting, value: Any) -> str | None:
    """Why `value` does not fit `setting`, or None when it does."""
    kind = setting.kind
    if kind in ("str", "choice"):
        if not isinstance(value, str):
            return "expected a string"
        if kind == "choice" and value not in setting.choices:
            return f"expected one of {', '.join(setting.choices)}"
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            return "expected an integer"
    elif kind == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return "expected a number"
    elif kind == "bool":
        if not isinstance(value, bool):
            return "expected true or false"
    elif kind == "size":
        try:
            parse_size(value)
        except ValueError:
            return "expected a size such as 500MiB or 2GiB"
    elif kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "expected a list of strings"
    elif kind == "table":
        if not isinstance(value, dict):
            return "expected a table"
        if setting.item == "list":
            for name, item in value.items():
                if not isinstance(item, list) or not all(isinstance(v, str) for v in item):
                    return f"{name}: expected a list of strings"
    return None


def coerce_env(setting: Setting, raw: str) -> Any:
    """Turn a HELP_* environment variable's text into the setting's type."""
    kind = setting.kind
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ValueError("expected true or false (1/0, yes/no)")
    if kind == "list":
        return [part.strip() for part in raw.split(",") if part.strip()]
    if kind == "table":
        raise ValueError("tables cannot be set from the environment")
    return raw


def defaults() -> dict[str, Any]:
    return {key: setting.default for key, setting in SCHEMA.items()}
