"""`compose vscode` (tasks merged into .vscode/tasks.json) and `compose kube` (podman kube generate)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from helper.errors import ConfigError, HelpError
from helper.fsutil import atomic_write

PREFIX = "help.py compose: "
TASKS = {
    "up": ["compose", "up", "--wait"],
    "down": ["compose", "down"],
    "logs": ["compose", "logs", "-f"],
    "ps": ["compose", "ps"],
    "watch": ["compose", "watch"],
    "test": ["test"],
}


def vscode(root: Path) -> dict[str, Any]:
    """Write our tasks into .vscode/tasks.json, keeping every task of the user's; a backup is kept."""
    path = root / ".vscode" / "tasks.json"
    data: dict[str, Any] = {"version": "2.0.0", "tasks": []}
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path.name} is not plain JSON ({exc.msg}); nothing was written",
                "remove its comments or trailing commas, or move it aside",
                where=f"{path}:{exc.lineno}",
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("tasks", []), list):
            raise ConfigError(f"{path.name}: `tasks` must be a list", "fix the file", where=f"{path}:1")
        shutil.copy2(path, path.with_name("tasks.json.bak"))
    ours = [
        {"label": PREFIX + name, "type": "shell", "command": "python", "args": ["help.py", *argv],
         "problemMatcher": [], **({"isBackground": True} if name in ("logs", "watch") else {})}
        for name, argv in TASKS.items()
    ]  # fmt: skip
    kept = [t for t in data.get("tasks", []) if not str(t.get("label", "")).startswith(PREFIX)]
    data["tasks"] = kept + ours
    data.setdefault("version", "2.0.0")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2) + "\n")
    return {"file": str(path), "kept": len(kept), "added": len(ours)}


def kube(engine: Any, names: list[str], target: Path) -> dict[str, Any]:
    """Kubernetes YAML of the running containers through `podman kube generate`."""
    if engine.name != "podman":
        raise HelpError(f"compose kube needs podman (`podman kube generate`); the engine is {engine.name}, "
                        "which has no command that writes Kubernetes YAML",
                        "install podman and set compose.engine = podman (or auto), "
                        "or convert the compose file with kompose; nothing was written")  # fmt: skip
    result = engine.run("kube", "generate", *names, timeout=60)
    if not result.ok:
        reason = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise HelpError(f"podman kube generate failed: {reason}", "start the services first: help.py compose up")
    atomic_write(target, result.stdout)
    return {"file": str(target), "containers": names}
