"""Is every installed requirement satisfied? Runs as a script inside the target environment.

`python -I envcheck.py` prints one JSON document: the installed distributions
and, for every Requires-Dist that is not met, who requires what and what is
there instead. It uses `packaging` when the environment has it and otherwise a
small PEP 440 / PEP 508 subset defined here (also imported by help.py itself
for parsing requirements). Standard library only; keeps to Python 3.8 syntax
because the environment's interpreter may be older than help.py's.
"""

from __future__ import annotations

import json
import os
import re
import sys

_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*")
_VERSION = re.compile(
    r"^\s*v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d+)?)?"
    r"(?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?"
    r"(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$",
    re.IGNORECASE,
)
_OPS = ("~=", "===", "==", "!=", "<=", ">=", "<", ">")


def canonical(name: str) -> str:
    """PEP 503 normalised project name: helper.names.canonical, copied since this file runs alone in other interpreters."""
    return re.sub(r"[-_.]+", "-", name).lower()


class InvalidVersion(ValueError):
    pass


class Version:
    """A PEP 440 version, ordered as the spec says (epoch, release, pre, post, dev, local)."""

    def __init__(self, text: str) -> None:
        match = _VERSION.match(text)
        if not match:
            raise InvalidVersion(text)
        g = match.groupdict()
        self.text = text.strip()
        self.epoch = int(g["epoch"] or 0)
        self.release = tuple(int(p) for p in g["release"].split("."))
        pre = None
        if g["pre_l"]:
            letter = g["pre_l"].lower()
            letter = {"alpha": "a", "beta": "b", "c": "rc", "pre": "rc", "preview": "rc"}.get(letter, letter)
            pre = (letter, int(g["pre_n"] or 0))
        self.pre = pre
        post = g["post_n1"] or (g["post_n2"] or "0" if g["post_l"] else None)
        self.post = int(post) if post is not None else None
        self.dev = int(g["dev_n"] or 0) if g["dev_l"] else None
        self.local = g["local"].lower() if g["local"] else None
        self.key = self._key()

    def _key(self) -> tuple:
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        # Ordering sentinels: a dev-only release sorts before its pre-releases.
        if self.pre is None and self.post is None and self.dev is not None:
            pre: tuple = (-1, "")
        elif self.pre is None:
            pre = (1, "")
        else:
            pre = (0, self.pre[0], self.pre[1])
        post = (-1,) if self.post is None else (0, self.post)
        dev = (1,) if self.dev is None else (0, self.dev)
        local: tuple = ()
        if self.local:
            local = tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in re.split(r"[-_.]", self.local))
        return (self.epoch, tuple(release), pre, post, dev, local)

    @property
    def public(self) -> Version:
        return Version(self.text.split("+", 1)[0])

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


def _base(v: Version) -> tuple:
    """The key of v without its local part (and as a release for ordered comparisons)."""
    return v.key[:5]


def _match_one(op: str, spec: str, version: Version) -> bool:
    if op == "===":
        return version.text == spec
    if op in ("==", "!=") and spec.endswith(".*"):
        prefix = Version(spec[:-2])
        rel = list(version.release) + [0] * max(0, len(prefix.release) - len(version.release))
        same = version.epoch == prefix.epoch and tuple(rel[: len(prefix.release)]) == prefix.release
        return same if op == "==" else not same
    target = Version(spec)
    if op == "~=":
        if len(target.release) < 2:
            raise InvalidVersion(spec)
        pattern = ".".join(str(p) for p in target.release[:-1]) + ".*"
        return _match_one(">=", spec, version) and _match_one("==", pattern, version)
    cmp_version = version if target.local else version.public
    if op == "==":
        return cmp_version == target
    if op == "!=":
        return cmp_version != target
    if op == "<=":
        return _base(version) <= _base(target)
    if op == ">=":
        return _base(version) >= _base(target)
    if op == "<":
        if not _base(version) < _base(target):
            return False
        # <V excludes pre-releases of V unless V is one.
        return target.is_prerelease or not (version.is_prerelease and version.release == target.release)
    if op == ">":
        if not _base(version) > _base(target):
            return False
        if version.post is not None and target.post is None and version.release == target.release:
            return False
        return not (version.local and version.public == target)
    raise InvalidVersion(op + spec)


def split_specifier(text: str) -> list[tuple[str, str]]:
    """'>=1.0, <2' -> [('>=', '1.0'), ('<', '2')]; raises ValueError on nonsense."""
    clauses = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        for op in _OPS:
            if part.startswith(op):
                value = part[len(op) :].strip()
                if not value:
                    raise ValueError(f"no version after {op!r}")
                if op != "===":
                    Version(value[:-2] if value.endswith(".*") else value)
                clauses.append((op, value))
                break
        else:
            raise ValueError(f"not a version specifier: {part!r}")
    return clauses


def specifier_contains(text: str, version: str, prereleases: bool = True) -> bool:
    """Whether `version` satisfies every clause of specifier `text` (installed pre-releases count)."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return any(op == "===" and spec == version for op, spec in split_specifier(text)) or not text.strip()
    if not prereleases and parsed.is_prerelease:
        return False
    return all(_match_one(op, spec, parsed) for op, spec in split_specifier(text))


class Requirement:
    """A PEP 508 requirement: name, extras, specifier, URL and marker text."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        match = _NAME.match(self.text)
        if not match:
            raise ValueError(f"not a requirement: {text!r}")
        self.name = match.group(1)
        rest = self.text[match.end() :]
        self.extras: list[str] = []
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                raise ValueError(f"unclosed extras in {text!r}")
            self.extras = [e.strip() for e in rest[1:end].split(",") if e.strip()]
            rest = rest[end + 1 :].strip()
        self.marker = ""
        if ";" in rest:
            rest, self.marker = (p.strip() for p in rest.split(";", 1))
        self.url = ""
        if rest.startswith("@"):
            self.url = rest[1:].strip()
            rest = ""
        if rest.startswith("(") and rest.endswith(")"):
            rest = rest[1:-1]
        self.specifier = rest.strip()
        if self.specifier:
            split_specifier(self.specifier)

    @property
    def key(self) -> str:
        return canonical(self.name)

    def __str__(self) -> str:
        return self.text


_MARKER_TOKEN = re.compile(
    r"\s*(?:(?P<str>'[^']*'|\"[^\"]*\")|(?P<op>===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b)|(?P<kw>and\b|or\b)|(?P<paren>[()])|(?P<var>[A-Za-z_.]+))"
)


def marker_environment(extra: str = "") -> dict[str, str]:
    import platform

    return {
        "python_version": ".".join(str(n) for n in sys.version_info[:2]),
        "python_full_version": platform.python_version(),
        "os_name": os.name,
        "sys_platform": sys.platform,
        "platform_system": platform.system(),
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_version": platform.version(),
        "platform_python_implementation": platform.python_implementation(),
        "implementation_name": sys.implementation.name,
        "implementation_version": ".".join(str(n) for n in sys.implementation.version[:3]),
        "extra": extra,
    }


def evaluate_marker(marker: str, env: dict[str, str]) -> bool:
    """Evaluate a PEP 508 marker (and/or, parentheses, version and string comparisons)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = marker.strip()
    while pos < len(text):
        match = _MARKER_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot parse marker {marker!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    index = 0

    def value(tok: tuple[str, str]) -> str:
        kind, raw = tok
        if kind == "str":
            return raw[1:-1]
        if kind == "var":
            if raw not in env:
                raise ValueError(f"unknown marker variable {raw!r}")
            return env[raw]
        raise ValueError(f"unexpected {raw!r} in marker {marker!r}")

    def compare(left_tok: tuple[str, str], op: str, right_tok: tuple[str, str]) -> bool:
        left, right = value(left_tok), value(right_tok)
        op = " ".join(op.split())
        if left_tok[1] == "extra" or right_tok[1] == "extra":
            left, right = canonical(left), canonical(right)
        if op == "in":
            return left in right
        if op == "not in":
            return left not in right
        if op in ("==", "!=") and not any(v.endswith(".*") for v in (right,)):
            try:
                result = specifier_contains(op + right, left)
            except (ValueError, InvalidVersion):
                result = left == right if op == "==" else left != right
            return result
        try:
            return specifier_contains(op + right, left)
        except (ValueError, InvalidVersion):
            if op in ("==", "==="):
                return left == right
            if op == "!=":
                return left != right
            raise ValueError(f"cannot compare {left!r} {op} {right!r}") from None

    def atom() -> bool:
        nonlocal index
        if tokens[index] == ("paren", "("):
            index += 1
            result = expr()
            index += 1  # ')'
            return result
        left = tokens[index]
        op = tokens[index + 1][1]
        right = tokens[index + 2]
        index += 3
        return compare(left, op, right)

    def conj() -> bool:
        nonlocal index
        result = atom()
        while index < len(tokens) and tokens[index] == ("kw", "and"):
            index += 1
            rhs = atom()
            result = result and rhs
        return result

    def expr() -> bool:
        nonlocal index
        result = conj()
        while index < len(tokens) and tokens[index] == ("kw", "or"):
            index += 1
            rhs = conj()
            result = result or rhs
        return result

    try:
        return expr()
    except IndexError:
        raise ValueError(f"incomplete marker {marker!r}") from None


def _checker():
    """(requirement parser, satisfied?) using `packaging` if present, else this module's subset."""
    try:
        from packaging.requirements import Requirement as PRequirement  # type: ignore[import-not-found]

        def parse(text):
            req = PRequirement(text)
            return canonical(req.name), str(req.specifier), req.marker

        def applies(marker, extra):
            return marker is None or marker.evaluate({"extra": extra})

        def ok(spec, version):
            from packaging.specifiers import SpecifierSet  # type: ignore[import-not-found]

            return SpecifierSet(spec).contains(version, prereleases=True)

        return parse, applies, ok, "packaging"
    except Exception:
        env_cache = {}

        def parse(text):
            req = Requirement(text)
            return req.key, req.specifier, req.marker or None

        def applies(marker, extra):
            if marker is None:
                return True
            if extra not in env_cache:
                env_cache[extra] = marker_environment(extra)
            return evaluate_marker(marker, env_cache[extra])

        return parse, applies, specifier_contains, "builtin"


def check() -> dict:
    """Installed distributions and every unmet requirement among them."""
    from importlib import metadata

    parse, applies, ok, engine = _checker()
    installed: dict = {}
    requires: dict = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = canonical(name)
        if key in installed:
            continue  # shadowed duplicate further down sys.path
        installed[key] = {"name": name, "version": dist.version}
        requires[key] = list(dist.requires or [])
    problems = []
    for key, reqs in sorted(requires.items()):
        for text in reqs:
            try:
                dep, spec, marker = parse(text)
                if not applies(marker, ""):
                    continue
            except Exception as exc:
                problems.append(
                    {
                        "package": installed[key]["name"],
                        "version": installed[key]["version"],
                        "requires": text,
                        "error": str(exc),
                    }
                )
                continue
            have = installed.get(dep)
            if have is None:
                problems.append(
                    {
                        "package": installed[key]["name"],
                        "version": installed[key]["version"],
                        "requires": text,
                        "installed": None,
                    }
                )
            elif spec and not ok(spec, have["version"]):
                problems.append(
                    {
                        "package": installed[key]["name"],
                        "version": installed[key]["version"],
                        "requires": text,
                        "installed": have["version"],
                    }
                )
    for problem in problems:
        # Who else asks for the same project: usually the one that moved its version.
        dep = _dep_key(problem["requires"])
        problem["required_by"] = [
            installed[k]["name"] + " (" + t + ")"
            for k, reqs in sorted(requires.items())
            for t in reqs
            if _dep_key(t) == dep and installed[k]["name"] != problem["package"] and "extra" not in t.split(";", 1)[-1]
        ]
    return {"engine": engine, "installed": installed, "problems": problems}


def needed(roots):
    """Canonical names of the installed distributions `roots` (requirement strings) need, transitively."""
    from importlib import metadata

    parse, applies, _ok, _engine = _checker()
    dists = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonical(name) not in dists:
            dists[canonical(name)] = dist
    wanted = {}  # key -> extras asked for
    todo = []
    for text in roots:
        req = Requirement(text)
        todo.append((req.key, set(req.extras)))
    unknown = []
    while todo:
        key, extras = todo.pop()
        seen = wanted.get(key)
        if seen is not None and extras <= seen:
            continue
        wanted[key] = (seen or set()) | extras
        dist = dists.get(key)
        if dist is None:
            continue
        for text in dist.requires or []:
            try:
                dep, _spec, marker = parse(text)
                if not any(applies(marker, extra) for extra in ["", *sorted(wanted[key])]):
                    continue
                todo.append((dep, set(Requirement(text.split(";")[0]).extras)))
            except Exception:
                unknown.append(text)
    return {"needed": sorted(wanted), "unknown": unknown}


def _dep_key(text):
    match = _NAME.match(text)
    return canonical(match.group(1)) if match else ""


if __name__ == "__main__":
    if sys.argv[1:2] == ["--needed"]:
        json.dump(needed(json.loads(sys.argv[2])), sys.stdout)
    else:
        json.dump(check(), sys.stdout)
