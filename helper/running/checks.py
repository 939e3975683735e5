"""The doctor's checks for `run`: .env against its template, its permissions, leftover processes."""

from __future__ import annotations

from typing import Any

from helper.checks import Check


def checks(project: Any) -> list[Check]:
    if not project.found:
        return []
    from helper.running import dotenv, state

    found = []
    template = dotenv.find_template(project.root, project.profile, project.config["run.env_template"])
    target = dotenv.env_path(project.root, project.profile, project.config["run.env_file"])
    if template is not None:
        info = dotenv.describe(project.root, project.profile, template, target)
        if not info["exists"]:
            found.append(
                Check(
                    "run: env", "warn", f"{target.name} not created yet from {template.name}", "python help.py run env"
                )
            )
        elif info["pending"]:
            found.append(
                Check(
                    "run: env",
                    "warn",
                    f"{target.name} lacks {', '.join(info['pending'])} from {template.name}",
                    "python help.py run env",
                )
            )
        else:
            found.append(Check("run: env", "ok", f"{target.name} has every key of {template.name}"))
    if target.is_file() and target.stat().st_mode & 0o077:
        found.append(
            Check(
                "run: env mode",
                "warn",
                f"{target.name} is readable by other users ({oct(target.stat().st_mode & 0o777)})",
                f"chmod 600 {target}",
            )
        )
    status = state.status(project.state_dir / "run")
    orphans = [p for p in status["processes"] if p["alive"]] if not status["running"] else []
    if orphans:
        names = ", ".join(f"{p['name']} (pid {p['pid']})" for p in orphans)
        found.append(
            Check("run: processes", "fail", f"left over from a run that died: {names}", "python help.py run stop")
        )
    return found
