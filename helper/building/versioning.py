"""PEP 440 versions: parse, normalise and bump (major, minor, patch, pre)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from helper.errors import HelpError

# The pattern of PEP 440, appendix B.
_PATTERN = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_\.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_\.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_\.]?(?P<post_l>post|rev|r)[-_\.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_\.]?(?P<dev_l>dev)[-_\.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "rc": "rc", "pre": "rc", "preview": "rc"}
PARTS = ("major", "minor", "patch", "pre")


@dataclass(frozen=True)
class Version:
    epoch: int
    release: tuple[int, ...]
    pre: tuple[str, int] | None = None
    post: int | None = None
    dev: int | None = None
    local: str | None = None

    def __str__(self) -> str:
        text = f"{self.epoch}!" if self.epoch else ""
        text += ".".join(map(str, self.release))
        if self.pre:
            text += f"{self.pre[0]}{self.pre[1]}"
        if self.post is not None:
            text += f".post{self.post}"
        if self.dev is not None:
            text += f".dev{self.dev}"
        if self.local:
            text += f"+{self.local}"
        return text


def parse(text: str) -> Version:
    match = _PATTERN.match(text)
    if not match:
        raise HelpError(f"{text!r} is not a PEP 440 version", "use a version such as 1.2.3, 1.2.3rc1 or 2.0.0.dev1")
    pre = None
    if match["pre_l"]:
        pre = (_PRE[match["pre_l"].lower()], int(match["pre_n"] or 0))
    post = None
    if match["post"]:
        post = int(match["post_n1"] or match["post_n2"] or 0)
    dev = int(match["dev_n"] or 0) if match["dev_l"] else None
    local = match["local"].lower().replace("-", ".").replace("_", ".") if match["local"] else None
    return Version(int(match["epoch"] or 0), tuple(int(p) for p in match["release"].split(".")), pre, post, dev, local)


def normalize(text: str) -> str:
    return str(parse(text))


def bump(text: str, part: str) -> str:
    """The next version: 1.2.3 -> major 2.0.0, minor 1.3.0, patch 1.2.4, pre 1.2.4a1.

    A pre-release is finished by the bump it anticipates (1.3.0rc1 -> minor or
    patch -> 1.3.0), and `pre` on a pre-release counts it up (1.3.0rc1 -> 1.3.0rc2).
    """
    if part not in PARTS:
        raise HelpError(f"unknown version part {part!r}", f"use one of {', '.join(PARTS)}")
    current = parse(text)
    major, minor, patch = [*current.release, 0, 0, 0][:3]
    unreleased = current.pre is not None or current.dev is not None
    base = replace(current, pre=None, post=None, dev=None, local=None)
    if part == "pre":
        if current.pre is not None and current.post is None:
            return str(replace(base, pre=(current.pre[0], current.pre[1] + 1)))
        if current.dev is not None and current.pre is None:
            return str(replace(base, release=(major, minor, patch), pre=("a", 1)))
        return str(replace(base, release=(major, minor, patch + 1), pre=("a", 1)))
    if part == "major":
        finishes = unreleased and minor == 0 and patch == 0
        return str(replace(base, release=(major, 0, 0) if finishes else (major + 1, 0, 0)))
    if part == "minor":
        finishes = unreleased and patch == 0
        return str(replace(base, release=(major, minor, 0) if finishes else (major, minor + 1, 0)))
    return str(replace(base, release=(major, minor, patch) if unreleased else (major, minor, patch + 1)))
