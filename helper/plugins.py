"""Optional plugins: discovery, requirements, availability.

A plugin is a package under plugins/ whose __init__.py defines `PLUGIN`, a
Plugin saying what it is, which commands it adds, and what it needs (Python
modules, binaries). The __init__ must stay light: it is imported to list
commands, and the command modules are imported only when they run.
"""

from __future__ import annotations

import importlib
import os

from helper.errors import HelpError, MissingDependency

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

    from helper.config_schema import Setting


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
        "install_hint",
        "modules",
        "name",
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
    import shutil

    return shutil.which(name)


def discover() -> list[Plugin]:
    """Every plugin package under plugins/, by name."""
    try:
        import plugins as package
    except ImportError:
        return []
    found = []
    for directory in package.__path__:
        for name in sorted(os.listdir(directory)):
            if name.startswith(("_", ".")) or not os.path.isfile(os.path.join(directory, name, "__init__.py")):
                continue
            module = importlib.import_module(f"plugins.{name}")
            plugin = getattr(module, "PLUGIN", None)
            if isinstance(plugin, Plugin):
                found.append(plugin)
    return found


def status(plugin: Plugin, disabled: list[str] | None = None) -> Status:
    """Whether `plugin` can run here, and if not, why."""
    if disabled and plugin.name in disabled:
        return Status(plugin, False, "disabled by plugins.disabled in the configuration", disabled=True)
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
    """command name -> (module, summary, plugin) for every plugin command."""
    index = {}
    for plugin in discover():
        for name, (module, summary) in plugin.commands.items():
            index[name] = (module, summary, plugin)
    return index


def settings_schema() -> dict[str, Setting]:
    """Every plugin's settings as dotted keys of the configuration (`compose.engine`)."""
    schema = {}
    for plugin in discover():
        for key, setting in plugin.settings.items():
            schema[f"{plugin.name}.{key}"] = setting
    return schema


def api(name: str) -> ModuleType:
    """The Python API plugin `name` offers other plugins (its PLUGIN's `api` module)."""
    for plugin in discover():
        if plugin.name == name:
            if not plugin.api:
                raise HelpError(f"plugin '{name}' offers no Python API", "use its command instead")
            return importlib.import_module(plugin.api)
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
