"""Read a JUnit XML report a test runner wrote (node's junit reporter, jest-junit, vitest, ...) into cases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Case:
    """One test's result as a runner reported it."""

    names: list[str]  # suites from the outside in, then the test's own name
    outcome: str  # passed | failed | error | skipped | xfailed
    duration: float = 0.0
    message: str = ""
    longrepr: str = ""
    path: str = ""  # its file, when the runner says


def parse(path: Path) -> list[Case]:
    """The test cases of the JUnit XML file at `path`; ValueError when it is not JUnit XML."""
    import xml.etree.ElementTree as ET

    try:
        tree = ET.parse(path)
    except ET.ParseError as exc:
        raise ValueError(f"{path.name} is not XML: {exc}") from None
    root = tree.getroot()
    if root.tag not in ("testsuites", "testsuite"):
        raise ValueError(f"{path.name}: expected <testsuites> or <testsuite>, found <{root.tag}>")
    cases: list[Case] = []
    _walk(root, [] if root.tag == "testsuites" else _suite_name(root), cases)
    return cases


def _suite_name(element: object) -> list[str]:
    name = getattr(element, "attrib", {}).get("name", "")
    return [name] if name else []


def _walk(element: object, suites: list[str], cases: list[Case]) -> None:
    for child in element:  # type: ignore[attr-defined]
        if child.tag == "testsuite":
            _walk(child, suites + _suite_name(child), cases)
        elif child.tag == "testcase":
            cases.append(_case(child, suites))


def _case(element: object, suites: list[str]) -> Case:
    attrib: dict[str, str] = getattr(element, "attrib", {})
    try:
        duration = float(attrib.get("time") or 0.0)
    except ValueError:
        duration = 0.0
    case = Case(
        names=[*suites, attrib.get("name", "") or "?"],
        outcome="passed",
        duration=duration,
        path=attrib.get("file", ""),
    )
    for child in element:  # type: ignore[attr-defined]
        tag = child.tag
        if tag in ("failure", "error"):
            case.outcome = "failed" if tag == "failure" else "error"
            case.message = child.attrib.get("message", "") or ""
            case.longrepr = (child.text or "").strip()
            break
        if tag == "skipped":
            case.outcome = "skipped"
    return case
