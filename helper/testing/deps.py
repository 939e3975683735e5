"""Dependency names and their current hashes.

A dependency is named:
    "pkg/mod.py::Parser.feed"   one function or method (its checksum)
    "pkg/mod.py::<module>"      a module's code outside its functions
    "data/cases.json"           a whole file (data files, conftest.py)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from helper.fingerprint import Fingerprinter
from helper.testing import checksums
from helper.testing.discovery import conftests
from helper.testing.graph import ImportGraph

ABSENT = "-"


class Hasher:
    """Current hashes of dependencies, each computed once per run."""

    def __init__(self, root: Path, fingerprinter: Fingerprinter, store: checksums.Store) -> None:
        self.root = root
        self.fp = fingerprinter
        self.store = store
        self._memo: dict[str, str] = {}
        self._files: dict[str, str | None] = {}

    def file_sha(self, rel: str) -> str | None:
        if rel not in self._files:
            self._files[rel] = self.fp.file(rel)
        return self._files[rel]

    def analysis(self, rel: str) -> dict[str, object] | None:
        sha = self.file_sha(rel)
        return None if sha is None else self.store.get(sha, self.root / rel)

    def hash(self, name: str) -> str:
        found = self._memo.get(name)
        if found is not None:
            return found
        rel, sep, unit = name.partition("::")
        sha = self.file_sha(rel)
        if sha is None:
            found = ABSENT
        elif not sep:
            found = sha[:20]
        else:
            found = self.store.get(sha, self.root / rel)["sums"].get(unit, ABSENT)
        self._memo[name] = found
        return found

    def key_of(self, names: Iterable[str]) -> str:
        digest = hashlib.sha256()
        for name in names:
            digest.update(f"{name}={self.hash(name)}\n".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    def changed(self, names: Iterable[str], seen: dict[str, str]) -> list[str]:
        return sorted({n for n in names if self.hash(n) != seen.get(n)})

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


def recorded_deps(hasher: Hasher, funcs: list[list[str]], opened: list[str]) -> set[str]:
    names: set[str] = set()
    for rel, qualname in funcs:
        if rel.endswith(".py"):
            names.add(f"{rel}::{hasher.unit(rel, qualname)}")
            names.add(f"{rel}::{checksums.MODULE}")
        else:
            names.add(rel)
    names.update(opened)
    return names
