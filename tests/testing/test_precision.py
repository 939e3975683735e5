"""A default value or a decorator's argument belongs to its function or class, not to the whole module."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from helper.testing import checksums
from tests.testing.conftest import Sample, failing, ran

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
