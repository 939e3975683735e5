"""Function-level checksums of Python source, so an edit reselects only the tests that ran it.

Each function or method (by qualified name, e.g. "Parser.feed") is hashed from
its syntax tree (formatting and comments do not count). What is left of the
module once every function body is replaced by `pass` is hashed as the
"<module>" entry: imports, constants, class bodies, decorators, signatures.
Adding, removing or renaming a function therefore changes "<module>" too.

Results are kept by the file's sha256, so an unchanged file is never parsed
twice; the import names found in the same pass feed the static import graph.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any

from helper.fsutil import atomic_write

MODULE = "<module>"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class _Splitter(ast.NodeTransformer):
    """Records each function's dump under its qualified name and stubs its body out."""

    def __init__(self) -> None:
        self.prefix: list[str] = []
        self.functions: dict[str, list[str]] = {}

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        qualname = ".".join([*self.prefix, node.name])
        self.functions.setdefault(qualname, []).append(ast.dump(node))
        node.body = [ast.Pass()]
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.prefix.append(node.name)
        self.generic_visit(node)
        self.prefix.pop()
        return node


def _imports(tree: ast.AST) -> list[list[Any]]:
    """[module, level, [names]] for every import statement, wherever it is."""
    found: list[list[Any]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend([alias.name, 0, []] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append([node.module or "", node.level, [alias.name for alias in node.names]])
    return found


def analyse(source: bytes) -> dict[str, Any]:
    """{"sums": {qualname: hash, "<module>": hash}, "imports": [...]} of Python source."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        # Unparsable: the whole file is one unit, so any edit counts as a change.
        return {"sums": {MODULE: hashlib.sha256(source).hexdigest()[:20]}, "imports": []}
    imports = _imports(tree)
    splitter = _Splitter()
    skeleton = splitter.visit(tree)
    sums = {name: _digest("\n".join(dumps)) for name, dumps in splitter.functions.items()}
    sums[MODULE] = _digest(ast.dump(skeleton))
    return {"sums": sums, "imports": imports}


def unit_of(qualname: str, sums: dict[str, str]) -> str:
    """The checksum entry that covers code with this qualified name.

    Nested functions, lambdas and comprehensions belong to their enclosing
    function; class bodies and anything unknown belong to the module.
    """
    name = qualname.split(".<locals>", 1)[0]
    return name if name in sums else MODULE


class Store:
    """Analyses by file sha256, persisted in .help/ between runs."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.used: set[str] = set()
        self.dirty = False
        if path is not None:
            try:
                data = json.loads(path.read_text())
                if isinstance(data, dict):
                    self.entries = data
            except (OSError, ValueError):
                self.entries = {}

    def get(self, sha: str, path: Path) -> dict[str, Any]:
        self.used.add(sha)
        entry = self.entries.get(sha)
        if entry is None:
            try:
                entry = analyse(path.read_bytes())
            except OSError:
                entry = {"sums": {}, "imports": []}
            self.entries[sha] = entry
            self.dirty = True
        return entry

    def save(self, keep_unused: int = 2000) -> None:
        if self.path is None or not self.dirty:
            return
        if len(self.entries) > len(self.used) + keep_unused:
            self.entries = {k: v for k, v in self.entries.items() if k in self.used}
        atomic_write(self.path, json.dumps(self.entries, separators=(",", ":")), fsync=False)
        self.dirty = False
