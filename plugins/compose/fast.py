"""`compose ps`'s fast start path (helper.fast): the cached model, one `podman ps`, the same rows as the command.

Taken only for a plain `compose ps` (no service named) on podman, with a cached
model (plugins.compose.modelcache) that still holds; anything else returns None and
the argparse command runs. The engine's `ps` is started with os.posix_spawn (subprocess is
not imported) by the plugin's prefetch, which helper.fast calls first; if it fails, the command runs
it again and reports what went wrong.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

    from helper.fast import Start

LONG_RUNNING = True  # as plugins.compose.command: every compose run goes on the record when it starts


def ps(start: Start) -> int | None:
    if start.rest != ["ps"] or not start.found:
        return None
    from helper.which import which

    setting = start.get("compose.engine") or "auto"
    binary = which("podman") if setting in ("auto", "podman") else None
    if binary is None:
        return None  # docker (or none): the command's engine code handles it
    from plugins.compose import modelcache

    profile = str(start.get("profile") or "development")
    entry = modelcache.valid_entry(start.root, modelcache.key(start.root, profile, start.get("run.env_file")))
    if entry is None:
        return None
    services = {s["name"]: s for s in entry["services"]}
    names = order(services, set(entry["extra"]["profiles"]))
    if names is None:
        return None
    from plugins.compose import prefetch

    answer = prefetch.take(prefetch.ps_argv(binary, str(entry["name"])), timeout=120)  # started by helper.fast
    if answer is None or answer[0] != 0:
        return None  # the command calls the engine itself, and says what went wrong
    out = answer[1]
    import json

    text = out.strip()
    if not text.startswith("[") and text:
        return None  # not podman's shape
    containers = list(json.loads(text)) if text else []
    start.begin()
    from helper.ui import console
    from plugins.compose import ps as table

    for warning in entry["extra"]["warnings"]:
        console.warn(warning)
    shown = {
        name: (
            str(s["raw"].get("container_name") or f"{entry['name']}-{name}"),
            s["health"] is not None,
            [table.port_spec(*p) for p in s["ports"]],
        )
        for name, s in services.items()
    }
    console.result(table.rows(shown, names, containers, _state(start.root), everything=True), table.render)
    return 0


def order(services: dict[str, dict[str, Any]], profiles: set[str]) -> list[str] | None:
    """The enabled services in start order, as Model.order() gives them; None where it would raise."""
    done: list[str] = []
    visiting: set[str] = set()

    def enabled(name: str) -> bool:
        wanted = services[name]["profiles"]
        return not wanted or bool(set(wanted) & profiles)

    def visit(name: str) -> bool:
        if name in done:
            return True
        if name in visiting:
            return False
        visiting.add(name)
        for dep in services[name]["depends_on"]:
            if dep not in services:
                return False
            if not enabled(dep):
                if not services[name]["required"].get(dep, True):
                    continue
                return False
            if not visit(dep):
                return False
        visiting.discard(name)
        done.append(name)
        return True

    for name in services:
        if enabled(name) and not visit(name):
            return None
    return done


def _state(root: str) -> dict[str, Any]:
    """The monitor's state of each service, as plugins.compose.events.load_state reads it."""
    import json

    folder = os.path.join(root, ".help", "compose")
    os.makedirs(folder, exist_ok=True)
    try:
        with open(os.path.join(folder, "state.json"), encoding="utf-8") as handle:
            return dict(json.load(handle)).get("services", {})
    except (OSError, ValueError):
        return {}
