"""What a checksum unit is named and which units load modules by computed name.

Shared by checksums.py (in help.py, to hash units and list loaders) and
instrument.py (inside pytest, copied as helpy_units.py, to instrument them),
so both sides agree on every name. Stdlib only.

A unit is a function or method outside any other function, named by its
qualified name without "<locals>" ("Parser.feed"); nested functions, lambdas
and comprehensions belong to their enclosing unit.
"""

from __future__ import annotations

import ast

AST, Name, Attribute, Constant = ast.AST, ast.Name, ast.Attribute, ast.Constant


def names(node: ast.AST, *, strings: bool = False) -> set[str]:
    """Identifiers `node` mentions (names, attributes; with `strings`, identifier-like strings for getattr)."""
    found: set[str] = set()
    stack = [node]
    pop, push = stack.pop, stack.append
    # ast.walk's work without its generators (a lexer's token tables have 100,000 nodes); children()
    # is inlined below because a call per node costs this loop 45% more.
    while stack:
        child = pop()
        kind = type(child)
        if kind is Name:
            found.add(child.id)  # type: ignore[attr-defined]
            continue  # its only child is the context
        if kind is Attribute:
            found.add(child.attr)  # type: ignore[attr-defined]
        elif kind is Constant:
            value = child.value  # type: ignore[attr-defined]
            if strings and type(value) is str and value.isidentifier():
                found.add(value)
            continue
        for field in child._fields:
            value = getattr(child, field, None)
            if isinstance(value, AST):
                push(value)
            elif type(value) is list:
                for item in value:
                    if isinstance(item, AST):
                        push(item)
    return found


def children(node: ast.AST) -> list[ast.AST]:
    """The nodes directly inside `node`, in ast.iter_child_nodes's order, at a third of its cost."""
    found: list[ast.AST] = []
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, AST):
            found.append(value)
        elif type(value) is list:
            found.extend(item for item in value if isinstance(item, AST))
    return found


STATEMENT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")  # where statements can be


def statements(node: ast.AST) -> list[ast.AST]:
    """The statements (and except handlers, match cases) directly inside `node`, in field order.

    Functions, classes and imports are statements, never parts of an expression:
    looking for them needs no visit of the expressions (a lexer's token tables).
    """
    found: list[ast.AST] = []
    for field in node._fields:
        if field in STATEMENT_LISTS:
            value = getattr(node, field, None)
            if isinstance(value, list):
                found.extend(value)
    return found


def unit_uses(tree: ast.AST) -> dict[str, set[str]]:
    """The names each unit mentions (its decorators and signature included), by unit name."""
    found: dict[str, set[str]] = {}

    def visit(node: ast.AST, prefix: list[str]) -> None:
        for child in statements(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.setdefault(".".join([*prefix, child.name]), set()).update(names(child, strings=True))
            elif isinstance(child, ast.ClassDef):
                visit(child, [*prefix, child.name])
            else:
                visit(child, prefix)

    visit(tree, [])
    return found


def loaders(tree: ast.AST) -> set[str]:
    """Units that import a module by computed name, and the units of the module that call them."""
    return callers_of(dynamic_importers(tree), unit_uses(tree))


def dynamic_importers(tree: ast.AST) -> set[str]:
    """Qualified names of functions that import a module by a computed name."""
    found: set[str] = set()

    def visit(node: ast.AST, prefix: list[str], current: str | None) -> None:
        # Outside functions only statements can hold one; inside, any call may be the import.
        for child in children(node) if current else statements(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = ".".join([*prefix, child.name])
                visit(child, [*prefix, child.name], current or qualname)
            elif isinstance(child, ast.ClassDef):
                visit(child, [*prefix, child.name], current)
            else:
                if current and isinstance(child, ast.Call) and child.args:
                    func = child.func
                    name = (
                        func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                    )
                    if name in ("__import__", "import_module") and not isinstance(child.args[0], ast.Constant):
                        found.add(current)
                visit(child, prefix, current)

    visit(tree, [], None)
    return found


def callers_of(targets: set[str], uses: dict[str, set[str]]) -> set[str]:
    """`targets` and every function of this module that names one of them, directly or not."""
    found = set(targets)
    grew = True
    while grew:
        grew = False
        lasts = {q.rsplit(".", 1)[-1] for q in found}
        for qualname, mentioned in uses.items():
            if qualname not in found and mentioned & lasts:
                found.add(qualname)
                grew = True
    return found
