"""PEP 440 / PEP 508 answers for the environment checks.

One implementation serves help.py: helper.managers.envcheck (a script that also
runs inside the checked environment). The env checks want "not sure" (None)
where that module raises on input it cannot read, so this adapts its answers.
"""

from __future__ import annotations

from helper.managers.envcheck import InvalidVersion, Requirement, specifier_contains
from helper.managers.envcheck import evaluate_marker as _evaluate_marker
from helper.names import canonical

__all__ = ["Requirement", "canonical", "evaluate_marker", "matches", "parse_requirement"]


def matches(version: str, specifier: str) -> bool | None:
    """Whether `version` satisfies `specifier`; None when either cannot be read."""
    try:
        return specifier_contains(specifier, version)
    except (InvalidVersion, ValueError):
        return None


def parse_requirement(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except ValueError:
        return None


def evaluate_marker(marker: str, values: dict[str, str]) -> bool | None:
    """Evaluate a PEP 508 marker with `values`; None when it cannot be evaluated."""
    try:
        return _evaluate_marker(marker, values)
    except (ValueError, KeyError, IndexError):
        return None
