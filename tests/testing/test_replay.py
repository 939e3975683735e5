"""An all-from-cache `help.py test` is replayed, and never once a test's input, a new test or a setting changed."""

from __future__ import annotations

import json
from collections.abc import Callable

from helper import replay
from tests.conftest import age
from tests.testing.conftest import Sample, cached, ran

FILES = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "tests/test_calc.py": "from calc import add, sub\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
    "def test_sub():\n    assert sub(3, 2) == 1\n",
}


def _settled(sample: Callable[[dict[str, str]], Sample]) -> Sample:
    project = sample(FILES)
    assert project.test()["returncode"] == 0
    age(project.root)
    age(project.venv)  # made at the start of this session: too fresh to be trusted by stat
    return project


def test_cached_answer_is_replayed_byte_for_byte(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _settled(sample)
    full = project.help("test", "--json")
    assert full.returncode == 0 and not json.loads(full.stdout)["pytest_started"], full.stderr
    assert (project.root / ".help/replay" / replay.record_name(["test", "--json"])).is_file()
    again = project.help("test", "--json")
    assert (again.returncode, again.stdout, again.stderr) == (full.returncode, full.stdout, full.stderr)
    pending = list((project.root / ".help/journal.pending").glob("*.run"))
    assert len(pending) == 1  # the replayed run is journaled


def test_edits_new_tests_and_variables_are_never_missed(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _settled(sample)
    for _ in range(2):
        assert cached(project.test()) == {"tests/test_calc.py::test_add", "tests/test_calc.py::test_sub"}

    project.replace("calc.py", "return a - b", "return a - b - 0")  # same size as nothing: a real edit
    assert ran(project.test()) == {"tests/test_calc.py::test_sub"}
    age(project.root)
    for _ in range(2):
        assert not ran(project.test())

    project.write("tests/test_more.py", "def test_more():\n    assert True\n")  # a new test file
    assert ran(project.test()) == {"tests/test_more.py::test_more"}
    age(project.root)
    for _ in range(2):
        assert not ran(project.test())

    project.write("tests/deep/test_deeper.py", "def test_deeper():\n    assert True\n")  # in a new folder
    assert ran(project.test()) == {"tests/deep/test_deeper.py::test_deeper"}

    project.write("pyproject.toml", '[tool.help.test]\nenv_vars = ["MODE"]\n')
    age(project.root)
    age(project.venv)
    assert project.test(env={"MODE": "a"})["returncode"] == 0  # env changed: everything runs once
    assert not ran(project.test(env={"MODE": "a"}))
    assert not ran(project.test(env={"MODE": "a"}))  # replayed
    assert ran(project.test(env={"MODE": "b"}))  # a watched variable changed: never the old answer


def test_failures_and_reports_are_never_replayed(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _settled(sample)
    project.replace("calc.py", "return a + b", "return a + b + 1")
    age(project.root)
    for _ in range(2):
        report = project.test()
        assert report["returncode"] == 1 and ran(report) == {"tests/test_calc.py::test_add"}  # failed: run again
    project.replace("calc.py", "return a + b + 1", "return a + b")
    age(project.root)
    assert project.test()["returncode"] == 0
    for _ in range(2):
        xml = project.root / "report.xml"
        xml.unlink(missing_ok=True)
        assert project.help("test", "--junit", str(xml)).returncode == 0
        assert xml.is_file()  # written every time: such runs are not replayed
