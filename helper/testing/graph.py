"""Static import graph of the project: which project files a file imports, transitively.

Imports happen when pytest collects a test module, before any test runs, so
the recorder cannot see them per test; this graph covers them instead. Module
names are resolved the way pytest's default `prepend` import mode makes them
importable: from the project root, from src/, and from the first directory
above each file that is not a package.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any


def _package_base(rel: str, files: set[str]) -> str:
    """The first directory above `rel` without an __init__.py ("" for the root)."""
    directory = os.path.dirname(rel)
    while directory and os.path.join(directory, "__init__.py") in files:
        directory = os.path.dirname(directory)
    return directory


def _module_name(rel: str, base: str) -> str | None:
    inner = os.path.relpath(rel, base) if base else rel
    if inner.startswith(".."):
        return None
    parts = inner[: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts else None


def module_index(py_files: Iterable[str]) -> dict[str, str]:
    """Dotted module name -> project file, for every way a file can be imported."""
    files = set(py_files)
    index: dict[str, str] = {}
    for rel in sorted(files):
        bases = [_package_base(rel, files), "", "src"]
        for base in bases:
            name = _module_name(rel, base)
            if name:
                index.setdefault(name, rel)
    return index


def _package_of(rel: str, index_files: set[str]) -> list[str]:
    """Package parts of `rel` for resolving relative imports."""
    base = _package_base(rel, index_files)
    name = _module_name(rel, base) or ""
    parts = name.split(".") if name else []
    if not rel.endswith("__init__.py") and parts:
        parts.pop()
    return parts


class ImportGraph:
    """Resolves imports of project files; `imports_of(rel)` gives [module, level, names] lists."""

    def __init__(self, py_files: Iterable[str], imports_of: Callable[[str], list[list[Any]]]) -> None:
        self.files = set(py_files)
        self.index = module_index(self.files)
        self.imports_of = imports_of
        self._direct: dict[str, set[str]] = {}
        self._closure: dict[str, frozenset[str]] = {}

    def _with_parents(self, name: str) -> list[str]:
        parts = name.split(".")
        found = []
        for i in range(1, len(parts) + 1):
            rel = self.index.get(".".join(parts[:i]))
            if rel:
                found.append(rel)
        return found

    def direct(self, rel: str) -> set[str]:
        cached = self._direct.get(rel)
        if cached is not None:
            return cached
        result: set[str] = set()
        for module, level, names in self.imports_of(rel):
            if level:
                package = _package_of(rel, self.files)
                package = package[: len(package) - (level - 1)] if level > 1 else package
                base = ".".join([*package, module] if module else package)
            else:
                base = module
            if base:
                result.update(self._with_parents(base))
            for name in names:
                if name != "*":
                    full = f"{base}.{name}" if base else name
                    if full in self.index:
                        result.update(self._with_parents(full))
        result.discard(rel)
        self._direct[rel] = result
        return result

    def closure(self, rel: str) -> frozenset[str]:
        """`rel` and every project file it imports, directly or not."""
        cached = self._closure.get(rel)
        if cached is not None:
            return cached
        seen = {rel}
        stack = [rel]
        while stack:
            for dep in self.direct(stack.pop()):
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        result = frozenset(seen)
        self._closure[rel] = result
        return result
