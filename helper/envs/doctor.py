"""The doctor's environment checks: the same findings as `env check`, without running package managers."""

from __future__ import annotations

from typing import Any

from helper.checks import Check


def checks(project: Any) -> list[Check]:
    if not project.found:
        return []
    from helper.envs.detect import for_project
    from helper.envs.health import check

    health = check(project, for_project(project), offline=True)
    return [Check(f"env {f.check}", f.status, f.detail, f.fix) for f in health.findings]
