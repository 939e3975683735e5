"""The doctor's checks for `help.py test`: test environment, pytest, recorded state."""

from __future__ import annotations

import json
from typing import Any

from helper.checks import Check


def checks(project: Any) -> list[Check]:
    from helper.testing import envhash
    from helper.testing.environment import location

    if not project.found:
        return []
    python, _why = location(project)
    venv = python.parent.parent
    found: list[Check] = []
    if not python.exists():
        found.append(
            Check("test env", "warn", f"{venv} does not exist yet", "`help.py install` (or `help.py test`) makes it")
        )
        return found
    if envhash.has_distribution(venv, "pytest"):
        found.append(Check("test env", "ok", f"pytest in {venv}"))
    else:
        found.append(Check("test env", "fail", f"pytest is not installed in {venv}", "help.py install pytest --dev"))
    state = project.state_dir / "test-state.json"
    if state.exists():
        try:
            data = json.loads(state.read_text())
            found.append(Check("test state", "ok", f"{len(data.get('tests', {}))} tests with recorded dependencies"))
        except (OSError, ValueError):
            found.append(
                Check(
                    "test state",
                    "warn",
                    f"{state} is unreadable",
                    "it is rebuilt by the next `help.py test`; delete it to silence this",
                )
            )
    return found
