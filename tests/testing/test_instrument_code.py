"""The instrumenter on its own: instrumented code behaves as the original and reports what ran."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from types import ModuleType
from typing import Any

import pytest

SOURCE = textwrap.dedent(
    '''
    """Docstring stays first."""
    from __future__ import annotations

    import asyncio

    LIMIT = 3


    def plain(x, key=lambda v: -v):
        """Only a docstring and a return."""
        return sorted(x, key=key)


    def gen(n):
        yield from range(n)


    async def coro():
        return 7


    class Meta(type):
        def __eq__(cls, other):  # no __hash__: its classes are unhashable
            return cls is other

        def describe(cls):
            return cls.__name__


    class Base(metaclass=Meta):
        table = {"end": "!"}

        def __init__(self, type=None):  # a parameter named "type"
            self.kind = type

        def apply(self, text):
            return text + self.table["end"]

        @staticmethod
        def static(x):
            return x * 2

        @classmethod
        def make(cls):
            return cls()

        class Inner:
            def deep(self):
                return "deep"


    class Child(Base):
        table = {"end": "?"}

        def apply(self, text):
            return super().apply(text).upper()


    def load(name):
        import importlib
        return importlib.import_module(name)


    def every(names):
        for name in names:
            yield load(name)
    '''
)


@pytest.fixture
def instrument() -> Any:
    return importlib.import_module("helper.testing.inpytest.instrument")


def _load(instrument: Any, source: str) -> tuple[ModuleType, Any]:
    tree = ast.parse(source)
    found = instrument.instrument(tree, source.encode(), "/project/sample.py")
    code = compile(tree, "/project/sample.py", "exec", dont_inherit=True)
    hits = instrument.Hits()
    module = ModuleType("sample")
    module.__file__ = "/project/sample.py"
    sys.modules["sample"] = module
    module.__dict__.update(hits.register("/project/sample.py", found))
    exec(code, module.__dict__)
    return module, hits


def test_instrumented_code_behaves_as_before_and_reports_units(instrument: Any) -> None:
    module, hits = _load(instrument, SOURCE)
    try:
        assert module.__doc__ == "Docstring stays first."
        assert module.plain.__doc__ == "Only a docstring and a return."
        assert hits.take() == {("/project/sample.py", "<module>")}  # the import itself

        assert module.plain([1, 3, 2]) == [3, 2, 1]
        assert {u for _, u in hits.take()} == {"plain", "<module>"}  # the default's lambda is module-level code

        assert list(module.gen(3)) == [0, 1, 2]
        import asyncio

        assert asyncio.run(module.coro()) == 7
        assert {u for _, u in hits.take()} >= {"gen", "coro"}

        child = module.Child("t")
        assert child.kind == "t" and child.apply("a") == "A?" and module.Base.static(2) == 4
        assert module.Base.make().apply("b") == "b!" and module.Child.describe() == "Child"
        assert module.Base.Inner().deep() == "deep"
        taken = {u for _, u in hits.take()}
        assert {"Base.__init__", "Child.apply", "Base.apply", "Base.static", "Base.make", "Meta.describe"} <= taken
        assert "Base.Inner.deep" in taken

        module.Child().apply("x")
        again = {u for _, u in hits.take()}
        assert again == {"Base.__init__", "Child.apply", "Base.apply", "<module>"}, "counted again per take"
        assert hits.take() == set()
    finally:
        sys.modules.pop("sample", None)


def test_receivers_and_loader_results_count_their_modules(instrument: Any) -> None:
    module, hits = _load(instrument, SOURCE)
    try:
        hits.take()
        other = ModuleType("elsewhere")
        other.__file__ = "/project/elsewhere.py"
        exec("class Plugin:\n    pass\n", other.__dict__)
        other.Plugin.__module__ = "elsewhere"
        sys.modules["elsewhere"] = other
        assert list(module.every(["elsewhere"])) == [other]
        assert ("/project/elsewhere.py", "<module>") in hits.take()  # what a loader yielded

        class Local(module.Base):  # a subclass defined elsewhere: its module and every base's count
            pass

        Local().apply("a")
        found = hits.take()
        assert (__file__, "<module>") in found and ("/project/sample.py", "<module>") in found

        # Class methods: each class counts, though all share one metaclass, and is noted once per take.
        module.Base.make()
        Local.make()
        Local.make()
        assert {id(module.Base), id(Local)} <= hits.seen
        found = hits.take()
        assert (__file__, "<module>") in found and ("/project/sample.py", "<module>") in found
        assert hits.seen == set()
    finally:
        sys.modules.pop("sample", None)
        sys.modules.pop("elsewhere", None)


def test_units_match_the_checksums() -> None:
    """Both sides name units alike, so what the recorder reports has a checksum."""
    from helper.testing import checksums

    instrument = importlib.import_module("helper.testing.inpytest.instrument")
    reported = set(instrument.instrument(ast.parse(SOURCE), SOURCE.encode()))
    sums = checksums.analyse(SOURCE.encode())["sums"]
    assert reported - {"<module>"} == {k for k in sums if not k.startswith("<")}
    assert checksums.analyse(SOURCE.encode())["loaders"] == ["every", "load"]
