"""Function-level checksums of Python source, so an edit reselects only the tests that ran it.

Each function or method (by qualified name, e.g. "Parser.feed") is hashed from
its syntax tree (formatting and comments do not count). What is left of the
module once every function body is replaced by `pass` is hashed as the
"<module>" entry: imports, constants, class bodies, decorators, signatures.
Adding, removing or renaming a function therefore changes "<module>" too.

A top-level assignment (`LIMIT = 3`) has its own "<module>:LIMIT" entry; the
names each function and assignment mentions are kept too, so a changed
constant reselects the tests that ran code in its module or mention it.

Functions the module calls while it is imported (in a class body, a constant,
a decorator) are part of what the module builds, so their checksums are folded
into "<module>".

A literal default value (`n=2`) or a decorator's literal argument
(`@dataclass(frozen=True)`, `@lru_cache(100)`) is left out of "<module>": it
belongs to its function (whose checksum has it) and to an entry of the
top-level class or function it decorates ("<class>:Name", the methods'
decorators counting for their class). A test depends on that entry when it
ran one of the class's methods or its code names the name; the entry counts
for "<module>" too when code run at import names the class or function (a
subclass, an instance made at import, a registry), since that code may then
build something else or fail. Functions that import modules by computed name (`__import__`,
`importlib.import_module`), and those in the module that call them, are listed
as "loaders" (see inpytest/units.py): a test that ran one may have used any module of
that package. It depends on the "<module>" and constants of every one of them,
or, when the recorder saw which classes the test used, only on their
"<outline>" (the module without class bodies) besides the modules of the
classes it used.

Results are kept by the file's sha256, so an unchanged file is never parsed
twice; the import names found in the same pass feed the static import graph.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helper.fsutil import atomic_write
from helper.testing.inpytest import units

MODULE = "<module>"
ASSIGN = "<module>:"  # prefix of a top-level assignment's own entry, e.g. "<module>:LIMIT"
CLASS = "<class>:"  # prefix of a top-level class's or function's own entry (its decorators' literal arguments)
OUTLINE = "<outline>"  # the module without its class bodies, constants' values included
VERSION = 8


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _dump(node: ast.AST, *, stub_nested: bool = False) -> str:
    """A syntax tree as text without positions, like ast.dump but three times as fast.

    Expression contexts (Load, Store) are left out: the syntax around a name decides them.
    With `stub_nested`, the bodies of functions and lambdas inside `node` are left out:
    what runs when they are defined (decorators, defaults) is kept.
    """
    out: list[str] = []
    add = out.append

    def dump(node: ast.AST) -> None:
        kind = type(node)
        if kind is ast.Constant:
            add(repr(node.value))  # type: ignore[attr-defined]
            return
        if kind is ast.Name:
            add("$" + node.id)  # type: ignore[attr-defined]
            return
        add(kind.__name__)
        add("(")
        stub = stub_nested and kind in _FUNCTIONS
        for field in node._fields:
            if stub and field == "body":
                add("<stub>,")
                continue
            value = getattr(node, field, None)
            if isinstance(value, ast.AST):
                if not isinstance(value, ast.expr_context):
                    dump(value)
            elif type(value) is list:
                add("[")
                for item in value:
                    if isinstance(item, ast.AST):
                        dump(item)
                    else:
                        add(repr(item))
                    add(",")
                add("]")
            else:
                add(repr(value))
            add(",")
        add(")")

    dump(node)
    return "".join(out)


class _StatementsOnly(ast.NodeTransformer):
    """A transformer of statements: functions and classes are never inside an expression, so none is visited."""

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for child in units.statements(node):  # each visit returns its node: nothing to replace
            self.visit(child)
        return node


class _Splitter(_StatementsOnly):
    """Records each function's dump under its qualified name and stubs its body out."""

    def __init__(self) -> None:
        self.prefix: list[str] = []
        self.functions: dict[str, list[str]] = {}
        self.bodies: dict[str, list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, list[ast.stmt]]]] = {}

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        qualname = ".".join([*self.prefix, node.name])
        self.functions.setdefault(qualname, []).append(_dump(node))
        self.bodies.setdefault(qualname, []).append((node, node.body))
        node.body = [ast.Pass()]
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.prefix.append(node.name)
        self.generic_visit(node)
        self.prefix.pop()
        return node

    def import_time_sum(self, qualname: str) -> str:
        """The checksum of what calling the function at import runs: nested functions' and lambdas' bodies left out.

        `ROUND = make_rounder(5)` runs make_rounder's body, which only defines
        the closure; the closure's body runs in the tests that call it.
        """
        dumps = []
        for node, body in self.bodies.get(qualname, []):
            stubbed = _dump(ast.Module(body=body, type_ignores=[]), stub_nested=True)
            dumps.append(_dump(node) + stubbed)  # node's body is stubbed already
        return _digest("\n".join(dumps))


def _assigned(stmt: ast.stmt) -> list[str] | None:
    """Names a top-level `NAME = value` (or `a, b = ...`, `X: T = v`, `X += v`) binds; None for anything else."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
        targets = [stmt.target]
    else:
        return None
    names: list[str] = []
    for target in targets:
        for element in target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]:
            if not isinstance(element, ast.Name):
                return None
            names.append(element.id)
    return names


def _imports(tree: ast.AST) -> list[list[Any]]:
    """[module, level, [names]] for every import statement, wherever it is (in ast.walk's order)."""
    found: list[list[Any]] = []
    pending = deque([tree])
    while pending:  # ast.walk over statements only: an import is never inside an expression
        node = pending.popleft()
        pending.extend(units.statements(node))
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
        return {"v": VERSION, "sums": {MODULE: hashlib.sha256(source).hexdigest()[:20]}, "imports": [], "uses": {}}
    imports = _imports(tree)
    # What runs at import, found before constants are split off: their values run then too.
    called = _import_time_calls(tree)
    called_outside_classes = _import_time_calls(tree, classes=False)
    # Top-level assignments get entries of their own, so a changed constant only
    # reselects tests that ran code in its module or name it; the skeleton keeps
    # which names are assigned, so adding or removing one still counts for all.
    assignments: dict[str, list[str]] = {}
    refs: dict[str, set[str]] = {}
    body: list[ast.stmt] = []
    for stmt in tree.body:
        names = _assigned(stmt)
        if not names:
            body.append(stmt)
            continue
        for name in names:
            assignments.setdefault(name, []).append(_dump(stmt))
            refs.setdefault(name, set()).update(units.names(stmt.value))  # type: ignore[attr-defined,arg-type]
        body.append(ast.Expr(ast.Constant("assigns " + ",".join(names))))
    tree.body = body
    unit_names = units.unit_uses(tree)
    importing = b"__import__" in source or b"import_module" in source  # as the instrumenter decides
    loaders = units.callers_of(units.dynamic_importers(tree), unit_names) if importing else set()
    splitter = _Splitter()
    skeleton = splitter.visit(tree)
    sums = {name: _digest("\n".join(dumps)) for name, dumps in splitter.functions.items()}
    # Before the literals move: a function called at import runs with its own defaults.
    at_import = [f"{q}={splitter.import_time_sum(q)}" for q in sorted(_closure(called, unit_names))]
    moved = _move_literals(skeleton)
    # What import-time code names, once the moved arguments are out: the values of constants too.
    named_at_import = _import_time_names(skeleton).union(*refs.values()) if moved else set()
    classes: dict[str, list[str]] = {}
    class_uses: dict[str, set[str]] = {}
    for part in moved:
        classes.setdefault(part.top, []).append(part.dump)
        class_uses.setdefault(part.top, set()).update(part.names)
        if part.where.rsplit(".", 1)[-1] in named_at_import:
            at_import.append(part.dump)
    for name, dumps in classes.items():
        sums[CLASS + name] = _digest("\n".join(dumps))
    sums[MODULE] = _digest("\n".join([_dump(skeleton), *at_import]))
    uses = {name: sorted(found) for name, found in unit_names.items()}
    module_uses = units.names(skeleton)
    if any(isinstance(s, ast.ImportFrom) and any(a.name == "*" for a in s.names) for s in tree.body):
        module_uses.add("__all__")
    uses[MODULE] = sorted(module_uses)
    for name, dumps in assignments.items():
        sums[ASSIGN + name] = _digest("\n".join(dumps))
        uses[ASSIGN + name] = sorted(refs[name])
    for name, found in class_uses.items():
        uses[CLASS + name] = sorted(found)
    # A method's decorator sits in its class's body, which the outline leaves out.
    outside_classes = [part.dump for part in moved if "." not in part.where]
    sums[OUTLINE] = _outline(skeleton, sums, _closure(called_outside_classes, unit_names), outside_classes)
    return {"v": VERSION, "sums": sums, "imports": imports, "uses": uses, "loaders": sorted(loaders)}


_PLACEHOLDER = "<literal>"


def _literal(node: ast.expr | None) -> bool:
    if node is None:
        return False
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


# Names every module and class body has, besides what it binds itself.
_MODULE_NAMES = frozenset(dir(builtins)) | {"__name__", "__doc__", "__file__", "__spec__", "__package__", "__loader__"}
_CLASS_NAMES = frozenset({"__doc__", "__module__", "__qualname__"})
_IMPLICIT = _CLASS_NAMES | {"__name__"}  # strings Python binds itself: never a function of the module


def _bound(body: list[ast.stmt]) -> set[str]:
    """Names a module or class body binds itself (assignments, definitions, imports), outside nested scopes."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in units.children(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found.add(child.name)
            elif isinstance(child, ast.Import | ast.ImportFrom):
                found.update((a.asname or a.name).partition(".")[0] for a in child.names if a.name != "*")
            elif isinstance(child, ast.Lambda):
                continue
            else:
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                    found.add(child.id)
                visit(child)

    visit(ast.Module(body=body, type_ignores=[]))
    return found


@dataclass
class _Moved:
    """A decorator's arguments taken out of the skeleton."""

    top: str  # the top-level class or function whose entry they join
    where: str  # what they decorate: "Point", "Parser.feed"
    dump: str
    names: set[str]  # the names the arguments evaluate


def _decorator_arguments(decorators: list[ast.expr], scope: Callable[[], set[str]]) -> tuple[list[str], set[str]]:
    """Take the movable arguments out of decorator calls: literals (`frozen=True`, `lru_cache(100)`)
    and names bound in `scope()` (`classval=__doc__`), which cannot fail to evaluate.

    Each is replaced by a placeholder; returned are their dumps and the names they evaluate.
    """
    moved: list[str] = []
    named: set[str] = set()

    def movable(arg: ast.expr) -> bool:
        if _literal(arg):
            return True
        if isinstance(arg, ast.Name) and arg.id in scope():
            named.add(arg.id)
            return True
        return False

    for decorator in decorators:
        if isinstance(decorator, ast.Call):
            for n, arg in enumerate(decorator.args):
                if not isinstance(arg, ast.Starred) and movable(arg):
                    moved.append(f"{n}={_dump(arg)}")
                    decorator.args[n] = ast.Constant(_PLACEHOLDER)
            for keyword in decorator.keywords:
                if keyword.arg is not None and movable(keyword.value):
                    moved.append(f"{keyword.arg}={_dump(keyword.value)}")
                    keyword.value = ast.Constant(_PLACEHOLDER)
    return moved, named


def _move_literals(skeleton: ast.Module) -> list[_Moved]:
    """Take literal default values and decorators' arguments out of the module's skeleton.

    They belong to their function (whose checksum has them already, and is
    folded into "<module>" when import-time code calls it). A decorator's
    arguments also go to an entry of the top-level class or function it
    decorates, or whose method it decorates ("<class>:Name"): what the
    decorator builds from them (dataclass's methods, a cache, a property) may
    be used without running the decorated code.
    """
    found: list[_Moved] = []
    # Scopes are read only for a decorator with a name among its arguments, which few have.
    module_scope = functools.cache(lambda: _bound(skeleton.body) | _MODULE_NAMES)

    def visit(parent: ast.AST, owner: str | None, path: str, scope: Callable[[], set[str]]) -> None:
        for node in units.children(parent):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if isinstance(node, ast.stmt | ast.excepthandler | ast.match_case):  # no definition in an expression
                    visit(node, owner, path, scope)  # if/try/with blocks: the same scope
                continue
            top = owner or node.name
            where = f"{path}.{node.name}" if path else node.name
            dumps, named = _decorator_arguments(node.decorator_list, scope)
            if dumps:
                found.append(_Moved(top, where, f"decorated {where} " + ",".join(dumps), named))
            if isinstance(node, ast.ClassDef):
                visit(node, top, where, _class_scope(node, where, module_scope))
            else:  # its body is a stub already
                args = node.args
                args.defaults = [ast.Constant(_PLACEHOLDER) if _literal(d) else d for d in args.defaults]
                args.kw_defaults = [
                    ast.Constant(_PLACEHOLDER) if d is not None and _literal(d) else d for d in args.kw_defaults
                ]

    visit(skeleton, None, "", module_scope)
    return found


def _class_scope(node: ast.ClassDef, where: str, module_scope: Callable[[], set[str]]) -> Callable[[], set[str]]:
    """The names a class body can read: its own, the module's; not the classes being defined."""
    return functools.cache(lambda: (_bound(node.body) | _CLASS_NAMES | module_scope()) - set(where.split(".")))


def _outline(skeleton: ast.Module, sums: dict[str, str], at_import: set[str], decorated: list[str]) -> str:
    """Hash of the module with class bodies left out: what a test may use of a module it never ran.

    A loader (see inpytest/units.py) may hand a test any module of its package. When the
    recorder saw which classes a test used (as the receiver of a method, or as
    what a loader returned), that test depends on the outline of the others:
    their imports, constants and what runs at import outside class bodies.
    """

    class Bodiless(_StatementsOnly):
        def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
            node.body = [ast.Pass()]
            return node

    outline = Bodiless().visit(skeleton)
    parts = [_dump(outline), *(f"{q}={sums[q]}" for q in sorted(at_import))]
    parts += [f"{key}={value}" for key, value in sorted(sums.items()) if key.startswith(ASSIGN)]
    parts += decorated  # the arguments of top-level classes' and functions' decorators
    return _digest("\n".join(parts))


def _import_time_calls(tree: ast.AST, *, classes: bool = True) -> set[str]:
    """Names called while the module runs: outside function bodies (decorators and defaults included).

    Without `classes`, calls inside class bodies do not count (class headers do).
    """
    found: set[str] = set()
    stack = units.children(tree)
    pop, push = stack.pop, stack.extend
    while stack:  # order does not matter for a set: no recursion, no generators
        child = pop()
        kind = type(child)
        if kind is ast.Constant or kind is ast.Name or kind is ast.Lambda:
            continue
        if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            args = child.args  # type: ignore[attr-defined]
            for expr in [*child.decorator_list, *args.defaults, *args.kw_defaults]:  # type: ignore[attr-defined]
                if expr is not None:  # a name passed there may be called; a docstring never is
                    found.update(units.names(expr) - _IMPLICIT)
            continue
        if kind is ast.ClassDef:
            found.update(n for d in child.decorator_list for n in units.names(d))  # type: ignore[attr-defined]
            if not classes:
                push([*child.bases, *(k.value for k in child.keywords)])  # type: ignore[attr-defined]
                continue
        elif kind is ast.Call:
            func = child.func  # type: ignore[attr-defined]
            found.add(func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else "")
        push(units.children(child))
    return found


def _import_time_names(tree: ast.AST) -> set[str]:
    """Names that code run at import evaluates: outside function bodies, lambdas and annotations.

    A class named there (a base, an instance made at import, a decorator's
    argument) is used while the module is built, so what its decorators make
    of it counts for the whole module.
    """
    found: set[str] = set()
    stack = [tree]
    pop, push = stack.pop, stack.extend
    load = ast.Load
    while stack:
        node = pop()
        kind = type(node)
        if kind is ast.Name:
            if type(node.ctx) is load:  # type: ignore[attr-defined]
                found.add(node.id)  # type: ignore[attr-defined]
            continue
        if kind is ast.Constant:
            continue
        if kind is ast.Attribute and type(node.ctx) is load:  # type: ignore[attr-defined]
            found.add(node.attr)  # type: ignore[attr-defined]
        if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            args = node.args  # type: ignore[attr-defined]
            push(e for e in [*node.decorator_list, *args.defaults, *args.kw_defaults] if e is not None)  # type: ignore[attr-defined]
        elif kind is ast.Lambda:
            args = node.args  # type: ignore[attr-defined]
            push(e for e in [*args.defaults, *args.kw_defaults] if e is not None)
        elif kind is ast.AnnAssign:
            push(e for e in (node.target, node.value) if e is not None)  # type: ignore[attr-defined]
        else:
            push(units.children(node))
    return found


def _closure(names: set[str], uses: dict[str, set[str]]) -> set[str]:
    """Functions of this module named in `names`, and those they name in turn."""
    by_last: dict[str, list[str]] = {}
    for qualname in uses:
        by_last.setdefault(qualname.rsplit(".", 1)[-1], []).append(qualname)
    found: set[str] = set()
    todo = [q for n in names for q in by_last.get(n, [])]
    while todo:
        qualname = todo.pop()
        if qualname not in found:
            found.add(qualname)
            todo.extend(q for n in uses.get(qualname, ()) for q in by_last.get(n, []))
    return found


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
        if entry is None or entry.get("v") != VERSION:
            try:
                entry = analyse(path.read_bytes())
            except OSError:
                entry = {"v": VERSION, "sums": {}, "imports": [], "uses": {}}
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
