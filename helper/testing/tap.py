"""Read TAP (Test Anything Protocol, versions 12-14) output into cases: node --test, tape, mocha --reporter tap.

Subtests (indented, announced by `# Subtest: name`) give the case its suites;
a line that closes subtests of its own is a suite and not counted as a test,
unless it failed while none of its subtests did (a failing hook).
"""

from __future__ import annotations

import contextlib
import re

from helper.testing.junitxml import Case

_RESULT = re.compile(r"^(\s*)(not )?ok\b(?:\s+\d+)?(?:\s*-)?\s*(.*?)\s*$")
_DIRECTIVE = re.compile(r"\s#\s*(SKIP|TODO)\b.*$", re.IGNORECASE)
_SUBTEST = re.compile(r"^(\s*)# Subtest: (.*?)\s*$")
_YAML_KEY = re.compile(r"^\s*(\w+):\s?(.*)$")


def looks_like_tap(text: str) -> bool:
    return any(line.startswith("TAP version") for line in text.splitlines()[:50]) or bool(
        re.search(r"^1\.\.\d+\s*$", text, re.MULTILINE) and re.search(r"^(not )?ok\b", text, re.MULTILINE)
    )


def parse(text: str) -> list[Case]:
    found: list[tuple[int, Case]] = []  # (indent, case), suites included
    subtests: list[tuple[int, str]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        sub = _SUBTEST.match(line)
        if sub:
            indent = len(sub.group(1))
            subtests = [s for s in subtests if s[0] < indent] + [(indent, sub.group(2))]
            continue
        result = _RESULT.match(line)
        if not result:
            continue
        indent = len(result.group(1))
        description = result.group(3)
        directive = _DIRECTIVE.search(" " + description)
        kind = directive.group(1).upper() if directive else ""
        name = _DIRECTIVE.sub("", " " + description).strip() or f"test {len(found) + 1}"
        failed = bool(result.group(2))
        outcome = "failed" if failed else "passed"
        if kind == "SKIP":
            outcome = "skipped"
        elif kind == "TODO":
            outcome = "xfailed" if failed else "passed"
        suites = [n for level, n in subtests if level < indent]
        case = Case(names=[*suites, name], outcome=outcome)
        index = _read_yaml(lines, index, indent, case)
        subtests = [s for s in subtests if s[0] < indent]
        found.append((indent, case))
    return _leaves(found)


def _read_yaml(lines: list[str], index: int, indent: int, case: Case) -> int:
    """The YAML block after a result line (`---` ... `...`): duration, error, location."""
    if index >= len(lines) or lines[index].strip() != "---":
        return index
    block: list[str] = []
    index += 1
    while index < len(lines) and lines[index].strip() != "...":
        block.append(lines[index])
        index += 1
    fields: dict[str, str] = {}
    current = ""
    for raw in block:
        stripped = raw[indent + 2 :] if raw.startswith(" " * (indent + 2)) else raw.lstrip()
        match = _YAML_KEY.match(stripped) if not stripped.startswith(" ") else None
        if match:
            current = match.group(1)
            fields[current] = match.group(2).strip()
        elif current:
            fields[current] = (fields[current] + "\n" + stripped.strip()).strip()
    with contextlib.suppress(ValueError):
        case.duration = float(fields.get("duration_ms", "0")) / 1000
    error = fields.get("error", "").removeprefix("|-").strip().strip("'\"")
    if case.outcome in ("failed", "error"):
        case.message = error.splitlines()[0] if error else ""
        case.longrepr = "\n".join(line for line in block).strip()
    location = fields.get("location", "").strip("'\"")
    if location:
        case.path = location.rsplit(":", 2)[0] if location.count(":") >= 2 else location
    return index + 1


def _leaves(found: list[tuple[int, Case]]) -> list[Case]:
    cases: list[Case] = []
    children: dict[int, list[Case]] = {}  # indent -> cases seen at that depth since their parent opened
    for indent, case in found:
        inner = [c for level, cs in children.items() if level > indent for c in cs]
        for level in [level for level in children if level > indent]:
            del children[level]
        if inner:
            if case.outcome == "failed" and not any(c.outcome in ("failed", "error") for c in inner):
                case.outcome = "error"
                cases.append(case)
            continue
        children.setdefault(indent, []).append(case)
        cases.append(case)
    return cases
