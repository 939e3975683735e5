"""Function-level recording by instrumenting project modules as they are imported.

Used by the recorder on Python 3.11, which has no sys.monitoring: a profiler
hook (even cProfile's C one) costs on every call of every function, about 2x
on call-heavy suites. Here each function, lambda and module body of a project
file gets a first statement

    if not __help_hits_<key>__[3]: __help_hit_<key>__("<key>", 3)

(<key> derived from the file's path) so a call costs a list lookup once its unit has been seen in the current
test, and only the first call per test reaches Python code. Slots are per
checksum unit (units.py): a method, a top-level function (nested functions
and lambdas share their enclosing function's slot), or "<module>".

It also records which classes a test used, whose class bodies a test depends
on even when none of their own methods ran (a lexer subclass made of class
attributes, run by its base class's methods):

- a method also starts with `if id(type(self)) not in __help_seen_<key>__ and
  id(self) not in __help_seen_<key>__: __help_receiver_<key>__(self)`, so each receiver
  type (or class, for a class method) costs a set lookup or two per call and
  one Python call per test;
- in a loader (a unit importing by computed name, or calling one), every
  returned or yielded value passes through `__help_returned_<key>__`, which notes
  the module, class or instance's class it is.

The names the inserted code uses live in `builtins`, never in the module's
namespace: `dir()`, `vars()`, `__all__` checks, `inspect` and pickling see the
module as it was, and a module copying another's namespace (toolz.curried)
cannot pick up the other's counters.

Test modules pytest rewrites for assertions are rewritten the same way first
(pytest's own `rewrite_asserts`), then instrumented. Compiled code is cached
under the control's cache folder by source hash, never in __pycache__, so
code run outside `help.py test` is never the instrumented one.

Stdlib only: it runs inside the project's test environment.
"""

from __future__ import annotations

import ast
import bisect
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import threading
import time
import types
from typing import Any

try:  # inside pytest the recorder's copy of units.py sits beside this file
    from helpy_units import loaders  # type: ignore[import-not-found]
except ImportError:  # imported from the repository itself (its tests, tools)
    from helper.testing.inpytest.units import loaders

HITS = "__help_hits_{}__"  # formatted with key_of(path): one list of flags per file
# The hooks too are named per file: a file's code calls the Hits that registered that file, so a
# test building a Hits of its own (help.py testing itself) never redirects the recorder's hooks,
# and instrumented Hits code never calls itself.
HIT = "__help_hit_{}__"
SEEN = "__help_seen_{}__"  # ids of the receiver types already recorded in this test (a type may be unhashable)
RECEIVER = "__help_receiver_{}__"
RETURNED = "__help_returned_{}__"
TYPE = "__help_type__"  # `type` itself: a method's parameter named "type" must not shadow it
ID = "__help_id__"
MODULE = "<module>"
VERSION = 6
PRUNE_AFTER = 14 * 86400  # cached code unused this long is removed


def key_of(path: str) -> str:
    """A short, stable name part for a source file's counters."""
    import hashlib

    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class _Instrumenter(ast.NodeTransformer):
    """Inserts the hit guard into every function, lambda and the module body."""

    def __init__(self, loaders: set[str], lambdas: list[int] | None, key: str) -> None:
        self.key = key
        self.units: list[str] = []
        self.loaders = loaders
        # The lines holding "lambda" (None: unknown, any may): an expression spanning none of them
        # holds no lambda, so only its statements need a visit (a lexer's token tables are skipped).
        self.lambdas = lambdas
        self._slots: dict[str, int] = {}
        self._classes: list[str] = []
        self._unit: str | None = None  # the enclosing function's unit, None at class or module level

    def slot(self, unit: str) -> int:
        found = self._slots.get(unit)
        if found is None:
            found = self._slots[unit] = len(self.units)
            self.units.append(unit)
        return found

    def module(self, tree: ast.Module) -> ast.Module:
        self.generic_visit(tree)
        body = tree.body
        at = _after_preamble(body, module=True)
        body.insert(at, _placed(ast.Expr(_call(self.key, self.slot(MODULE))), body[at] if at < len(body) else None))
        return tree

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if self._unit in self.loaders or self._may_hold_lambda(node):
            return super().generic_visit(node)
        # Only statements can hold functions here: skip expressions (large literal tables).
        for _field, old in ast.iter_fields(node):
            if isinstance(old, list) and old and isinstance(old[0], (ast.stmt, ast.excepthandler, ast.match_case)):
                new: list[Any] = []
                for item in old:
                    result = self.visit(item)
                    if isinstance(result, list):
                        new.extend(result)
                    elif result is not None:
                        new.append(result)
                old[:] = new
        return node

    def _may_hold_lambda(self, node: ast.AST) -> bool:
        lines = self.lambdas
        if lines is None:
            return True
        if not lines:
            return False
        first = getattr(node, "lineno", None)
        if first is None:  # no position (the module, a comprehension): look inside
            return True
        for decorator in getattr(node, "decorator_list", ()):  # above the `class` or `def` line
            first = min(first, decorator.lineno)
        at = bisect.bisect_left(lines, first)
        return at < len(lines) and lines[at] <= (getattr(node, "end_lineno", None) or first)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        if self._unit is not None:
            self.generic_visit(node)
            return node
        self._classes.append(node.name)
        self.generic_visit(node)
        self._classes.pop()
        return node

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        # Decorators, defaults and annotations run in the enclosing scope.
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.args = self.visit(node.args)
        if node.returns is not None:
            node.returns = self.visit(node.returns)
        outer = self._unit
        receiver = None
        if outer is None:
            self._unit = ".".join([*self._classes, node.name])
            if self._classes:
                receiver = _receiver(node)
        slot = self.slot(self._unit)  # type: ignore[arg-type]
        body: list[ast.stmt] = []
        for stmt in node.body:
            result = self.visit(stmt)
            if isinstance(result, list):
                body.extend(result)
            elif result is not None:
                body.append(result)
        self._unit = outer
        at = _after_preamble(body, module=False)
        guard = ast.If(
            test=ast.UnaryOp(op=ast.Not(), operand=_flag(self.key, slot)),
            body=[ast.Expr(_call(self.key, slot))],
            orelse=[],
        )
        guards: list[ast.stmt] = [guard]
        if receiver is not None:
            # An instance stops at its type's id; a class (cls, or a metaclass method's
            # receiver) goes on to its own id, as its metaclass is shared by many classes.
            kind = ast.Call(func=_load(TYPE), args=[_load(receiver)], keywords=[])
            seen_kind = ast.Call(func=_load(ID), args=[kind], keywords=[])
            seen_self = ast.Call(func=_load(ID), args=[_load(receiver)], keywords=[])
            test = ast.BoolOp(
                op=ast.And(),
                values=[
                    ast.Compare(left=seen_kind, ops=[ast.NotIn()], comparators=[_load(SEEN.format(self.key))]),
                    ast.Compare(left=seen_self, ops=[ast.NotIn()], comparators=[_load(SEEN.format(self.key))]),
                ],
            )
            record = ast.Call(func=_load(RECEIVER.format(self.key)), args=[_load(receiver)], keywords=[])
            guards.append(ast.If(test=test, body=[ast.Expr(record)], orelse=[]))
        location = body[at] if at < len(body) else node
        body[at:at] = [_placed(g, location) for g in guards]
        node.body = body
        return node

    def _returned(self, node: ast.Return | ast.Yield) -> ast.AST:
        self.generic_visit(node)
        if node.value is not None and self._unit in self.loaders:
            value = node.value
            call = _placed(ast.Call(func=_load(RETURNED.format(self.key)), args=[], keywords=[]), value)
            call.args.append(value)  # after placing: the value keeps its own positions
            node.value = call
        return node

    visit_Return = _returned
    visit_Yield = _returned

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node.args = self.visit(node.args)
        node.body = self.visit(node.body)
        slot = self.slot(self._unit or MODULE)
        # (seen or hit()) and body: both sides of `or` are true, so the value is the body's.
        body = node.body
        check = _placed(ast.BoolOp(op=ast.Or(), values=[_flag(self.key, slot), _call(self.key, slot)]), body)
        both = _placed(ast.BoolOp(op=ast.And(), values=[]), body)
        both.values += [check, body]  # after placing: the body keeps its own positions
        node.body = both
        return node


def _receiver(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The parameter holding a method's receiver (self or cls); None for a static method."""
    for decorator in node.decorator_list:
        name = getattr(decorator, "id", None) or getattr(decorator, "attr", None)
        if name == "staticmethod":
            return None
    positional = [*node.args.posonlyargs, *node.args.args]
    return positional[0].arg if positional else None


def _placed(new: Any, at: ast.AST | None) -> Any:
    """`new` and everything in it given `at`'s position (line 1 without one): inserted code is one line."""
    lineno = getattr(at, "lineno", 1)
    col = getattr(at, "col_offset", 0)
    for node in ast.walk(new):
        if "lineno" in node._attributes:
            for name, value in (("lineno", lineno), ("col_offset", col), ("end_lineno", lineno)):
                setattr(node, name, value)
            node.end_col_offset = col  # type: ignore[attr-defined]
    return new


def _load(name: str) -> ast.expr:
    return ast.Name(id=name, ctx=ast.Load())


def _flag(key: str, slot: int) -> ast.expr:
    name = ast.Name(id=HITS.format(key), ctx=ast.Load())
    return ast.Subscript(value=name, slice=ast.Constant(slot), ctx=ast.Load())


def _call(key: str, slot: int) -> ast.expr:
    return ast.Call(
        func=ast.Name(id=HIT.format(key), ctx=ast.Load()), args=[ast.Constant(key), ast.Constant(slot)], keywords=[]
    )


def _after_preamble(body: list[ast.stmt], *, module: bool) -> int:
    """Index after the docstring (and, in a module, `from __future__` imports)."""
    at = 0
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        at = 1
    while module and at < len(body):
        stmt = body[at]
        if not isinstance(stmt, ast.ImportFrom) or stmt.module != "__future__":
            break
        at += 1
    return at


def instrument(tree: ast.Module, source: bytes | None = None, path: str = "") -> list[str]:
    """Instrument `tree` (of file `path`) in place; returns the unit name of each slot.

    With the `source` it was parsed from, parts that cannot matter are skipped:
    loaders when nothing imports by name, expressions spanning no line with a lambda.
    """
    importing = source is None or b"__import__" in source or b"import_module" in source
    lambdas = None if source is None else [n for n, line in enumerate(source.splitlines(), 1) if b"lambda" in line]
    instrumenter = _Instrumenter(loaders(tree) if importing else set(), lambdas, key_of(path))
    instrumenter.module(tree)
    return instrumenter.units


class Hits:
    """Which units ran, and which classes and modules were used, since the last `take`."""

    def __init__(self) -> None:
        self.modules: list[tuple[str, list[str], list[bool]]] = []
        self.touched: list[tuple[int, int]] = []
        self.seen: set[int] = set()
        self.used: dict[int, Any] = {}  # classes and modules, by id
        self.registered: dict[str, int] = {}  # filename -> index in `modules`
        self._keys: dict[str, int] = {}  # key_of(filename) -> index in `modules`
        self._lock = threading.Lock()

    def register(self, filename: str, units: list[str]) -> dict[str, Any]:
        """Make the names an instrumented file's code needs visible to it, as builtins.

        Returns the names a module's namespace needs (none): kept for callers
        that update a namespace with it.
        """
        import builtins

        key = key_of(filename)
        with self._lock:
            index = self.registered.get(filename)
            if index is None or len(self.modules[index][1]) != len(units) or self.modules[index][1] != units:
                index = len(self.modules)
                self.modules.append((filename, units, [False] * len(units)))
                self.registered[filename] = self._keys[key] = index
            flags = self.modules[index][2]
        names = {HITS.format(key): flags, HIT.format(key): self._hit, SEEN.format(key): self.seen}
        names.update({RECEIVER.format(key): self._receiver, RETURNED.format(key): self._returned, TYPE: type, ID: id})
        for name, value in names.items():
            setattr(builtins, name, value)
        return {}

    def _hit(self, key: str, slot: int) -> bool:
        try:  # never raises into the code under test
            index = self._keys[key]
            self.modules[index][2][slot] = True
            self.touched.append((index, slot))
        except Exception:
            pass
        return True

    def _receiver(self, receiver: Any) -> None:
        if isinstance(receiver, type):  # cls: its metaclass says nothing, the class itself does
            self.seen.add(id(receiver))  # `used` keeps it alive, so no instance can share its id
            self.used[id(receiver)] = receiver
        else:
            kind = type(receiver)
            self.seen.add(id(kind))
            self.used[id(kind)] = kind

    def _returned(self, value: Any) -> Any:
        pending = [value]
        for item in pending:
            if isinstance(item, (list, tuple, set, frozenset)) and len(pending) < 1000:
                pending.extend(item)
            elif isinstance(item, dict) and len(pending) < 1000:
                pending.extend(item.values())
            elif isinstance(item, (type, types.ModuleType)):
                self.used[id(item)] = item
            else:
                self.used[id(type(item))] = type(item)
        return value

    def take(self) -> set[tuple[str, str]]:
        """(filename, unit) of everything hit since the last call; the next hit of each counts again.

        A class or module used counts as (its file, "<module>"), and so does
        every class in a used class's MRO.
        """
        touched, self.touched = self.touched, []
        used, self.used = self.used, {}
        self.seen.clear()
        found = set()
        modules = self.modules
        for index, slot in touched:
            filename, units, flags = modules[index]
            flags[slot] = False
            found.add((filename, units[slot]))
        for item in used.values():
            for kind in getattr(item, "__mro__", None) or (item,):
                source = _file_of(kind)
                if source:
                    found.add((source, MODULE))
        return found


def _file_of(item: Any) -> str | None:
    """The source file a module, or the module of a class, was loaded from."""
    if not isinstance(item, types.ModuleType):
        name = getattr(item, "__module__", None)
        item = sys.modules.get(name) if isinstance(name, str) else None
    filename = getattr(item, "__file__", None)
    return filename if isinstance(filename, str) and filename.endswith(".py") else None


class _Loader(importlib.machinery.SourceFileLoader):
    """Executes a project module from instrumented code (assertions rewritten first for test modules)."""

    def __init__(self, fullname: str, path: str, owner: Instrumentation, rewriter: Any) -> None:
        super().__init__(fullname, path)
        self.owner = owner
        self.rewriter = rewriter

    def exec_module(self, module: Any) -> None:
        units, code = self.owner.compiled(self.path, self.rewriter)
        if self.rewriter is not None:
            names = getattr(self.rewriter, "_rewritten_names", None)
            if isinstance(names, dict):
                from pathlib import Path

                names[module.__name__] = Path(self.path)
        self.owner.hits.register(self.path, units)
        exec(code, module.__dict__)


class Instrumentation(importlib.abc.MetaPathFinder):
    """The meta path finder that hands project source files to `_Loader`."""

    def __init__(self, root: str, excluded: list[str], cache_dir: str | None) -> None:
        roots = {root.rstrip(os.sep) + os.sep, os.path.realpath(root).rstrip(os.sep) + os.sep}
        self.roots = tuple(roots)
        self.excluded = tuple(p.rstrip(os.sep) + os.sep for p in excluded)
        self.cache_dir = cache_dir
        self.hits = Hits()
        self.loaded: set[str] = set()
        self._tag = f"{VERSION}:{importlib.util.MAGIC_NUMBER.hex()}"

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        # Ask the finders after this one, as the import system would, then take project files over.
        finders = sys.meta_path
        try:
            start = finders.index(self) + 1
        except ValueError:
            return None
        for finder in finders[start:]:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        origin = spec.origin
        if not isinstance(origin, str) or not origin.endswith(".py") or not self.is_project(origin):
            return spec
        loader = spec.loader
        rewriter = None
        if type(loader).__name__ == "AssertionRewritingHook":
            rewriter = loader
        elif not isinstance(loader, importlib.machinery.SourceFileLoader):
            return spec  # someone else's loader: leave its module alone
        spec.loader = _Loader(name, origin, self, rewriter)
        self.loaded.add(origin)
        return spec

    def is_project(self, filename: str) -> bool:
        return filename.startswith(self.roots) and not filename.startswith(self.excluded)

    def compiled(self, path: str, rewriter: Any) -> tuple[list[str], Any]:
        with open(path, "rb") as handle:
            source = handle.read()
        tag = self._tag
        if rewriter is not None:
            tag += ":pytest-" + _pytest_version()
        key = importlib.util.source_hash(f"{tag}\0{path}\0".encode("utf-8", "surrogateescape") + source).hex()
        cached = self._read(key)
        if cached is not None:
            return cached
        tree = ast.parse(source, filename=path)
        units = instrument(tree, source, path)  # first: pytest leaves end positions of its own nodes unset
        if rewriter is not None:
            from _pytest.assertion.rewrite import rewrite_asserts

            rewrite_asserts(tree, source, path, rewriter.config)
        code = compile(tree, path, "exec", dont_inherit=True)
        self._write(key, (units, code))
        return units, code

    def _read(self, key: str) -> tuple[list[str], Any] | None:
        if not self.cache_dir:
            return None
        target = os.path.join(self.cache_dir, key)
        try:
            with open(target, "rb") as handle:
                units, code = marshal.loads(handle.read())
            os.utime(target)  # kept by `prune` while in use
        except (OSError, ValueError, EOFError, TypeError):
            return None
        return units, code

    def _write(self, key: str, value: tuple[list[str], Any]) -> None:
        if not self.cache_dir:
            return
        target = os.path.join(self.cache_dir, key)
        temp = f"{target}.{os.getpid()}.tmp"
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            with open(temp, "wb") as handle:
                handle.write(marshal.dumps(value))
            os.replace(temp, target)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)

    def prune(self) -> None:
        """Remove cached code nobody loaded for PRUNE_AFTER seconds."""
        if not self.cache_dir:
            return
        limit = time.time() - PRUNE_AFTER
        try:
            entries = list(os.scandir(self.cache_dir))
        except OSError:
            return
        for entry in entries:
            try:
                if entry.stat().st_mtime < limit:
                    os.unlink(entry.path)
            except OSError:
                continue


def _pytest_version() -> str:
    module = sys.modules.get("pytest")
    return str(getattr(module, "__version__", "?"))


def install(root: str, excluded: list[str], cache_dir: str | None) -> Instrumentation:
    """Put the finder first on sys.meta_path (before pytest's assertion rewriter)."""
    finder = Instrumentation(root, excluded, cache_dir)
    sys.meta_path.insert(0, finder)
    return finder


def preloaded(finder: Instrumentation) -> list[Any]:
    """Project modules imported before the finder was installed (so not instrumented)."""
    found = []
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or not filename.endswith(".py") or not finder.is_project(filename):
            continue
        if filename not in finder.hits.registered:
            found.append(module)
    return found


def adopt(finder: Instrumentation, modules: list[Any]) -> int:
    """Instrument modules already imported: every live function of theirs gets the instrumented code.

    pytest itself imports some projects (Pygments) before any plugin, and a
    sitecustomize or an earlier plugin may import the project under test. Their
    module bodies have run, so only functions matter; each live function object
    (closures and lambdas included, found through the garbage collector) whose
    code matches one of the instrumented module's by qualified name and first
    line gets the instrumented code. Returns how many functions were switched.
    """
    import gc

    wanted: dict[tuple[str, str, int], Any] = {}
    for module in modules:
        path = module.__file__
        try:
            units, code = finder.compiled(path, None)
        except (OSError, SyntaxError, ValueError):
            continue
        finder.hits.register(path, units)
        pending = [code]
        while pending:
            current = pending.pop()
            for const in current.co_consts:
                if isinstance(const, types.CodeType):
                    wanted[(const.co_filename, const.co_qualname, const.co_firstlineno)] = const
                    pending.append(const)
    if not wanted:
        return 0
    filenames = {key[0] for key in wanted}
    switched = 0
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType:
            old = obj.__code__
            if old.co_filename not in filenames:
                continue
            found = wanted.get((old.co_filename, old.co_qualname, old.co_firstlineno))
            if found is None or len(found.co_freevars) != len(old.co_freevars):
                continue
            obj.__code__ = found
            switched += 1
    return switched
