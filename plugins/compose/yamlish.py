"""A small YAML reader for compose files: block maps and lists, flow [..]/{..}, quotes, `|`/`>`.

The core is stdlib-only and PyYAML is not always installed, so compose files are read
with this subset: what compose files use, including anchors (`&name`, also alone on the
line after its key), aliases (`*name`), merge keys (`<<: *name`, `<<: [*a, *b]`; the
mapping's own keys win) and flow collections spanning lines. Of the tags, compose's
`!reset` and `!override` are kept as `Tagged` for the model's merge; any other tag and
multi-document streams are refused with file:line. Every mapping remembers the line of each key, so a
later validation error can name file:line and key.
"""

from __future__ import annotations

import re
from typing import Any

from helper.errors import ConfigError


class YMap(dict[str, Any]):
    """A mapping that knows the line of each of its keys."""

    lines: dict[str, int]
    line: int

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.lines = {}
        self.line = line


_KEY = re.compile(r"""^(?:"([^"]*)"|'([^']*)'|([^\s'"#\[\]{}][^:#]*?|[^\s'"#\[\]{}]))\s*:(?:\s+|$)(.*)$""")


class Tagged:
    """A compose override tag on a value: `!reset` (drop the base's value) or `!override` (replace it whole)."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tagged) and (other.tag, other.value) == (self.tag, self.value)

    def __repr__(self) -> str:
        return f"!{self.tag} {self.value!r}"


_ANCHOR = re.compile(r"^([&*])([^\s,\[\]{}]+)\s*(.*)$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")


def _strip_comment(text: str) -> str:
    quote = ""
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"" and (i == 0 or text[i - 1] in " \t[{,:-"):
            quote = char
        elif char == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


class _Reader:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.raw = text.splitlines()
        # (line number, indent, content) of every meaningful line
        self.lines: list[tuple[int, int, str]] = []
        for number, line in enumerate(self.raw, start=1):
            if "\t" in line[: len(line) - len(line.lstrip())]:
                self.fail(number, "tab in indentation")
            content = _strip_comment(line)
            if not content.strip():
                continue
            stripped = content.strip()
            if stripped in ("---", "..."):
                if self.lines:
                    self.fail(number, "more than one YAML document")
                continue
            self.lines.append((number, len(content) - len(content.lstrip()), stripped))
        self.pos = 0
        self.anchors: dict[str, Any] = {}

    def fail(self, line: int, message: str) -> None:
        raise ConfigError(f"{message}", "fix the compose file's syntax", where=f"{self.source}:{line}")

    def parse(self) -> Any:
        if not self.lines:
            return YMap(1)
        value = self.block(self.lines[0][1])
        if self.pos < len(self.lines):
            self.fail(self.lines[self.pos][0], "unexpected indentation")
        return value

    def block(self, indent: int) -> Any:
        _number, _, content = self.lines[self.pos]
        if content == "-" or content.startswith("- "):
            return self.sequence(indent)
        return self.mapping(indent)

    def mapping(self, indent: int) -> YMap:
        result = YMap(self.lines[self.pos][0])
        merges: list[tuple[int, Any]] = []
        while self.pos < len(self.lines):
            number, ind, content = self.lines[self.pos]
            if ind < indent:
                break
            if ind > indent:
                self.fail(number, "unexpected indentation")
            match = _KEY.match(content)
            if not match or content.startswith("- "):
                self.fail(number, f"expected `key: value`, found {content!r}")
                raise AssertionError
            key = next(g for g in match.groups()[:3] if g is not None).strip()
            if key in result:
                self.fail(number, f"key {key!r} appears twice")
            self.pos += 1
            value = self.value(match.group(4), number, indent, in_map=True)
            if key == "<<" and match.group(3) is not None:
                merges.append((number, value))
                continue
            result[key] = value
            result.lines[key] = number
        return self.merged(result, merges) if merges else result

    def merged(self, own: YMap, merges: list[tuple[int, Any]]) -> YMap:
        """`<<: *a` / `<<: [*a, *b]`: keys of the merged mappings the mapping lacks (earlier sources win)."""
        out = YMap(own.line)
        for number, value in merges:
            for source in value if isinstance(value, list) else [value]:
                if not isinstance(source, dict):
                    self.fail(number, "`<<` merges a mapping (or a list of mappings): `<<: *name`")
                for k, v in source.items():
                    if k not in own and k not in out:
                        out[k] = v
                        out.lines[k] = getattr(source, "lines", {}).get(k, number)
        for k, v in own.items():
            out[k] = v
            out.lines[k] = own.lines[k]
        return out

    def sequence(self, indent: int) -> list[Any]:
        result: list[Any] = []
        while self.pos < len(self.lines):
            number, ind, content = self.lines[self.pos]
            if ind < indent or not (content == "-" or content.startswith("- ")):
                if ind > indent:
                    self.fail(number, "unexpected indentation")
                break
            if ind > indent:
                self.fail(number, "unexpected indentation")
            rest = content[1:].strip()
            anchor = _ANCHOR.match(rest)
            name = None
            if anchor and anchor.group(1) == "&" and _KEY.match(anchor.group(3)):
                name, rest = anchor.group(2), anchor.group(3)  # "- &name key: value"
            if (rest and _KEY.match(rest) and not rest.startswith(("[", "{", '"', "'", "&", "*", "!"))) or (
                rest[:1] in "\"'" and _KEY.match(rest) and not _is_closed_quote(rest)
            ):
                # "- key: value" starts a mapping indented at the item's content
                inner = ind + len(content) - len(rest)
                self.lines[self.pos] = (number, inner, rest)
                item = self.mapping(inner)
                if name is not None:
                    self.anchors[name] = item
                result.append(item)
            else:
                self.pos += 1
                result.append(self.value(rest, number, indent, in_map=False))
        return result

    def alias(self, name: str, number: int) -> Any:
        if name not in self.anchors:
            self.fail(number, f"unknown alias *{name} (no `&{name}` anchor before it)")
        return self.anchors[name]

    def value(self, text: str, number: int, indent: int, *, in_map: bool) -> Any:
        """A node's value: `&anchor`/`*alias` handled here, the rest by `plain_value`."""
        if text[:1] == "!":
            tag, _, rest = text.partition(" ")
            if tag in ("!reset", "!override"):
                return Tagged(tag[1:], self.value(rest.strip(), number, indent, in_map=in_map))
            self.fail(number, f"YAML tags ({tag}) are not supported in compose files here (only !reset, !override)")
        anchor = None
        if text[:1] in ("&", "*"):
            match = _ANCHOR.match(text)
            if match is None:
                self.fail(number, f"{text[:1]!r} needs a name")
                raise AssertionError
            if match.group(1) == "*":
                if match.group(3):
                    self.fail(number, f"unexpected text after alias *{match.group(2)}")
                return self.alias(match.group(2), number)
            anchor, text = match.group(2), match.group(3)
            if text[:1] in ("!", "&", "*"):
                self.fail(number, f"unexpected {text[:1]!r} after anchor &{anchor}")
        elif not text and self.pos < len(self.lines):
            # the anchor (or alias) alone on the next line: `key:\n  &name\n  k: v`
            nxt_number, nxt_indent, nxt = self.lines[self.pos]
            match = _ANCHOR.match(nxt)
            if match and nxt_indent > indent and not _KEY.match(nxt):
                self.pos += 1
                if match.group(1) == "*":
                    if match.group(3):
                        self.fail(nxt_number, f"unexpected text after alias *{match.group(2)}")
                    return self.alias(match.group(2), nxt_number)
                anchor, text, number = match.group(2), match.group(3), nxt_number
        result = self.plain_value(text, number, indent, in_map=in_map)
        if anchor is not None:
            self.anchors[anchor] = result
        return result

    def plain_value(self, text: str, number: int, indent: int, *, in_map: bool) -> Any:
        if text in ("|", "|-", ">", ">-", "|+", ">+"):
            return self.block_scalar(text, indent)
        if text[:1] in ("[", "{"):
            while not _balanced(text):  # a flow collection spanning lines
                if self.pos >= len(self.lines):
                    self.fail(number, f"unclosed {text[0]!r}")
                text += " " + self.lines[self.pos][2]
                self.pos += 1
        if text:
            return self.scalar_or_flow(text, number)
        if self.pos < len(self.lines):
            _nxt_number, nxt_indent, nxt = self.lines[self.pos]
            if nxt_indent > indent or (in_map and nxt_indent == indent and (nxt == "-" or nxt.startswith("- "))):
                return self.block(nxt_indent)
        return None

    def block_scalar(self, style: str, indent: int) -> str:
        # Read raw lines (comments inside are text) until indentation drops back.
        if self.pos >= len(self.lines):
            return ""
        first_number = self.lines[self.pos][0]
        start = first_number - 1
        body: list[str] = []
        block_indent = None
        index = start
        while index < len(self.raw):
            line = self.raw[index]
            if line.strip():
                ind = len(line) - len(line.lstrip())
                if ind <= indent:
                    break
                if block_indent is None:
                    block_indent = ind
                body.append(line[block_indent:])
            else:
                body.append("")
            index += 1
        while self.pos < len(self.lines) and self.lines[self.pos][0] <= index:
            self.pos += 1
        while body and not body[-1]:
            body.pop()
        text = "\n".join(body) if style[0] == "|" else " ".join(b for b in body if b)
        return text if style.endswith("-") else text + "\n"

    def scalar_or_flow(self, text: str, number: int) -> Any:
        if text[0] in "[{":
            value, end = self.flow(text, 0, number)
            if text[end:].strip():
                self.fail(number, f"unexpected text after {text[:end]!r}")
            return value
        return self.scalar(text, number)

    def flow(self, text: str, i: int, number: int) -> tuple[Any, int]:
        opening = text[i]
        closing = "]" if opening == "[" else "}"
        items: list[Any] = []
        mapping = YMap(number)
        i += 1
        while True:
            while i < len(text) and text[i] in " ,":
                i += 1
            if i >= len(text):
                self.fail(number, f"unclosed {opening!r}")
            if text[i] == closing:
                return (items if opening == "[" else mapping), i + 1
            item, i = self.flow_node(text, i, number, key=opening == "{")
            while i < len(text) and text[i] == " ":
                i += 1
            if opening == "{":
                value = None
                if i < len(text) and text[i] == ":":
                    value, i = self.flow_node(text, i + 1, number, key=False)
                mapping[str(item)] = value
                mapping.lines[str(item)] = number
            else:
                items.append(item)

    def flow_node(self, text: str, i: int, number: int, *, key: bool) -> tuple[Any, int]:
        """One item of a flow collection starting at text[i]: (value, index after it)."""
        while i < len(text) and text[i] == " ":
            i += 1
        if i >= len(text):
            self.fail(number, "unclosed flow collection")
        if text[i] == "!":
            self.fail(number, "YAML tags are not supported in compose files here")
        if text[i] in "&*":
            match = re.compile(r"[&*]([^\s,\[\]{}]+)").match(text, i)
            if match is None:
                self.fail(number, f"{text[i]!r} needs a name")
                raise AssertionError
            if text[i] == "*":
                return self.alias(match.group(1), number), match.end()
            value, end = self.flow_node(text, match.end(), number, key=key)
            self.anchors[match.group(1)] = value
            return value, end
        if text[i] in "[{":
            return self.flow(text, i, number)
        if text[i] in "'\"":
            end = _quote_end(text, i)
            if end < 0:
                self.fail(number, "unclosed quote")
            return self.scalar(text[i : end + 1], number), end + 1
        end = i
        while (
            end < len(text)
            and text[end] not in ",]}"
            and not (key and text[end] == ":" and (end + 1 >= len(text) or text[end + 1] == " "))
        ):
            end += 1
        return self.scalar(text[i:end].strip(), number), end

    def scalar(self, text: str, number: int) -> Any:
        if text[:1] == '"':
            if not _is_closed_quote(text):
                self.fail(number, "unclosed or trailing text after a quoted string")
            return text[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        if text[:1] == "'":
            if not _is_closed_quote(text):
                self.fail(number, "unclosed or trailing text after a quoted string")
            return text[1:-1].replace("''", "'")
        if text in ("null", "Null", "NULL", "~", ""):
            return None
        if text in ("true", "True", "TRUE"):
            return True
        if text in ("false", "False", "FALSE"):
            return False
        if _INT.match(text):
            return int(text)
        if _FLOAT.match(text):
            return float(text)
        return text


def _is_closed_quote(text: str) -> bool:
    """Whether `text` is one quoted string and nothing after it."""
    return _quote_end(text, 0) == len(text) - 1


def _quote_end(text: str, start: int) -> int:
    """The index of the quote closing the one at text[start], or -1."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if quote == "'" and i + 1 < len(text) and text[i + 1] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


def _balanced(text: str) -> bool:
    """Whether the flow collection opening `text` closes within it (quotes respected)."""
    depth = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char in "'\"" and (i == 0 or text[:i].rstrip()[-1:] in ("[", "{", ",", ":", "")):
            end = _quote_end(text, i)
            if end < 0:
                return False
            i = end + 1
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return True
        i += 1
    return False


def loads(text: str, source: str) -> Any:
    """The document in `text`; a syntax error is a ConfigError naming source:line."""
    return _Reader(text, source).parse()
