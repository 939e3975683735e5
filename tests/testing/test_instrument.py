"""The 3.11 recorder that instruments project modules on import (helper/testing/inpytest/instrument.py).

Checked on real sample projects through `help.py test`: it records what the
profiler hook would, even for modules imported before pytest loads the
plugin; assertion rewriting still works; instrumented code never reaches
__pycache__, so the project runs normally outside `help.py test`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.testing.conftest import Sample, failing, ran

FILES = {
    "shop/__init__.py": "",
    "shop/prices.py": '''
        """Prices."""
        from __future__ import annotations

        TAX = 20


        def make_rounder(step):
            def rounder(amount):
                return amount // step * step
            return rounder


        ROUND = make_rounder(5)  # a closure made at import
        HALF = lambda amount: amount // 2  # noqa: E731


        class Price:
            """A price."""

            def __init__(self, amount):
                self.amount = amount

            def gross(self):
                return self.amount + self.amount * TAX // 100

            @property
            def half(self):
                return HALF(self.amount)
    ''',
    "tests/test_prices.py": """
        from shop.prices import ROUND, Price

        def test_gross():
            assert Price(100).gross() == 120

        def test_round():
            assert ROUND(12) == 10

        def test_half():
            assert Price(10).half == 5

        def helper(value):
            return value * 2

        def test_helper():
            assert helper(2) == 4
    """,
}
ALL = {f"tests/test_prices.py::test_{name}" for name in ("gross", "round", "half", "helper")}


def _edits(project: Sample, env: dict[str, str] | None = None) -> None:
    """Each edit reselects exactly the tests that ran the edited code, and those fail."""
    first = project.test(env=env)
    assert first["returncode"] == 0 and ran(first) == ALL, first["stderr"]
    edits = [
        ("shop/prices.py", "return amount // step * step", "return amount", "round"),  # closure made at import
        ("shop/prices.py", "lambda amount: amount // 2", "lambda amount: amount // 3", "half"),  # module-level lambda
        ("shop/prices.py", "self.amount * TAX // 100", "self.amount * TAX // 10", "gross"),  # method
        ("tests/test_prices.py", "return value * 2", "return value * 3", "helper"),  # helper in a test module
    ]
    for rel, old, new, name in edits:
        project.replace(rel, old, new)
        report = project.test(env=env)
        test = f"tests/test_prices.py::test_{name}"
        if name == "half":  # module-level code: every test that ran code of that module
            assert test in ran(report) and ran(report) <= ALL - {"tests/test_prices.py::test_helper"}
        else:
            assert ran(report) == {test}, (name, ran(report), report["stderr"])
        assert failing(report) == {test}
        project.replace(rel, new, old)
        back = project.test(env=env)  # the earlier result for this content is reused
        assert back["returncode"] == 0 and test not in failing(back), back["stderr"]


@pytest.mark.parametrize("tracer", ["instrument", "cprofile"])
def test_recorders_select_the_same_tests(sample: Callable[[dict[str, str]], Sample], tracer: str) -> None:
    if tracer == "instrument" and hasattr(sys, "monitoring"):
        pytest.skip("Python 3.12+ records with sys.monitoring, never by instrumenting")
    _edits(sample(FILES), env={"HELPY_TEST_TRACER": tracer})


def test_module_imported_before_pytest_loads_the_plugin(
    sample: Callable[[dict[str, str]], Sample], shared_venv: Path, tmp_path: Path
) -> None:
    """As pytest itself imports Pygments: functions already live are switched to instrumented code."""
    project = sample(FILES)
    venv = tmp_path / "preloading-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3.*/site-packages"))
    shared_site = next((shared_venv / "lib").glob("python3.*/site-packages"))
    (site / "shared.pth").write_text(f"{shared_site}\n")
    for dist in shared_site.glob("pytest-*.dist-info"):  # pytest counts as installed in this venv
        (site / dist.name).symlink_to(dist)
    (site / "preload.pth").write_text(f"import sys; sys.path.insert(0, {str(project.root)!r}); import shop.prices\n")
    # help.py looks for pytest's dist-info in the venv itself: install it there (its dependencies come
    # through shared.pth), with uv or with the shared venv's pip, whichever made the shared venv.
    python = str(venv / "bin" / "python")
    uv = shutil.which("uv")
    if uv:
        install = [uv, "pip", "install", "-q", "--python", python, "--no-deps", "pytest"]
    else:
        install = [str(shared_venv / "bin" / "python"), "-m", "pip", "--python", python, "install", "-q"]
        install += ["--no-deps", "--ignore-installed", "pytest"]
    subprocess.run(install, check=True, timeout=300)
    project.venv = venv
    _edits(project)


def test_assertions_rewritten_and_nothing_instrumented_left_in_pycache(
    sample: Callable[[dict[str, str]], Sample], shared_venv: Path
) -> None:
    project = sample(FILES)
    env = {"PYTHONDONTWRITEBYTECODE": ""}
    project.replace("tests/test_prices.py", "assert helper(2) == 4", "assert helper(2) == 5")
    report = project.test(env=env)
    failed = next(t for t in report["tests"] if t["id"] == "tests/test_prices.py::test_helper")
    assert failed["outcome"] == "failed"
    assert "where 4 = helper(2)" in report["stderr"]  # pytest's assertion rewriting is still applied
    if not hasattr(sys, "monitoring"):  # 3.12+ records with sys.monitoring: nothing is instrumented
        assert list((project.root / ".help" / "pytest" / "code").iterdir()), "instrumented code is cached in .help/"
    pycs = [p for p in project.root.rglob("__pycache__/*.pyc") if ".help" not in p.parts]
    assert not [p for p in pycs if b"__help_hit" in p.read_bytes()]
    plain = subprocess.run(
        [str(shared_venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert "1 failed, 3 passed" in plain.stdout, plain.stdout + plain.stderr


NAMESPACE_FILES = {
    "pkg/__init__.py": "",
    "pkg/small.py": """
        import pickle

        __all__ = ["f", "Point"]


        def f(x):
            return x


        class Point:
            def __init__(self, x):
                self.x = x
        """,
    # As toolz.curried.operator does: a module takes over another's namespace, dunders included,
    # after its own code was set up; its functions must still record (and never raise).
    "pkg/copied.py": """
        from pkg import small

        globals().update({k: v for k, v in vars(small).items() if k not in ("__name__", "__file__")})


        def g():
            return 1


        def h():
            return 2


        def k():
            return 3


        def m():
            return g() + h() + k() - 2
        """,
    "tests/test_ns.py": """
        import inspect
        import pickle

        import pkg.copied as copied
        import pkg.small as small


        def test_namespace():
            assert [n for n in dir(small) if "help" in n] == []
            assert [n for n in vars(small) if "help" in n] == []
            assert {n for n in dir(small) if not n.startswith("_")} == {"f", "Point", "pickle"}
            assert inspect.getmembers(small, inspect.isfunction) == [("f", small.f)]
            assert pickle.loads(pickle.dumps(small.Point(1))).x == 1


        def test_copied_namespace():
            assert copied.m() == 4
            assert [n for n in vars(copied) if "help" in n] == []
        """,
}


@pytest.mark.parametrize("tracer", ["instrument", None])
def test_instrumented_modules_look_unchanged(sample: Callable[[dict[str, str]], Sample], tracer: str | None) -> None:
    if tracer == "instrument" and hasattr(sys, "monitoring"):
        pytest.skip("Python 3.12+ records with sys.monitoring, never by instrumenting")
    import textwrap

    project = sample({rel: textwrap.dedent(text) for rel, text in NAMESPACE_FILES.items()})
    env = {"HELPY_TEST_TRACER": tracer} if tracer else None
    report = project.test(env=env)
    assert report["returncode"] == 0 and failing(report) == set(), report["stderr"]
    assert ran(report) == {"tests/test_ns.py::test_namespace", "tests/test_ns.py::test_copied_namespace"}
    project.replace("pkg/copied.py", "return 3", "return 30")  # recorded through the copied namespace too
    report = project.test(env=env)
    assert ran(report) == {"tests/test_ns.py::test_copied_namespace"}, report["stderr"]
    assert failing(report) == {"tests/test_ns.py::test_copied_namespace"}
