"""A default value or a decorator's argument belongs to its function or class, not to the whole module."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from helper.testing import checksums
from tests.testing.conftest import Sample, cached, failing, ran

CALC = """
from dataclasses import dataclass


def scale(x, n=2):
    return x * n


def other(x, *, k=1):
    return x + k


@dataclass(frozen=True)
class Point:
    x: int


class Plain:
    pass
"""

FILES = {
    "shop/__init__.py": "",
    "shop/calc.py": CALC,
    "tests/test_calc.py": "from shop.calc import other, scale\n\n\n"
    "def test_scale():\n    assert scale(3) == 6\n\n\n"
    "def test_other():\n    assert other(1) == 2\n",
    "tests/test_point.py": "import dataclasses\n\nimport pytest\n\nfrom shop.calc import Plain, Point\n\n\n"
    "def test_point():\n    p = Point(1)\n    with pytest.raises(dataclasses.FrozenInstanceError):\n"
    "        p.x = 2\n\n\n"
    "def test_plain():\n    assert Plain()\n",
}


def sums(source: str) -> dict[str, str]:
    return checksums.analyse(textwrap.dedent(source).encode())["sums"]


def test_literal_defaults_and_decorator_arguments_leave_the_module_checksum() -> None:
    before = sums(CALC)
    for old, new, unit in (
        ("n=2", "n=3", "scale"),
        ("k=1", "k=5", "other"),
        ("frozen=True", "frozen=False", "<class>:Point"),
    ):
        after = sums(CALC.replace(old, new))
        assert after[checksums.MODULE] == before[checksums.MODULE], old
        assert {k for k in before if before[k] != after.get(k)} - {checksums.OUTLINE} == {unit}, old


def test_import_time_use_still_counts_for_the_module() -> None:
    at_import = CALC + "\nDOUBLE = scale(5)\n\n\nclass Uses:\n    value = scale(1)\n"
    changed = sums(at_import.replace("n=2", "n=3"))
    assert changed[checksums.MODULE] != sums(at_import)[checksums.MODULE]
    computed = CALC.replace("n=2", "n=len('ab')")  # not a literal: stays where it runs, at import
    assert sums(computed.replace("'ab'", "'abc'"))[checksums.MODULE] != sums(computed)[checksums.MODULE]


def test_only_the_tests_that_ran_the_unit_rerun(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    first = project.test()
    assert first["returncode"] == 0 and len(ran(first)) == 4, first["stderr"]
    project.replace("shop/calc.py", "n=2", "n=3")
    report = project.test()
    assert ran(report) == {"tests/test_calc.py::test_scale"} == failing(report), report["stderr"]
    project.replace("shop/calc.py", "n=3", "n=2")
    report = project.test()
    assert failing(report) == set() and ran(report) <= {"tests/test_calc.py::test_scale"}, report["stderr"]
    project.replace("shop/calc.py", "frozen=True", "frozen=False")
    report = project.test("--explain")
    assert ran(report) == {"tests/test_point.py::test_point"} == failing(report), report["stderr"]


def changed(before: str, after: str) -> set[str]:
    """The checksum entries that differ between two versions of a module, its outline aside."""
    old, new = sums(before), sums(after)
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)} - {checksums.OUTLINE}


def test_decorator_arguments_join_their_class_or_function() -> None:
    method = (
        "import functools\n\n\nclass C:\n    @functools.lru_cache(maxsize=100)\n    def f(self):\n        return 1\n"
    )
    assert changed(method, method.replace("100", "101")) == {"C.f", "<class>:C"}
    function = "import functools\n\n\n@functools.lru_cache(100)\ndef f(x):\n    return x\n"
    assert changed(function, function.replace("100", "101")) == {"f", "<class>:f"}
    # A name the class body has (its docstring) cannot fail to evaluate: it moves like a literal.
    # As toolz's Compose: a property whose class-level value is the class's docstring.
    named = 'class C:\n    """Doc."""\n\n    @prop(classval=__doc__)\n    def __doc__(self):\n        return 1\n'
    assert changed(named, named.replace("classval=__doc__", "classval=None")) == {"C.__doc__", "<class>:C"}
    # A name nothing binds would fail at import: it stays in the module.
    assert checksums.MODULE in changed(named, named.replace("classval=__doc__", "classval=undefined_name"))


def test_code_run_at_import_keeps_what_it_uses_in_the_module() -> None:
    constant = CALC + "\nDOUBLE = scale(5)\n"  # scale runs at import: its default makes DOUBLE
    assert checksums.MODULE in changed(constant, constant.replace("n=2", "n=3"))
    subclass = (
        CALC + "\n@dataclass(frozen=True)\nclass Point3(Point):\n    z: int = 0\n"
    )  # fails to import if not frozen
    assert changed(subclass, subclass.replace("frozen=True", "frozen=False", 1)) == {"<class>:Point", checksums.MODULE}
    instance = CALC + "\nORIGIN = Point(0)\n"
    assert checksums.MODULE in changed(instance, instance.replace("frozen=True", "frozen=False"))
    # Named only in an annotation or as an attribute's target: not used at import.
    annotated = CALC + "\n\ndef move(p: Point) -> Point:\n    return p\n\n\nmove.__doc__ = 'x'\n"
    assert changed(annotated, annotated.replace("frozen=True", "frozen=False")) == {"<class>:Point"}


GEO = """
import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    x: int

    def moved(self, d=1):
        return Point(self.x + d)


class Cache:
    @functools.lru_cache(maxsize=2)
    def get(self, key):
        return key * 2


def area(w, h=1):
    return w * h
"""

FROZEN = """
from dataclasses import dataclass


@dataclass(frozen=True)
class Base:
    x: int


@dataclass(frozen=True)
class Child(Base):
    y: int = 0


def label(v):
    return f"v{v}"
"""

SHAPES = {
    "shapes/__init__.py": "",
    "shapes/geo.py": GEO,
    "shapes/frozen.py": FROZEN,
    "tests/test_geo.py": """
import dataclasses

import pytest

from shapes.geo import Cache, Point, area


def test_point_frozen():
    p = Point(area(1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2


def test_cache_size():
    assert Cache.get.cache_info().maxsize == 2


def test_area():
    assert area(2) == 2


def test_moved():
    assert Point(1).moved().x == 2
""",
    "tests/test_frozen.py": """
from shapes.frozen import Child, label


def test_label():
    assert label(1) == "v1"


def test_child():
    assert Child(1, 2).y == 2
""",
    "shapes/consts.py": "def scale(x, n=2):\n    return x * n\n\n\nDOUBLE = scale(5)\n",
    "tests/test_consts.py": "from shapes.consts import DOUBLE\n\n\ndef test_double():\n    assert DOUBLE == 10\n",
    "tests/test_plain.py": "def test_plain():\n    assert True\n",
}


def test_each_mutation_reruns_the_tests_that_use_it_and_misses_no_failure(
    sample: Callable[[dict[str, str]], Sample],
) -> None:
    project = sample(SHAPES)
    first = project.test()
    assert first["returncode"] == 0 and len(ran(first)) == 8, first["stderr"]
    geo, frozen = "tests/test_geo.py::", "tests/test_frozen.py::"
    cases = [
        # (file, old, new, the tests that rerun, those of them that fail)
        ("shapes/geo.py", "h=1", "h=2", {geo + "test_area", geo + "test_point_frozen"}, {geo + "test_area"}),
        # lru_cache's argument: a test reading the cache of a method it never ran, through the class's name
        ("shapes/geo.py", "maxsize=2", "maxsize=3", {geo + "test_cache_size"}, {geo + "test_cache_size"}),
        ("shapes/geo.py", "d=1", "d=2", {geo + "test_moved"}, {geo + "test_moved"}),
        # a default of a function a constant's value is computed with, at import: the test of the constant
        (
            "shapes/consts.py",
            "n=2",
            "n=3",
            {"tests/test_consts.py::test_double"},
            {"tests/test_consts.py::test_double"},
        ),
        # the class's decorator: the test that names the class though it ran no method of it (but ran
        # code in its module), and the one that ran a method; not those using other classes
        (
            "shapes/geo.py",
            "frozen=True",
            "frozen=False",
            {geo + "test_point_frozen", geo + "test_moved"},
            {geo + "test_point_frozen"},
        ),
    ]
    for rel, old, new, rerun, fail in cases:
        project.replace(rel, old, new)
        report = project.test()
        assert ran(report) == rerun and failing(report) == fail, (old, ran(report), failing(report), report["stderr"])
        project.replace(rel, new, old)
        report = project.test()
        assert failing(report) == set() and ran(report) <= rerun, (old, ran(report), report["stderr"])
    # Used at import (a frozen subclass of a class no longer frozen): the module fails to import, so the
    # file of the tests importing it is collected again and fails, also for the test that never named the class.
    project.replace("shapes/frozen.py", "@dataclass(frozen=True)\nclass Base", "@dataclass(frozen=False)\nclass Base")
    report = project.test()
    assert report["returncode"] != 0 and "ERROR collecting tests/test_frozen.py" in report["stderr"], report["stderr"]
    assert "TypeError: cannot inherit frozen dataclass from a non-frozen one" in report["stderr"]
    assert ran(report) == set() and cached(report) >= {geo + "test_area", "tests/test_plain.py::test_plain"}
    assert not cached(report) & {frozen + "test_label", frozen + "test_child"}  # no stale pass shown for them
