"""The doctor's install checks: the manager and its tool, the environment, an unfinished change."""

from __future__ import annotations

from typing import Any

from helper.checks import Check


def checks(project: Any) -> list[Check]:
    if not project.found:
        return []
    from helper.errors import HelpError
    from helper.managers import state
    from helper.managers.registry import choose

    try:
        manager, reason = choose(project)
    except HelpError as exc:
        return [Check("install manager", "fail", exc.message, exc.hint)]
    found = [Check("install manager", "ok", f"{manager.name} ({reason})")]
    if manager.tool or manager.name == "conda":
        try:
            found.append(Check(f"install tool {manager.name}", "ok", manager.exe()))
        except HelpError as exc:
            found.append(Check(f"install tool {manager.name}", "fail", exc.message, exc.hint))
    if state.pending_recovery(project):
        found.append(
            Check(
                "install backup",
                "warn",
                "an install was killed mid-way; its backup is waiting in .help/backups/",
                "help.py install (restores it first)",
            )
        )
    if not manager.python().exists():
        found.append(Check("install environment", "warn", f"no environment at {manager.env_dir()}", "help.py install"))
    elif state.in_sync(project, manager):
        found.append(Check("install environment", "ok", f"{manager.env_dir()} in sync with the manifest"))
    else:
        found.append(
            Check(
                "install environment",
                "warn",
                f"{manager.env_dir()} may be out of date with the manifest",
                "help.py install",
            )
        )
    return found
