"""Find the project root and load its configuration in layers.

Layers, later wins: built-in defaults < [tool.help] in pyproject.toml <
config/help.toml < config/help.<profile>.toml < HELP_* environment variables.
Every value remembers where it came from (file:line or the variable), so errors
and `config show` can point at it.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path

from helper.config_schema import SCHEMA, coerce_env, defaults, problem_at, type_error
from helper.errors import ConfigError
from helper.root import RESERVED_VARIABLES
from helper.root import ROOT_MARKERS as ROOT_MARKERS  # re-exported: the loader's markers
from helper.root import find_root as _find_root

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

ENV_PREFIX = "HELP_"
ENV_RESERVED = RESERVED_VARIABLES  # HELP_* variables that steer help.py itself rather than set a config key


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding a project marker."""
    found = _find_root(os.fspath(start))
    return Path(found) if found is not None else None


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; a syntax error becomes a ConfigError naming file:line."""
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path.name} is not UTF-8 text ({exc.reason})", "save the file as UTF-8", where=str(path)
        ) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = match.group(1) if match else "1"
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        raise ConfigError(
            f"invalid TOML: {reason}",
            "fix the syntax at that line (https://toml.io); nothing was changed",
            where=f"{path}:{line}",
        ) from None


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-\.\"' ]+?)\s*=")


def _split_key(raw: str) -> list[str]:
    return [part.strip().strip("\"'") for part in raw.split(".")]


def key_line(text: str, path: list[str]) -> int | None:
    """The line (1-based) where the dotted key `path` is defined in TOML `text`."""
    table: list[str] = []
    best: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_key(header.group(1))
            if table == path:
                return number
            if best is None and len(table) > len(path) and table[: len(path)] == path:
                best = number  # a sub-table of the key ([a.b.name] for a.b)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            full = table + _split_key(assign.group(1))
            if full == path:
                return number
            inline = len(full) < len(path) and path[: len(full)] == full  # an inline table holding the key
            inside = len(full) > len(path) and full[: len(path)] == path  # a dotted key below it
            if best is None and (inline or inside):
                best = number
    return best


class Layer:
    """One configuration source: a file's settings or the environment's."""

    def __init__(self, name: str, values: dict[str, Any], where: dict[str, str]) -> None:
        self.name = name  # file path or "environment"
        self.values = values
        self.where = where


def flatten(table: dict[str, Any], *, source: Path, text: str, prefix: list[str]) -> Layer:
    """Turn a (nested) TOML table into dotted keys, validating each against SCHEMA."""
    values: dict[str, Any] = {}
    where: dict[str, str] = {}

    def locate(parts: list[str]) -> str:
        line = key_line(text, prefix + parts)
        return f"{source}:{line or 1}"

    def walk(node: dict[str, Any], parts: list[str]) -> None:
        for key, value in node.items():
            path = [*parts, key]
            dotted = ".".join(path)
            setting = SCHEMA.get(dotted)
            if setting is not None:
                found = problem_at(setting, value)
                if found:
                    problem, inside = found
                    shown = value if not inside else _dig(value, inside)
                    raise ConfigError(
                        f"{'.'.join(prefix + path + inside)}: {problem}, got {shown!r}",
                        f"{setting.help}; see `help.py config show` for the current values",
                        where=locate(path + inside) if key_line(text, prefix + path + inside) else locate(path),
                    )
                values[dotted] = value
                where[dotted] = locate(path)
            elif isinstance(value, dict) and any(k.startswith(dotted + ".") for k in SCHEMA):
                walk(value, path)
            else:
                known = [k for k in SCHEMA if k.startswith(".".join(parts))] if parts else list(SCHEMA)
                import difflib  # only on the error path

                close = difflib.get_close_matches(dotted, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "remove it; `help.py config show` lists known keys"
                raise ConfigError(f"unknown setting {'.'.join(prefix + path)!r}", hint, where=locate(path))

    walk(table, [])
    return Layer(str(source), values, where)


def _dig(value: Any, inside: list[str]) -> Any:
    for part in inside:
        value = value[part] if isinstance(value, dict) else value
    return value


def env_layer(environ: dict[str, str]) -> Layer:
    """Settings from HELP_* variables: HELP_CACHE__MAX_SIZE -> cache.max_size."""
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_RESERVED:
            continue
        dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        setting = SCHEMA.get(dotted)
        if setting is None:
            known = ["HELP_" + k.upper().replace(".", "__") for k in SCHEMA]
            import difflib  # only on the error path

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"unset it; known variables: {', '.join(known[:6])}, ..."
            raise ConfigError(f"environment variable {name} names no setting", hint)
        try:
            value = coerce_env(setting, raw)
        except ValueError as exc:
            raise ConfigError(f"environment variable {name}={raw!r}: {exc}", setting.help) from None
        problem = type_error(setting, value)
        if problem:
            raise ConfigError(f"environment variable {name}={raw!r}: {problem}", setting.help)
        values[dotted] = value
        where[dotted] = f"environment {name}"
    return Layer("environment", values, where)


class Project:
    """A project: its root, its merged configuration and where each value came from.

    A plain class (not a dataclass): it is built on every run, and importing
    dataclasses costs more than everything else this module does.
    """

    def __init__(
        self,
        root: Path,
        found: bool,
        profile: str,
        config: dict[str, Any] | None = None,
        sources: dict[str, str] | None = None,
        files: list[Path] | None = None,
    ) -> None:
        self.root = root
        self.found = found
        self.profile = profile
        self.config = defaults() if config is None else config
        self.sources = {} if sources is None else sources
        self.files = [] if files is None else files

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r}, profile={self.profile!r})"

    @property
    def state_dir(self) -> Path:
        from helper.root import state_dir

        return Path(state_dir(str(self.root)))

    def ensure_state_dir(self) -> Path:
        """Create .help/ (git-ignored by its own .gitignore, so the user's is untouched)."""
        state = self.state_dir
        if not (state / ".gitignore").exists():
            from helper.fsutil import atomic_write

            state.mkdir(parents=True, exist_ok=True)
            atomic_write(state / ".gitignore", "# help.py's state: never commit it\n*\n", fsync=False)
        return state

    def get(self, key: str) -> Any:
        if key not in SCHEMA:
            from helper.plugins import register_settings

            register_settings()
            if key not in SCHEMA:
                raise KeyError(key)
        return self.config.get(key)

    @cached_property
    def pyproject(self) -> dict[str, Any]:
        path = self.root / "pyproject.toml"
        return read_toml(path)[0] if path.is_file() else {}

    @property
    def name(self) -> str:
        return str(self.pyproject.get("project", {}).get("name") or self.root.name)


def load(start: Path | None = None, *, profile: str | None = None, environ: dict[str, str] | None = None) -> Project:
    """Find the project from `start` (default: cwd) and merge its configuration layers."""
    env = dict(os.environ if environ is None else environ)
    start = start or Path.cwd()
    if not start.exists():
        raise ConfigError(f"project directory {start} does not exist", "pass an existing directory to --project")
    root = find_root(start)
    from helper.plugins import register_settings

    register_settings()  # plugin keys are in SCHEMA whether or not the cached configuration is used
    project = Project(root=root or start.resolve(), found=root is not None, profile="development")
    if not project.found:
        return _merge(project, profile, env)
    from helper import config_cache

    signature = config_cache.signature(project.root, profile, env)
    cached = config_cache.read(project.root, signature)
    if cached is not None:
        return cached
    _merge(project, profile, env)
    config_cache.write(project, signature)
    return project


def _merge(project: Project, profile: str | None, env: dict[str, str]) -> Project:
    """Read and validate every configuration layer of `project` into it."""
    from helper.plugins import register_settings

    register_settings()
    for key, value in defaults().items():
        project.config.setdefault(key, value)
    project.sources = {key: "default" for key in SCHEMA}

    layers: list[Layer] = []
    pyproject = project.root / "pyproject.toml"
    if pyproject.is_file():
        data, text = read_toml(pyproject)
        project.__dict__["pyproject"] = data  # share the parse with the cached property
        tool = data.get("tool", {}).get("help")
        if tool is not None:
            if not isinstance(tool, dict):
                raise ConfigError(
                    "[tool.help] must be a table", "write it as a [tool.help] section", where=str(pyproject)
                )
            layers.append(flatten(tool, source=pyproject, text=text, prefix=["tool", "help"]))
            project.files.append(pyproject)
    main_file = project.root / "config" / "help.toml"
    if main_file.is_file():
        data, text = read_toml(main_file)
        layers.append(flatten(data, source=main_file, text=text, prefix=[]))
        project.files.append(main_file)

    chosen = profile or env.get("HELP_PROFILE")
    if not chosen:
        for layer in reversed(layers):
            if "profile" in layer.values:
                chosen = layer.values["profile"]
                break
    project.profile = chosen or "development"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", project.profile):
        raise ConfigError(f"profile name {project.profile!r} is not valid", "use letters, digits, '-', '_' or '.'")
    profile_file = project.root / "config" / f"help.{project.profile}.toml"
    if profile_file.is_file():
        data, text = read_toml(profile_file)
        layers.append(flatten(data, source=profile_file, text=text, prefix=[]))
        project.files.append(profile_file)
    layers.append(env_layer(env))

    for layer in layers:
        project.config.update(layer.values)
        project.sources.update(layer.where)
    project.config["profile"] = project.profile
    return project
