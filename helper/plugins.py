"""Optional plugins: discovery, requirements, availability.

A plugin is a package under plugins/ whose __init__.py defines `PLUGIN`, a
Plugin saying what it is, which commands it adds, and what it needs (Python
modules, binaries). The __init__ must stay light: it is imported to list
commands, and the command modules are imported only when they run.
"""

from __future__ import annotations

import os
import sys

from helper.errors import HelpError, MissingDependency

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

    from helper.config_schema import Setting


def import_module(name: str) -> ModuleType:
    """importlib.import_module for an absolute name, without the importlib package (it imports warnings, and
    every start imports this module)."""
    __import__(name)
    return sys.modules[name]


class Plugin:
    """What a plugin is, which commands it adds and what it needs.

    A plain class rather than a dataclass: it is built on every start-up
    (to list plugin commands), and dataclasses cost ~15 ms to import.
    """

    __slots__ = (
        "api",
        "binaries",
        "checks",
        "commands",
        "description",
        "fast",
        "install_hint",
        "modules",
        "name",
        "prefetch",
        "settings",
    )

    def __init__(
        self,
        name: str,
        description: str,
        commands: dict[str, tuple[str, str]],  # command -> (module, one-line summary)
        *,
        modules: tuple[str, ...] = (),  # Python modules it imports
        binaries: tuple[tuple[str, ...], ...] = (),  # each tuple: any one of these on PATH
        install_hint: str = "",
        checks: str | None = None,  # "module:function" returning doctor checks
        # Settings under the plugin's own section: {"engine": Setting(...)} is `<name>.engine`
        # ([tool.help.<name>] in pyproject.toml), validated like the core's.
        settings: dict[str, Setting] | None = None,
        api: str | None = None,  # module other plugins may use, reached through `api(name)`
        # "module:function" called with argv before the CLI parses it, for one of the plugin's commands: it may
        # start what the command will wait for (an engine call) while the rest of help.py loads.
        prefetch: str | None = None,
        # Hand-written start paths for hot actions of the plugin's command: {"run": "module:function"}, called by
        # helper.fast before argparse loads, with a helper.fast.Start; None from it hands the run to the full CLI.
        fast: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.commands = commands
        self.modules = modules
        self.binaries = binaries
        self.install_hint = install_hint
        self.checks = checks
        self.settings = settings or {}
        self.api = api
        self.prefetch = prefetch
        self.fast = fast or {}

    def __repr__(self) -> str:
        return f"Plugin({self.name!r})"


class Status:
    def __init__(self, plugin: Plugin, available: bool, reason: str, disabled: bool = False) -> None:
        self.plugin = plugin
        self.available = available
        self.reason = reason
        self.disabled = disabled

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.plugin.name,
            "description": self.plugin.description,
            "commands": sorted(self.plugin.commands),
            "available": self.available,
            "disabled": self.disabled,
            "reason": self.reason,
            "install_hint": None if self.available else self.plugin.install_hint,
        }


def _which(name: str) -> str | None:
    from helper.which import which

    return which(name)


class Problem:
    """A plugin that could not be loaded, or a clash between plugins: what is wrong and where."""

    __slots__ = ("message", "name", "where")

    def __init__(self, name: str, message: str, where: str = "") -> None:
        self.name = name
        self.message = message
        self.where = where  # file:line when known

    def headline(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "error": self.message, "where": self.where or None}


# Folders of extra plugin packages (os.pathsep-separated), searched after the bundled ones.
PATH_VARIABLE = "HELP_PLUGIN_PATH"
ENTRY_POINT_GROUP = "helpy.plugins"

_found: tuple[list[Plugin], list[Problem], dict[str, str]] | None = None


def _bundled_package() -> ModuleType | None:
    """The package of the bundled plugins: `plugins` beside helper/ in a checkout (a vendored
    help.py), `helper_plugins` when installed. The installed one is also made importable as
    `plugins`, so a plugin's module names (`plugins.sandbox.command`) mean the same either way."""
    import sys

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name in ("helper_plugins", "plugins"):
        if not os.path.isfile(os.path.join(here, name, "__init__.py")):
            continue
        try:
            package = import_module(name)
        except Exception:
            continue
        if os.path.dirname(os.path.dirname(os.path.abspath(package.__file__ or ""))) != here:
            continue  # another distribution's package of that name, not ours
        if name != "plugins":
            sys.modules.setdefault("plugins", package)
        return package
    return None


def _package_for_paths() -> ModuleType | None:
    """The `plugins` package, with HELP_PLUGIN_PATH's folders added to where it looks."""
    import sys

    package = _bundled_package()
    extra = [d for d in os.environ.get(PATH_VARIABLE, "").split(os.pathsep) if d]
    if not extra:
        return package
    if package is None:
        import types

        package = types.ModuleType("plugins", "Plugins found through HELP_PLUGIN_PATH.")
        package.__path__ = []
        sys.modules["plugins"] = package
    for directory in extra:
        directory = os.path.abspath(directory)
        if directory not in package.__path__:
            package.__path__.append(directory)
    return package


def _where(exc: BaseException, folder: str | None) -> str:
    """file:line of an exception raised while importing a plugin: its own code's line if any."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno or 1}"
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if folder and os.path.abspath(f.filename).startswith(folder + os.sep)]
    chosen = own or list(frames)
    return f"{chosen[-1].filename}:{chosen[-1].lineno}" if chosen else ""


def _line_of(path: str | None, word: str) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.startswith(word):
                    return f"{path}:{number}"
    except OSError:
        return path
    return f"{path}:1"


def _check(plugin: object) -> str | None:
    """Why `plugin` (a module's PLUGIN) is not a usable Plugin, or None."""
    if plugin is None:
        return "defines no PLUGIN = Plugin(...)"
    if not isinstance(plugin, Plugin):
        return f"PLUGIN is a {type(plugin).__name__}, not helper.plugins.Plugin"
    if not isinstance(plugin.name, str) or not plugin.name.isidentifier():
        return f"PLUGIN's name {plugin.name!r} is not an identifier"
    if not isinstance(plugin.commands, dict) or not all(
        isinstance(k, str) and isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, str) for x in v)
        for k, v in plugin.commands.items()
    ):
        return "PLUGIN's commands must map a name to (module, summary)"
    if not isinstance(plugin.fast, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and ":" in v for k, v in plugin.fast.items()
    ):
        return "PLUGIN's fast must map an action to 'module:function'"
    if not isinstance(plugin.settings, dict):
        return "PLUGIN's settings must map a key to helper.config_schema.Setting"
    if plugin.settings:  # the schema module is imported only when a plugin has settings
        from helper.config_schema import Setting

        if not all(isinstance(k, str) and isinstance(v, Setting) for k, v in plugin.settings.items()):
            return "PLUGIN's settings must map a key to helper.config_schema.Setting"
    return None


def _load(label: str, load: object, folder: str | None) -> tuple[Plugin | None, Problem | None]:
    """Import one plugin through `load()` (returning its module or PLUGIN), never raising."""
    try:
        loaded = load()  # type: ignore[operator]
    except Exception as exc:
        message = f"cannot be loaded: {exc.__class__.__name__}: {exc}"
        if isinstance(exc, SyntaxError):
            message = f"cannot be loaded: SyntaxError: {exc.msg}"
        return None, Problem(label, message, _where(exc, folder))
    module_file: str | None = None
    if isinstance(loaded, Plugin):
        plugin: object = loaded
    else:
        plugin = getattr(loaded, "PLUGIN", None)
        module_file = getattr(loaded, "__file__", None)
    problem = _check(plugin)
    if problem is not None:
        return None, Problem(label, problem, _line_of(module_file, "PLUGIN") if module_file else "")
    return plugin, None  # type: ignore[return-value]


def _scan() -> tuple[list[Plugin], list[Problem], dict[str, str]]:
    """(plugins, problems, plugin name -> where it came from), bundled first, then entry points."""
    found: list[Plugin] = []
    problems: list[Problem] = []
    origin: dict[str, str] = {}

    def add(plugin: Plugin | None, problem: Problem | None, source: str) -> None:
        if problem is not None:
            problems.append(problem)
        elif plugin is not None:
            if plugin.name in origin:
                problems.append(
                    Problem(
                        plugin.name,
                        f"plugin name {plugin.name!r} is taken by {origin[plugin.name]}; this one is ignored",
                        source,
                    )
                )
                return
            origin[plugin.name] = source
            found.append(plugin)

    package = _package_for_paths()
    if package is not None:
        for directory in list(package.__path__):
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                continue
            for name in names:
                folder = os.path.join(os.path.abspath(directory), name)
                init = os.path.join(folder, "__init__.py")
                if name.startswith(("_", ".")) or not os.path.isfile(init):
                    continue
                plugin, problem = _load(name, lambda n=name: import_module(f"plugins.{n}"), folder)
                add(plugin, problem, init)
    for name, value in entry_points():
        label = f"entry point {name} = {value}"

        def load(value: str = value) -> object:
            module_name, _, attribute = value.partition(":")
            loaded: object = import_module(module_name.strip())
            for part in filter(None, attribute.strip().split(".")):
                loaded = getattr(loaded, part)
            return loaded

        top = value.partition(":")[0].strip().split(".")[0]
        plugin, problem = _load(name, load, _module_folder(top))
        add(plugin, problem, label)
    return found, problems, origin


_entry_points: list[tuple[str, str]] | None = None
RACY_WINDOW_NS = 2_000_000_000  # a folder this fresh may change again within the same mtime tick


def _entry_point_key() -> tuple[object, ...]:
    """What the installed distributions' entry points depend on: the import path's folders."""
    from helper.statsig import import_path_stamps

    return import_path_stamps(skip=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _entry_point_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    import sys
    import zlib

    # One file per interpreter and import path: runs whose path differs (pytest, `python -c` adding
    # the cwd) keep their own list instead of overwriting each other's.
    name = "\0".join((sys.executable, *(os.path.abspath(entry or ".") for entry in sys.path)))
    return os.path.join(base, "help", f"entry-points-{zlib.crc32(name.encode()):08x}.marshal")


def entry_points() -> list[tuple[str, str]]:
    """(name, "module:attribute") of every `helpy.plugins` entry point of the installed packages.

    importlib.metadata costs ~20 ms to import and scans every distribution, so the list is kept
    in the user's cache under the mtimes of the import path's folders (installing or removing a
    package changes its folder's mtime); a start with nothing new costs a few stat calls.
    """
    global _entry_points
    if _entry_points is not None:
        return _entry_points
    import marshal

    key = _entry_point_key()
    cache = _entry_point_cache()
    try:
        with open(cache, "rb") as handle:
            stored_key, stored = marshal.load(handle)
        if stored_key == key:
            _entry_points = [(str(n), str(v)) for n, v in stored]
            return _entry_points
    except (OSError, EOFError, ValueError, TypeError):
        pass
    try:
        from importlib.metadata import entry_points as metadata_entry_points

        found = sorted({(ep.name, ep.value) for ep in metadata_entry_points(group=ENTRY_POINT_GROUP)})
    except Exception:  # a broken distribution's metadata must not stop help.py
        found = []
    _entry_points = found
    import time

    now = time.time_ns()
    if all(stamp is None or now - stamp >= RACY_WINDOW_NS for _, stamp in key[2]):  # type: ignore[attr-defined]
        try:
            from helper.fsutil import atomic_write

            os.makedirs(os.path.dirname(cache), exist_ok=True)
            atomic_write(cache, marshal.dumps((key, found)), fsync=False)  # type: ignore[arg-type]
        except (OSError, ValueError):
            pass  # a read-only home still works, only slower
    return found


def _module_folder(name: str) -> str | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return os.path.dirname(os.path.abspath(spec.origin))


def _found_all() -> tuple[list[Plugin], list[Problem], dict[str, str]]:
    global _found
    if _found is None:
        _found = _scan()
    return _found


def reset() -> None:
    """Forget what discovery found (after HELP_PLUGIN_PATH or the installed packages change)."""
    global _found, _registered, _entry_points
    _found = None
    _registered = False
    _entry_points = None


def discover() -> list[Plugin]:
    """Every plugin that loaded: bundled plugins/ (and HELP_PLUGIN_PATH), then `helpy.plugins` entry points.
    Never raises: a plugin that fails to load is in problems() instead."""
    return list(_found_all()[0])


def problems() -> list[Problem]:
    """Plugins that failed to load, and clashes of plugin names or command names."""
    found, broken, origin = _found_all()
    clashes = _command_clashes(found, origin)[1]
    return [*broken, *clashes]


def origin(name: str) -> str:
    """Where plugin `name` was found (its __init__.py, or its entry point)."""
    return _found_all()[2].get(name, "")


def _command_clashes(
    found: list[Plugin], origin: dict[str, str]
) -> tuple[dict[str, tuple[str, str, Plugin]], list[Problem]]:
    from helper.cli import COMMANDS

    index: dict[str, tuple[str, str, Plugin]] = {}
    claims: dict[str, list[Plugin]] = {}
    for plugin in found:
        for name in plugin.commands:
            claims.setdefault(name, []).append(plugin)
    clashes = []
    for name, claimants in claims.items():
        if name in COMMANDS:
            for plugin in claimants:
                clashes.append(
                    Problem(
                        plugin.name,
                        f"plugin '{plugin.name}' claims the built-in command '{name}'; the built-in one is kept",
                        origin.get(plugin.name, ""),
                    )
                )
        elif len(claimants) > 1:
            both = " and ".join(f"'{p.name}' ({origin.get(p.name, '?')})" for p in claimants)
            clashes.append(Problem(claimants[0].name, f"command '{name}' is claimed by plugins {both}"))
        else:
            module, summary = claimants[0].commands[name]
            index[name] = (module, summary, claimants[0])
    return index, clashes


def clash(command: str) -> Problem | None:
    """The problem when plugins claim `command` twice, else None."""
    for problem in problems():
        if f"command '{command}' is claimed by plugins" in problem.message:
            return problem
    return None


def status(plugin: Plugin, disabled: list[str] | None = None) -> Status:
    """Whether `plugin` can run here, and if not, why."""
    if disabled and plugin.name in disabled:
        return Status(plugin, False, "disabled by plugins.disabled in the configuration", disabled=True)
    missing = []
    if plugin.modules:
        import importlib.util

        missing = [m for m in plugin.modules if importlib.util.find_spec(m) is None]
    if missing:
        return Status(plugin, False, f"Python module {', '.join(missing)} not installed")
    for choices in plugin.binaries:
        if not any(_which(b) for b in choices):
            return Status(plugin, False, f"needs {' or '.join(choices)} on PATH")
    found = [next(b for b in choices if _which(b)) for choices in plugin.binaries]
    return Status(plugin, True, "ready" + (f" (uses {', '.join(found)})" if found else ""))


def require(plugin: Plugin, disabled: list[str] | None = None) -> None:
    """Raise the one-line 'what to install' error when `plugin` cannot run."""
    state = status(plugin, disabled)
    if not state.available:
        hint = "remove it from plugins.disabled" if state.disabled else plugin.install_hint
        raise MissingDependency(f"plugin '{plugin.name}' is not available: {state.reason}", hint)


def command_index() -> dict[str, tuple[str, str, Plugin]]:
    """command name -> (module, summary, plugin) for every plugin command nobody else claims."""
    found, _, origin = _found_all()
    return _command_clashes(found, origin)[0]


def settings_schema() -> dict[str, Setting]:
    """Every plugin's settings as dotted keys of the configuration (`compose.engine`)."""
    schema = {}
    for plugin in discover():
        for key, setting in plugin.settings.items():
            schema[f"{plugin.name}.{key}"] = setting
    return schema


def settings_signature() -> tuple[object, ...]:
    """What the plugins add to the configuration, comparable across runs: keys with their types and defaults.
    The config cache keys on it, so adding, removing or changing a plugin's settings re-reads the files."""
    return tuple((key, s.kind, repr(s.default), s.choices, s.item) for key, s in sorted(settings_schema().items()))


def api(name: str) -> ModuleType:
    """The Python API plugin `name` offers other plugins (its PLUGIN's `api` module)."""
    for plugin in discover():
        if plugin.name == name:
            if not plugin.api:
                raise HelpError(f"plugin '{name}' offers no Python API", "use its command instead")
            return import_module(plugin.api)
    raise HelpError(f"plugin '{name}' is not installed", "`help.py plugins` lists the plugins found")


_registered = False


def register_settings() -> None:
    """Add every plugin's settings to the configuration schema (once per process)."""
    global _registered
    if _registered:
        return
    _registered = True
    from helper.config_schema import SCHEMA

    for key, setting in settings_schema().items():
        SCHEMA.setdefault(key, setting)
