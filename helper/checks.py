"""The doctor's hook: every part of help.py contributes health checks here.

A provider is "module:function"; the function takes the project and returns a
list of Check. Commands add theirs to PROVIDERS; plugins name theirs in
Plugin.checks. A provider that crashes becomes a failing check, not a crash.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from typing import Any

PROVIDERS: list[str] = [
    "helper.core_checks:checks",
    "helper.envs.doctor:checks",
    "helper.managers.checks:checks",
    "helper.testing.checks:checks",
    "helper.running.checks:checks",
    "helper.building.doctor:checks",
]


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load(spec: str) -> Any:
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def run_all(project: Any, extra: list[str] | None = None) -> list[Check]:
    results: list[Check] = []
    for spec in [*PROVIDERS, *(extra or [])]:
        try:
            results.extend(load(spec)(project))
        except Exception as exc:  # a broken check must not hide the others
            results.append(Check(spec, "fail", f"check crashed: {exc.__class__.__name__}: {exc}", "run with --debug"))
    return results
