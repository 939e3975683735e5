"""The schema of help.py's configuration: every known key, its type, its default.

A key is a dotted path ("cache.max_size"). Commands add their own sections here,
so `config check` knows every key and an unknown one is always an error.
"""

from __future__ import annotations

# re is imported by the two functions that match (a plugin's __init__ builds Settings on the fast start path)

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any


class Setting:
    """One configuration key: its type, default and a line of help.

    A plain class, not a dataclass or NamedTuple: this module loads on every
    run, and importing dataclasses or typing costs more than the rest of it.
    """

    __slots__ = ("choices", "default", "help", "item", "kind")

    def __init__(
        self,
        kind: str,  # str | int | float | bool | size | list | table | choice
        default: Any = None,
        help: str = "",
        choices: tuple[str, ...] = (),
        # For "table": values of the table are free-form (user-named entries, e.g.
        # processes or components); their inner shape is checked by the command.
        item: str | None = None,
    ) -> None:
        self.kind = kind
        self.default = default
        self.help = help
        self.choices = choices
        self.item = item


SCHEMA: dict[str, Setting] = {
    "profile": Setting("str", "development", "active profile: development, test, production, ..."),
    "python": Setting("str", None, "interpreter or version the project uses (e.g. 3.12)"),
    "manager": Setting("choice", "auto", "package manager", choices=("auto", "uv", "poetry", "pdm", "conda", "pip")),
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
    "test.components": Setting(
        "table",
        {},
        "named components: name -> list of paths (Python), or {path, runner, inputs, junit, timeout} (own runner)",
        item="component",
    ),
    "test.setup": Setting("list", [], "commands run before the tests"),
    "test.teardown": Setting("list", [], "commands run after the tests"),
    "test.venv": Setting("str", ".venv", "deprecated: when set, tests run in this environment as it is (never synced)"),
    "test.sync": Setting(
        "bool", True, "sync the project's environment before testing (false: use it as it is, e.g. in a sandbox)"
    ),
    "test.python": Setting(
        "str", None, "interpreter of an environment prepared elsewhere, used as it is (never synced)"
    ),
    "test.extras": Setting(
        "list", ["dev"], "deprecated, unused: the project's environment is synced with its dev dependencies"
    ),
    #
    # -- env ----------------------------------------------------------------
    #
    "env.timeout": Setting("float", 2.0, "seconds each environment detector may take before it is skipped"),
    "env.disabled": Setting("list", [], "environment detectors not to run (e.g. conda, pyenv, system)"),
    "env.venv_dirs": Setting(
        "list", [".venv", "venv", "env", ".env"], "project directories searched for a virtual environment"
    ),
    "env.report_dir": Setting("str", ".help", "where `env report` writes env-report.md/json (relative to the project)"),
    #
    # -- install ------------------------------------------------------------
    #
    "install.venv": Setting(
        "str", ".venv", "the project's environment directory (pip and uv projects), for every command"
    ),
    "install.conda_prefix": Setting("str", ".conda", "prefix of the conda environment (environment.yml projects)"),
    "install.retries": Setting("int", 3, "attempts when the package index cannot be reached"),
    "install.timeout": Setting("float", 1800.0, "seconds one package-manager command may take"),
    "install.lock_timeout": Setting("float", 600.0, "seconds to wait for another install in the same project"),
    "install.check": Setting("bool", True, "check every installed requirement after each change"),
    #
    # -- run ----------------------------------------------------------------
    #
    "run.processes": Setting(
        "table", {}, "processes: name -> {command, env, cwd, depends_on, ready, restart, reload, grace}"
    ),
    "run.procfile": Setting("str", "Procfile", "Procfile read when run.processes is empty"),
    "run.setup": Setting("list", [], "commands run to completion before the processes start (e.g. migrations)"),
    "run.autodetect": Setting(
        "bool", True, "detect FastAPI/Starlette, Flask, Django and alembic when nothing is configured"
    ),
    "run.env_template": Setting(
        "str", None, "template of .env (default: config/env.<profile>.template, config/env.template, .env.example)"
    ),
    "run.env_file": Setting(
        "str", None, "the generated env file (default: .env, or .env.<profile> outside development)"
    ),
    "run.host": Setting("str", "127.0.0.1", "host a detected web server binds"),
    "run.port": Setting("int", 8000, "port a detected web server listens on (PORT in the environment wins)"),
    "run.grace": Setting("float", 5.0, "seconds between SIGTERM and SIGKILL when stopping"),
    "run.ready_timeout": Setting("float", 60.0, "seconds a process may take to become ready"),
    "run.reload_interval": Setting("float", 1.0, "seconds between polls of the tree for processes with reload = true"),
    "run.restart_limit": Setting("int", 5, "crashes in a row after which a process is given up (crash loop)"),
    "run.restart_window": Setting("float", 10.0, "seconds a process must stay up for its crash count to reset"),
    "run.check_services": Setting("bool", True, "check DATABASE_URL / REDIS_URL servers are reachable before starting"),
    #
    #
    # -- build --------------------------------------------------------------
    #
    "build.outdir": Setting("str", "dist", "where wheels and sdists are written (relative to the project root)"),
    "build.installer": Setting(
        "choice", "auto", "what installs build requirements: uv when on PATH, else pip", choices=("auto", "uv", "pip")
    ),
    "build.python": Setting(
        "str", None, "interpreter the build environment is made from (default: the one running help.py)"
    ),
    "build.timeout": Setting("float", 1800.0, "seconds a build step (install, hook, upload, image) may take"),
    "build.tag_format": Setting("str", "v{version}", "git tag made by --tag; {version} is replaced"),
    "build.commit_message": Setting("str", "Release {version}", "commit message of a --bump --tag release"),
    "build.repository": Setting(
        "str", "https://upload.pypi.org/legacy/", "upload URL for --publish (legacy upload API)"
    ),
    "build.publisher": Setting(
        "choice", "auto", "upload tool: uv, twine, or the built-in uploader", choices=("auto", "uv", "twine", "builtin")
    ),
    "build.username": Setting(
        "str", None, "upload user name (password/token only from TWINE_PASSWORD, UV_PUBLISH_TOKEN, ...)"
    ),
    "build.engine": Setting(
        "choice", "auto", "container engine for `build image`", choices=("auto", "podman", "docker")
    ),
    "build.image": Setting("str", None, "image name for `build image` (default: the project's name)"),
    "build.containerfile": Setting(
        "str", None, "Containerfile for `build image` (default: Containerfile, then Dockerfile)"
    ),
    #
}

_SECRET = r"secret|token|password|passwd|key|credential"  # compiled on use: re caches it
_SIZE = r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$"
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20}
_UNITS |= {"g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def is_secret(key: str) -> bool:
    """True for keys whose values must never be shown (secret, token, password, key...)."""
    import re

    return bool(re.search(_SECRET, key.rsplit(".", 1)[-1], re.IGNORECASE))


def parse_size(value: str | int) -> int:
    """'2GiB' -> 2147483648; plain integers are bytes. Raises ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    import re

    match = re.match(_SIZE, str(value), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {value!r}")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()])


def type_error(setting: Setting, value: Any) -> str | None:
    """Why `value` does not fit `setting`, or None when it does."""
    found = problem_at(setting, value)
    if not found:
        return None
    problem, inside = found
    return f"{'.'.join(inside)}: {problem}" if inside else problem


# A component with its own runner (test.components): key -> what it must be.
COMPONENT_KEYS = {
    "path": "a string: the component's folder, relative to the project root",
    "runner": 'a string: the command that runs its tests, e.g. "node --test" or "npm test"',
    "inputs": "a list of strings: more files or globs its result depends on",
    "junit": "a string: the JUnit XML file the runner writes, relative to path",
    "timeout": "a number of seconds",
}


def _component_problem(name: str, item: Any) -> tuple[str, list[str]] | None:
    if isinstance(item, list):
        if all(isinstance(v, str) for v in item):
            return None
        return "expected a list of strings", [name]
    if not isinstance(item, dict):
        return "expected a list of paths or a table with path and runner", [name]
    for key, sub in item.items():
        if key not in COMPONENT_KEYS:
            return f"unknown key (known: {', '.join(COMPONENT_KEYS)})", [name, key]
        ok = (
            isinstance(sub, list) and all(isinstance(v, str) for v in sub)
            if key == "inputs"
            else isinstance(sub, (int, float)) and not isinstance(sub, bool) and sub > 0
            if key == "timeout"
            else isinstance(sub, str) and bool(sub.strip())
        )
        if not ok:
            return f"expected {COMPONENT_KEYS[key]}", [name, key]
    for key in ("path", "runner"):
        if key not in item:
            return f"{key} is missing (expected {COMPONENT_KEYS[key]})", [name]
    return None


def problem_at(setting: Setting, value: Any) -> tuple[str, list[str]] | None:
    """Why `value` does not fit `setting` and where inside it (key path below the setting), or None."""
    if setting.kind == "table" and setting.item == "component":
        if not isinstance(value, dict):
            return "expected a table", []
        for name, item in value.items():
            found = _component_problem(name, item)
            if found:
                return found
        return None
    problem = _type_problem(setting, value)
    return (problem, []) if problem else None


def _type_problem(setting: Setting, value: Any) -> str | None:
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
