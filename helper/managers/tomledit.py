"""Add and remove strings in one TOML array, leaving every other byte of the file alone.

Enough of TOML for dependency lists: `[project] dependencies`, `[project.optional-
dependencies] NAME`, `[dependency-groups] NAME`. The array is located by its
table header and key, its string items are tokenised with their spans, and the
edit splices text in or out. The result is parsed again and compared with the
expected list before anyone writes it, so a surprising layout is an error, never
a damaged file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from helper.errors import HelpError

_HEADER = re.compile(r"^[ \t]*\[(?!\[)\s*([^\]]+?)\s*\][ \t]*(#.*)?$")
_AOT = re.compile(r"^[ \t]*\[\[")


@dataclass
class Item:
    value: str | None  # None for a non-string item (e.g. {include-group = "x"})
    start: int  # offsets in the file's text
    end: int


@dataclass
class Array:
    start: int  # offset of '['
    end: int  # offset just past ']'
    items: list[Item]


def _key_parts(raw: str) -> list[str]:
    return [p.strip().strip("\"'") for p in raw.split(".")]


def _tables(text: str) -> list[tuple[list[str], int, int]]:
    """(header path, body start, body end) for each [table] in `text`; the root table first."""
    spans: list[tuple[list[str], int, int]] = []
    current: list[str] = []
    start = 0
    offset = 0
    in_multiline: str | None = None
    for line in text.splitlines(keepends=True):
        if in_multiline is None:
            header = _HEADER.match(line)
            if header or _AOT.match(line):
                spans.append((current, start, offset))
                current = _key_parts(header.group(1)) if header else ["<array-of-tables>"]
                start = offset + len(line)
        # Skip headers that are really lines inside multi-line strings.
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_multiline = quote if in_multiline is None else (None if in_multiline == quote else in_multiline)
        offset += len(line)
    spans.append((current, start, offset))
    return spans


def _skip_string(text: str, i: int) -> tuple[int, str]:
    """Index past the string starting at text[i] and its value."""
    quote = text[i]
    if text.startswith(quote * 3, i):
        end = text.find(quote * 3, i + 3)
        if end < 0:
            raise ValueError("unterminated string")
        return end + 3, tomllib.loads("v = " + text[i : end + 3])["v"]
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\" and quote == '"':
            j += 2
            continue
        if ch == quote:
            return j + 1, tomllib.loads("v = " + text[i : j + 1])["v"]
        if ch == "\n":
            break
        j += 1
    raise ValueError("unterminated string")


def _scan_array(text: str, i: int) -> Array:
    """Tokenise the array whose '[' is at text[i]."""
    assert text[i] == "["
    start = i
    i += 1
    items: list[Item] = []
    depth = 0
    item_start = None
    while i < len(text):
        ch = text[i]
        if ch == "#":
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        if ch in "\"'" and depth == 0:
            end, value = _skip_string(text, i)
            items.append(Item(value, i, end))
            i = end
            continue
        if ch in "\"'":
            i, _ = _skip_string(text, i)
            continue
        if ch in "[{":
            if depth == 0:
                item_start = i
            depth += 1
        elif ch in "]}":
            if depth == 0:
                return Array(start, i + 1, items)
            depth -= 1
            if depth == 0 and item_start is not None:
                items.append(Item(None, item_start, i + 1))
                item_start = None
        i += 1
    raise ValueError("unterminated array")


def find_array(text: str, table: list[str], key: str) -> Array | None:
    """The array `key = [...]` directly in `[table]`, or None when the key is absent."""
    for path, body_start, body_end in _tables(text):
        if path != table:
            continue
        pattern = re.compile(r"^[ \t]*(\"?)" + re.escape(key) + r"\1[ \t]*=[ \t]*", re.MULTILINE)
        match = pattern.search(text, body_start, body_end)
        if not match:
            return None
        if text[match.end() : match.end() + 1] != "[":
            raise ValueError(f"{'.'.join([*table, key])} is not written as an array")
        return _scan_array(text, match.end())
    return None


def _table_end(text: str, table: list[str]) -> int | None:
    for path, _body_start, body_end in _tables(text):
        if path == table:
            # Insert after the table's last non-blank line.
            end = body_end
            while end > 0 and text[end - 1] in " \t\r\n":
                end -= 1
            nl = text.find("\n", end)
            return len(text) if nl < 0 else nl + 1
    return None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    ls = text.rfind("\n", 0, start) + 1
    le = text.find("\n", end)
    return ls, (len(text) if le < 0 else le + 1)


def _add_item(text: str, array: Array, value: str) -> str:
    body = text[array.start : array.end]
    literal = _quote(value)
    close = array.end - 1
    if not array.items:
        if "\n" not in body:
            return text[: array.start] + "[" + literal + "]" + text[array.end :]
        ls = text.rfind("\n", 0, close) + 1
        if text[ls:close].strip():
            return text[:close] + "\n    " + literal + ",\n" + text[close:]
        return text[:ls] + "    " + literal + ",\n" + text[ls:]
    last = array.items[-1]
    if "\n" not in body:
        return text[: last.end] + ", " + literal + text[last.end :]
    ls = text.rfind("\n", 0, last.start) + 1
    indent = text[ls : last.start]
    if indent.strip():
        indent = "    "
    between = text[last.end : close]
    rest = text[last.end :]
    comma = rest[: len(rest) - len(rest.lstrip(" \t"))] if rest.lstrip(" \t").startswith(",") else None
    if "\n" not in between:
        # The closing bracket shares the last item's line.
        tail = rest.lstrip(" \t")[1:] if comma is not None else rest
        return text[: last.end] + ",\n" + indent + literal + tail
    nl = text.index("\n", last.end)
    head = text[: last.end] + ("" if comma is not None else ",") + text[last.end : nl + 1]
    return head + indent + literal + ",\n" + text[nl + 1 :]


def _remove_item(text: str, array: Array, index: int) -> str:
    item = array.items[index]
    body = text[array.start : array.end]
    if "\n" in body:
        ls, le = _line_bounds(text, item.start, item.end)
        line = text[ls:le]
        rest = (line[: item.start - ls] + line[item.end - ls :]).strip().lstrip(",").strip()
        if not rest or rest.startswith("#"):
            return text[:ls] + text[le:]
    # Inline: remove the literal and one neighbouring comma.
    after = text[item.end : array.end]
    m = re.match(r"\s*,\s*", after)
    if m:
        return text[: item.start] + text[item.end + m.end() :]
    before = text[array.start : item.start]
    m2 = re.search(r",\s*$", before)
    if m2:
        return text[: array.start + m2.start()] + text[item.end :]
    return text[: item.start] + text[item.end :]


def edit_array(
    text: str,
    table: list[str],
    key: str,
    *,
    add: str | None = None,
    remove_if: Callable[[str], bool] | None = None,
    replace_if: Callable[[str], bool] | None = None,
    source: str = "pyproject.toml",
) -> tuple[str, bool]:
    """Edit one string array; returns (new text, changed). Creates the key or table when absent.

    `add` is appended, or replaces in place the first item for which `replace_if`
    is true. `remove_if` drops every matching item.
    """
    try:
        original = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HelpError(f"{source} is not valid TOML: {exc}", f"fix {source} first; nothing was changed") from None
    where = ".".join([*table, key])
    try:
        array = find_array(text, table, key)
    except ValueError as exc:
        raise HelpError(
            f"cannot edit {where} in {source}: {exc}", f"edit {source} by hand; nothing was changed"
        ) from None
    new = text
    expected: list | None = None
    node: Any = original
    for part in table:
        node = node.get(part, {}) if isinstance(node, dict) else {}
    current = list(node.get(key, [])) if isinstance(node, dict) else []
    if array is None:
        if add is None:
            return text, False
        block = f"{key} = [\n    {_quote(add)},\n]\n"
        end = _table_end(text, table)
        if end is None:
            sep = "" if text.endswith("\n\n") or not text else ("\n" if text.endswith("\n") else "\n\n")
            new = text + sep + f"[{'.'.join(table)}]\n" + block
        else:
            prefix = "" if text[:end].endswith("\n") or end == 0 else "\n"
            new = text[:end] + prefix + block + text[end:]
        expected = [*current, add]
    else:
        if remove_if is not None:
            drop = [i for i, it in enumerate(array.items) if it.value is not None and remove_if(it.value)]
            if not drop:
                return text, False
            for i in reversed(drop):
                new = _remove_item(new, array, i)
                array = find_array(new, table, key)
                assert array is not None
            expected = [v for i, v in enumerate(current) if i not in drop]
        if add is not None:
            hit = next(
                (i for i, it in enumerate(array.items) if it.value is not None and replace_if and replace_if(it.value)),
                None,
            )
            if hit is not None:
                item = array.items[hit]
                if item.value == add:
                    return text, False
                new = new[: item.start] + _quote(add) + new[item.end :]
                expected = list(current)
                expected[hit] = add
            else:
                new = _add_item(new, array, add)
                expected = [*(expected if expected is not None else current), add]
    try:
        reparsed = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        reparsed = None
    node = reparsed
    for part in [*table, key]:
        node = node.get(part) if isinstance(node, dict) else None
    if node != expected:
        raise HelpError(
            f"cannot safely edit {where} in {source}: its layout is unusual",
            f"edit {source} by hand; nothing was changed",
        )
    return new, True
