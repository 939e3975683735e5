"""Just enough of PEP 440 and PEP 508 to compare an environment with what the project declares.

Versions compare by release numbers and pre/post/dev stage; requirements are
split into name, extras, specifiers and a marker; markers are evaluated
against the interpreter's own values. Anything not understood answers None
("cannot tell") rather than a wrong yes or no.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(
    r"^\s*v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d*))?"
    r"(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d*))?(?:[-_.]?(dev)[-_.]?(\d*))?(?:\+[a-z0-9.]+)?\s*$",
    re.IGNORECASE,
)
_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(\(?[^;@]*?\)?)?\s*(@\s*[^;]+?)?\s*(;\s*(.*))?$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_version(text: str) -> tuple | None:  # type: ignore[type-arg]
    """A sortable key for a PEP 440 version, or None when it is not one."""
    match = _VERSION.match(text)
    if not match:
        return None
    epoch, release, pre_l, pre_n, post_implicit, post_l, post_n, dev_l, dev_n = match.groups()
    numbers = tuple(int(p) for p in release.split("."))
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers = numbers[:-1]
    if pre_l:
        pre = (0, _PRE[pre_l.lower()], int(pre_n or 0))
    elif dev_l and not (post_l or post_implicit):
        pre = (-1, 0, 0)  # 1.0.dev1 sorts before 1.0a1
    else:
        pre = (1, 0, 0)
    post = int(post_implicit or post_n or 0) if (post_implicit or post_l) else -1
    dev = int(dev_n or 0) if dev_l else float("inf")
    return (int(epoch or 0), numbers, pre, post, dev)


def _release(text: str) -> list[int]:
    match = _VERSION.match(text)
    return [int(p) for p in match.group(2).split(".")] if match else []


def matches(version: str, specifier: str) -> bool | None:
    """Does `version` satisfy a specifier set like '>=3.9,<4' or '~=1.4.2'? None if either is not understood."""
    have = parse_version(version)
    if have is None:
        return None
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        match = re.match(r"^(===|~=|==|!=|<=|>=|<|>)\s*(.+)$", clause)
        if not match:
            return None
        op, wanted = match.groups()
        if op == "===":
            ok = version.strip() == wanted.strip()
        elif wanted.endswith(".*") and op in ("==", "!="):
            prefix = _release(wanted[:-2])
            ok = _release(version)[: len(prefix)] + [0] * max(0, len(prefix) - len(_release(version))) == prefix
            ok = ok if op == "==" else not ok
        else:
            want = parse_version(wanted)
            if want is None:
                return None
            if op == "~=":
                parts = _release(wanted)
                if len(parts) < 2:
                    return None
                ok = have >= want and _release(version)[: len(parts) - 1] == parts[:-1]
            elif op == "==":
                ok = have[:4] == want[:4] and (have[4] == want[4])
            elif op == "!=":
                ok = have != want
            elif op == ">=":
                ok = have >= want
            elif op == "<=":
                ok = have <= want
            elif op == ">":
                ok = have > want
            else:
                ok = have < want
        if not ok:
            return False
    return True


@dataclass
class Requirement:
    name: str
    extras: list[str]
    specifier: str
    url: str | None
    marker: str | None
    text: str

    @property
    def key(self) -> str:
        return canonical(self.name)


def parse_requirement(text: str) -> Requirement | None:
    match = _REQ.match(text)
    if not match:
        return None
    name, extras, spec, url, _, marker = match.groups()
    spec = (spec or "").strip().strip("()").replace(" ", "")
    return Requirement(
        name=name,
        extras=[e.strip() for e in (extras or "").strip("[]").split(",") if e.strip()],
        specifier=spec,
        url=url[1:].strip() if url else None,
        marker=marker.strip() if marker else None,
        text=text.strip(),
    )


_TOKEN = re.compile(r"\s*(\(|\)|and\b|or\b|not in\b|in\b|===|==|!=|~=|<=|>=|<|>|'[^']*'|\"[^\"]*\"|[A-Za-z_.]+)")
_VERSION_VARS = {"python_version", "python_full_version", "implementation_version"}


def evaluate_marker(marker: str, values: dict[str, str]) -> bool | None:
    """Evaluate a PEP 508 marker with `values` (python_version, sys_platform, extra, ...); None if unsure."""
    tokens: list[str] = []
    position = 0
    while position < len(marker):
        match = _TOKEN.match(marker, position)
        if not match:
            if marker[position:].strip() == "":
                break
            return None
        tokens.append(match.group(1))
        position = match.end()
    index = 0

    def atom() -> bool | None:
        nonlocal index
        if index < len(tokens) and tokens[index] == "(":
            index += 1
            value = expression()
            index += 1  # ")"
            return value
        if index + 3 > len(tokens):
            return None
        left, op, right = tokens[index], tokens[index + 1], tokens[index + 2]
        index += 3
        return compare(left, op, right)

    def compare(left: str, op: str, right: str) -> bool | None:
        def value(token: str) -> tuple[str | None, str | None]:
            if token[:1] in "'\"":
                return token[1:-1], None
            return values.get(token), token

        lhs, lvar = value(left)
        rhs, rvar = value(right)
        if lhs is None or rhs is None:
            return None
        if op in ("in", "not in"):
            return (lhs in rhs) if op == "in" else (lhs not in rhs)
        if (lvar in _VERSION_VARS or rvar in _VERSION_VARS) and op not in ("===",):
            return matches(lhs, f"{op}{rhs}")
        if lvar == "extra" or rvar == "extra":
            lhs, rhs = canonical(lhs), canonical(rhs)
        return {
            "==": lhs == rhs,
            "!=": lhs != rhs,
            "<": lhs < rhs,
            ">": lhs > rhs,
            "<=": lhs <= rhs,
            ">=": lhs >= rhs,
        }.get(op)

    def conjunction() -> bool | None:
        nonlocal index
        result = atom()
        while index < len(tokens) and tokens[index] == "and":
            index += 1
            other = atom()
            result = False if result is False or other is False else (None if result is None or other is None else True)
        return result

    def expression() -> bool | None:
        nonlocal index
        result = conjunction()
        while index < len(tokens) and tokens[index] == "or":
            index += 1
            other = conjunction()
            result = True if result is True or other is True else (None if result is None or other is None else False)
        return result

    try:
        result = expression()
    except IndexError:
        return None
    return result if index >= len(tokens) else None
