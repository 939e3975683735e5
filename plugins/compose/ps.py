"""`compose ps`'s rows and table, from plain data: shared by the command and its fast start path (no model import).

A service is given as (name, container name, has a healthcheck, port specs); the
engine's rows are its `ps --format json` objects; the state is the monitor's
(.help/compose/state.json).
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

SERVICE_LABEL = "help.compose.service"  # plugins.compose.engine.SERVICE_LABEL


def port_spec(host: int, container: int, protocol: str = "tcp", host_ip: str = "") -> str:
    """A published port as the engine's -p takes it: [IP:]HOST:CONTAINER/PROTOCOL."""
    prefix = f"{host_ip}:" if host_ip else ""
    return f"{prefix}{host}:{container}/{protocol}"


def labels_of(row: dict[str, Any]) -> dict[str, str]:
    labels = row.get("Labels") or {}
    if isinstance(labels, str):  # docker: "a=b,c=d"
        labels = dict(x.partition("=")[::2] for x in labels.split(",") if x)
    return dict(labels)


def state_of(row: dict[str, Any]) -> str:
    return str(row.get("State") or "unknown").lower()


def uptime(row: dict[str, Any]) -> float | None:
    started = row.get("StartedAt")
    if isinstance(started, int | float) and started > 0 and str(row.get("State")).lower() == "running":
        return round(time.time() - float(started), 1)
    return None


def rows(
    services: dict[str, tuple[str, bool, list[str]]],
    names: list[str],
    containers: list[dict[str, Any]],
    state: dict[str, Any],
    everything: bool,
) -> list[dict[str, Any]]:
    """One row per service: `services` maps a name to (container name, has a healthcheck, port specs)."""
    found = {labels_of(r).get(SERVICE_LABEL, ""): r for r in containers}
    if everything:  # services outside the active profiles too, once they have a container
        names = names + [n for n in services if n in found and n not in names]
    out = []
    for name in names:
        row = found.get(name) or {}
        info = state.get(name, {})
        container, health, ports = services[name]
        out.append({
            "service": name,
            "container": container,
            "state": state_of(row) if row else "absent",
            # docker's daemon keeps the health state (the row's Health); on podman it is help.py's (the state file)
            "health": (row.get("Health") or info.get("health", "unknown")) if health else "none",
            "restarts": int(info.get("restarts", 0)),
            "breaker": info.get("breaker", "closed"),
            "ports": list(ports),
            "uptime": uptime(row),
        })  # fmt: skip
    return out


def render(data: list[dict[str, Any]]) -> None:
    from helper.ui import console

    console.table(
        [[d["service"], d["state"], d["health"], d["restarts"], " ".join(d["ports"]),
          "" if d["uptime"] is None else f"{d['uptime']:.0f}s"] for d in data],
        headers=["SERVICE", "STATE", "HEALTH", "RESTARTS", "PORTS", "UPTIME"],
    )  # fmt: skip
