"""Dependency names and their current hashes.

A dependency is named:
    "pkg/mod.py::Parser.feed"   one function or method (its checksum)
    "pkg/mod.py::<module>"      a module's code outside its functions
    "data/cases.json"           a whole file (data files, conftest.py)
    "pkg/plugins/::<modules>"   "<module>" and constants of every module in a package (after a loader ran)
    "pkg/plugins/::<outlines>"  the "<outline>" of every module in a package (after a loader ran,
                                when the recorder saw which classes the test used)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from helper.fingerprint import Fingerprinter
from helper.testing import checksums
from helper.testing.discovery import conftests
from helper.testing.graph import ImportGraph

ABSENT = "-"
PACKAGE_MODULES = "<modules>"
PACKAGE_OUTLINES = "<outlines>"


class Hasher:
    """Current hashes of dependencies, each computed once per run."""

    def __init__(self, root: Path, fingerprinter: Fingerprinter, store: checksums.Store) -> None:
        self.root = root
        self.fp = fingerprinter
        self.store = store
        self._memo: dict[str, str] = {}
        self._keys: dict[tuple[str, ...], str] = {}
        self._files: dict[str, str | None] = {}
        self._analyses: dict[str, dict[str, Any] | None] = {}
        self._assignments: dict[str, list[tuple[str, str]]] = {}
        self._assigners: dict[str, list[tuple[str, str]]] = {}  # name -> (module, checksum key) assigning it
        self._indexed: set[str] = set()
        # named_assignments' results: (modules, a name or None for their module-level code) -> found
        self._named: dict[tuple[frozenset[str], str | None], frozenset[str]] = {}

    def file_sha(self, rel: str) -> str | None:
        if rel not in self._files:
            self._files[rel] = self.fp.file(rel)
        return self._files[rel]

    def seen(self) -> list[str]:
        """Every file (present or not) whose content the selection looked at."""
        return list(self._files)

    def analysis(self, rel: str) -> dict[str, Any] | None:
        if rel in self._analyses:
            return self._analyses[rel]
        # Only Python has imports and functions: a test item made from a data file
        # (an example file a conftest collects) would only be parsed to fail.
        sha = self.file_sha(rel) if rel.endswith(".py") else None
        found = None if sha is None else self.store.get(sha, self.root / rel)
        self._analyses[rel] = found
        return found

    def hash(self, name: str) -> str:
        found = self._memo.get(name)
        if found is not None:
            return found
        rel, sep, unit = name.partition("::")
        if unit in (PACKAGE_MODULES, PACKAGE_OUTLINES):
            found = self._package(rel, outlines=unit == PACKAGE_OUTLINES)
            self._memo[name] = found
            return found
        sha = self.file_sha(rel)
        if sha is None:
            found = ABSENT
        elif not sep:
            found = sha[:20]
        else:
            found = (self.analysis(rel) or {}).get("sums", {}).get(unit, ABSENT)
        self._memo[name] = found
        return found

    def _package(self, folder: str, *, outlines: bool) -> str:
        """One hash over every Python file in `folder` and below: its "<outline>", or "<module>" and constants."""
        digest = hashlib.sha256()
        for rel in self.package_files(folder):
            if outlines:
                entries = [checksums.OUTLINE]
            else:
                entries = [checksums.MODULE, *(k for k, _ in [*self.assignments(rel), *self.classes(rel)])]
            for entry in entries:
                line = f"{rel}::{entry}={self.hash(rel + '::' + entry)}\n"
                digest.update(line.encode("utf-8", "surrogateescape"))
        return digest.hexdigest()[:20]

    def package_files(self, folder: str) -> list[str]:
        """The Python files a package's hash covers: `folder` and below, in a stable order."""
        import os

        found = []
        for current, dirs, files in os.walk(self.root / folder):
            # At the project root only its own files: below it lie tests, venvs and other packages.
            # (Pruned in place as the walk goes: sorting the walk itself would read it whole first.)
            dirs[:] = [d for d in dirs if not d.startswith((".", "__pycache__"))] if folder else []
            for file in files:
                if file.endswith(".py"):
                    found.append(os.path.relpath(os.path.join(current, file), self.root).replace(os.sep, "/"))
        return sorted(found)

    def key_of(self, names: Iterable[str]) -> str:
        """One digest of `names` and their hashes, computed once per list of names in a run.

        Selection and storing ask for the same lists (a test file's collection set, a test's).
        """
        names = tuple(names)
        found = self._keys.get(names)
        if found is None:
            hash_of = self.hash
            text = "".join([f"{name}={hash_of(name)}\n" for name in names])
            found = self._keys[names] = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
        return found

    def changed(self, names: Iterable[str], seen: dict[str, str]) -> list[str]:
        return sorted({n for n in names if self.hash(n) != seen.get(n)})

    def assignments(self, rel: str) -> list[tuple[str, str]]:
        """(checksum key, assigned name) of each top-level assignment in `rel`, computed once per run."""
        found = self._assignments.get(rel)
        if found is None:
            found = [(k, k[len(checksums.ASSIGN) :]) for k in _sums(self, rel) if k.startswith(checksums.ASSIGN)]
            self._assignments[rel] = found
        return found

    def classes(self, rel: str) -> list[tuple[str, str]]:
        """(checksum key, class name) of each top-level class with an entry of its own in `rel`."""
        return [(k, k[len(checksums.CLASS) :]) for k in _sums(self, rel) if k.startswith(checksums.CLASS)]

    def assigners(self, name: str, modules: Iterable[str]) -> list[tuple[str, str]]:
        """(module, checksum key) of each top-level assignment of `name`, among `modules` and any indexed before."""
        for rel in modules:
            if rel not in self._indexed:
                self._indexed.add(rel)
                for key, assigned in [*self.assignments(rel), *self.classes(rel)]:
                    self._assigners.setdefault(assigned, []).append((rel, key))
        return self._assigners.get(name, [])

    def unit(self, rel: str, qualname: str) -> str:
        entry = self.analysis(rel)
        sums = entry["sums"] if entry else {}
        return checksums.unit_of(qualname, sums)  # type: ignore[arg-type]


def static_deps(rel: str, graph: ImportGraph, files: set[str], opened_at_collection: Iterable[str] = ()) -> set[str]:
    """What a test file's collection and every one of its tests depend on."""
    names = {f"{m}::{checksums.MODULE}" for m in graph.closure(rel)}
    for conftest in conftests(rel, files):
        names.add(conftest)  # a fixture's body is not credited to every test using it
        names.update(f"{m}::{checksums.MODULE}" for m in graph.closure(conftest))
    names.update(opened_at_collection)
    return names


def recorded_deps(
    hasher: Hasher,
    funcs: Iterable[Sequence[str]],
    opened: list[str],
    static: Iterable[str] = (),
    *,
    classes_seen: bool = False,
) -> set[str]:
    """A test's own dependencies: functions it ran, their modules, files it read, constants it names.

    `classes_seen`: the recorder listed the modules of the classes the test used
    (as "<module>" entries), so a loader's package counts by outline only.
    """
    names: set[str] = set()
    units: list[tuple[str, str]] = []
    executed: set[str] = set()
    for rel, qualname in funcs:
        if rel.endswith(".py"):
            unit = hasher.unit(rel, qualname)
            units.append((rel, unit))
            names.add(f"{rel}::{unit}")
            names.add(f"{rel}::{checksums.MODULE}")
            executed.add(rel)
        else:
            names.add(rel)
    for rel, unit in units:  # a loader ran: whatever module of its package it loaded counts
        if unit in (hasher.analysis(rel) or {}).get("loaders", ()):
            folder = rel.rpartition("/")[0]
            names.add(f"{folder + '/' if folder else ''}::{PACKAGE_OUTLINES if classes_seen else PACKAGE_MODULES}")
    for rel, unit in units:  # a method ran: its class's own entry counts
        owner = checksums.CLASS + unit.partition(".")[0]
        if "." in unit and owner in _sums(hasher, rel):
            names.add(f"{rel}::{owner}")
    for rel in executed:  # code ran in this module: every top-level assignment counts
        names.update(f"{rel}::{key}" for key, _ in hasher.assignments(rel))
    names.update(opened)
    names.update(named_assignments(hasher, static, units))
    return names


def _sums(hasher: Hasher, rel: str) -> dict[str, str]:
    entry = hasher.analysis(rel)
    return entry["sums"] if entry else {}  # type: ignore[return-value]


def _uses(hasher: Hasher, rel: str) -> dict[str, list[str]]:
    entry = hasher.analysis(rel)
    return (entry or {}).get("uses", {})  # type: ignore[return-value]


def named_assignments(hasher: Hasher, static: Iterable[str], units: list[tuple[str, str]]) -> set[str]:
    """Top-level assignments and classes' own entries of imported modules that the code a test ran names (transitively).

    Modules where the test ran code are searched too: their assignments count
    anyway, but a class's entry (its decorators' arguments) only when named.
    """
    suffix = "::" + checksums.MODULE
    modules = frozenset(n[: -len(suffix)] for n in static if n.endswith(suffix))
    starts: set[str] = set()
    for rel, unit in units:
        starts.update(_uses(hasher, rel).get(unit, []))
    # The tests of one file mostly share `modules`: what their module-level code names is found once.
    memo = hasher._named
    found = memo.get((modules, None))
    if found is None:
        pending = [name for rel in modules for name in _uses(hasher, rel).get(checksums.MODULE, [])]
        found = memo[(modules, None)] = _named_closure(hasher, modules, pending)
    result = set(found)
    index = hasher._assigners  # complete for `modules` now: a name it lacks is assigned in none of them
    for name in starts:
        if name not in index:
            continue
        reached = memo.get((modules, name))
        if reached is None:
            reached = memo[(modules, name)] = _named_closure(hasher, modules, [name])
        result |= reached
    return result


def _named_closure(hasher: Hasher, modules: frozenset[str], pending: list[str]) -> frozenset[str]:
    """The assignments in `modules` named by `pending`, and those they name in turn."""
    hasher.assigners("", modules)  # index the modules' assignments once
    found: set[str] = set()
    done: set[str] = set()
    while pending:  # a constant named by a found one is found too
        name = pending.pop()
        if name in done:
            continue
        done.add(name)
        for rel, key in hasher.assigners(name, ()):
            if rel in modules:
                found.add(f"{rel}::{key}")
                pending.extend(_uses(hasher, rel).get(key, []))
    return frozenset(found)
