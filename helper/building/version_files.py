"""Where a project's version lives, and rewriting it there atomically.

Places: [project] version and [tool.poetry] version in pyproject.toml, and a
`__version__ = "..."` in the package (the file named by [tool.hatch.version]
path or setuptools' `attr`, else the package's __init__.py, __about__.py,
_version.py or version.py). Every place is rewritten or none: new texts are all
computed first, then written one by one with atomic_write, and restored from
memory if a write fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helper.building.buildsystem import identity
from helper.errors import HelpError
from helper.fsutil import atomic_write
from helper.project import key_line

_DUNDER = re.compile(r"""^(?P<head>\s*__version__\s*(?::\s*str\s*)?=\s*)(?P<q>["'])(?P<v>[^"']+)(?P=q)""", re.MULTILINE)
_ASSIGN = re.compile(r"""^(?P<head>\s*version\s*=\s*)(?P<q>["'])(?P<v>[^"']*)(?P=q)""")


@dataclass
class Place:
    path: Path
    label: str  # what the user sees: "pyproject.toml [project] version"
    version: str
    line: int  # 1-based line holding it


def _module_file(root: Path, dotted: str) -> list[Path]:
    parts = dotted.split(".")
    found = []
    for base in (root, root / "src"):
        found += [base.joinpath(*parts, "__init__.py"), base.joinpath(*parts).with_suffix(".py")]
    return found


def _candidates(root: Path, pyproject: dict[str, Any]) -> list[Path]:
    tool = pyproject.get("tool") or {}
    paths: list[Path] = []
    hatch_path = ((tool.get("hatch") or {}).get("version") or {}).get("path")
    if isinstance(hatch_path, str):
        paths.append(root / hatch_path)
    attr = (((tool.get("setuptools") or {}).get("dynamic") or {}).get("version") or {}).get("attr")
    if isinstance(attr, str) and "." in attr:
        paths += _module_file(root, attr.rsplit(".", 1)[0])
    name, _ = identity(pyproject)
    if name:
        package = re.sub(r"[-.]+", "_", name).lower()
        for base in (root / "src", root):
            for module in ("__init__.py", "__about__.py", "_version.py", "version.py"):
                paths.append(base / package / module)
            paths.append(base / f"{package}.py")
    unique: list[Path] = []
    for path in paths:
        if path.is_file() and path not in unique:
            unique.append(path)
    return unique


def find(root: Path, pyproject: dict[str, Any]) -> list[Place]:
    """Every place holding the version literally; an error when there is none."""
    places: list[Place] = []
    pyproject_path = root / "pyproject.toml"
    text = pyproject_path.read_text(encoding="utf-8") if pyproject_path.is_file() else ""
    table = pyproject.get("project") or {}
    if isinstance(table.get("version"), str):
        line = key_line(text, ["project", "version"])
        if line:
            places.append(Place(pyproject_path, "pyproject.toml [project] version", table["version"], line))
    poetry = ((pyproject.get("tool") or {}).get("poetry")) or {}
    if isinstance(poetry.get("version"), str):
        line = key_line(text, ["tool", "poetry", "version"])
        if line:
            places.append(Place(pyproject_path, "pyproject.toml [tool.poetry] version", poetry["version"], line))
    for path in _candidates(root, pyproject):
        content = path.read_text(encoding="utf-8")
        match = _DUNDER.search(content)
        if match:
            line = content.count("\n", 0, match.start("v")) + 1
            places.append(Place(path, f"{path.relative_to(root)} __version__", match["v"], line))
    if not places:
        raise HelpError(
            "found no version to bump",
            'set [project] version = "0.1.0" in pyproject.toml, or __version__ = "0.1.0" in the package',
        )
    versions = {p.version for p in places}
    if len(versions) > 1:
        listing = ", ".join(f"{p.label} = {p.version}" for p in places)
        raise HelpError(f"the version differs between its places: {listing}", "make them agree, then bump again")
    return places


def _rewrite(text: str, place: Place, new: str) -> str:
    lines = text.splitlines(keepends=True)
    index = place.line - 1
    line = lines[index]
    if place.path.name == "pyproject.toml":
        changed = _ASSIGN.sub(lambda m: f"{m['head']}{m['q']}{new}{m['q']}", line, count=1)
    else:
        changed = _DUNDER.sub(lambda m: f"{m['head']}{m['q']}{new}{m['q']}", line, count=1)
    if changed == line:
        raise HelpError(
            f"cannot rewrite the version in {place.label} (line {place.line})",
            'write it as version = "X.Y.Z" on one line',
        )
    lines[index] = changed
    return "".join(lines)


def write(places: list[Place], new: str) -> dict[Path, bytes]:
    """Set every place to `new`; returns the original bytes of each file (for rollback)."""
    originals: dict[Path, bytes] = {}
    texts: dict[Path, str] = {}
    for place in places:
        if place.path not in originals:
            originals[place.path] = place.path.read_bytes()
            texts[place.path] = originals[place.path].decode("utf-8")
        texts[place.path] = _rewrite(texts[place.path], place, new)
    written: list[Path] = []
    try:
        for path, text in texts.items():
            atomic_write(path, text)
            written.append(path)
    except BaseException:
        restore({p: originals[p] for p in written})
        raise
    return originals


def restore(originals: dict[Path, bytes]) -> None:
    for path, data in originals.items():
        atomic_write(path, data)
