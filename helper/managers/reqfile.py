"""Edit requirements*.txt files line by line, keeping comments, options and order.

A requirement line is replaced in place (its trailing comment kept), a new one
is appended, a removed one disappears with nothing else touched.
"""

from __future__ import annotations

import re

from helper.names import canonical

_LINE_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def line_name(line: str) -> str | None:
    """The canonical project name a requirements line names, or None (comment, option, blank)."""
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "-")):
        return None
    match = _LINE_NAME.match(stripped)
    return canonical(match.group(1)) if match else None


def names(text: str) -> list[str]:
    return [n for n in (line_name(line) for line in text.splitlines()) if n]


def requirements(text: str) -> list[str]:
    """The requirement strings of a file (without comments, options or continuations)."""
    found = []
    for line in text.splitlines():
        if line_name(line):
            found.append(re.split(r"\s+#", line.strip(), maxsplit=1)[0].strip())
    return found


def add(text: str, requirement: str, key: str) -> tuple[str, bool]:
    """Put `requirement` (named `key`) in the file: replace its line or append one."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line_name(line) == key:
            body = line.rstrip("\r\n")
            ending = line[len(body) :]
            match = re.search(r"\s+#.*$", body)
            comment = match.group(0) if match else ""
            indent = body[: len(body) - len(body.lstrip())]
            new = indent + requirement + comment + ending
            if new == line:
                return text, False
            lines[i] = new
            return "".join(lines), True
    if text and not text.endswith("\n"):
        text += "\n"
    return text + requirement + "\n", True


def remove(text: str, key: str) -> tuple[str, bool]:
    """Drop every line naming `key`."""
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if line_name(line) != key]
    return "".join(kept), len(kept) != len(lines)
