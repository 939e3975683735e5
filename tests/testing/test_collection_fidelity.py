"""help.py test collects exactly what `pytest --collect-only -q` collects, on the first run and the next."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helper.testing import collection, discovery
from tests.conftest import run_help
from tests.testing.conftest import Sample, ran

TEST = "def test_ok():\n    assert True\n"
INI = "[pytest]\npythonpath = .\n"


def pytest_ids(project: Sample) -> set[str]:
    """What pytest itself collects from the project root."""
    result = subprocess.run(
        [str(project.venv / "bin" / "python"), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=project.root,
        capture_output=True,
        text=True,
    )
    assert result.returncode in (0, 5), result.stdout + result.stderr
    return {line for line in result.stdout.splitlines() if "::" in line}


def same_twice(project: Sample, cwd: Path | None = None) -> set[str]:
    """help.py test --all, help.py test, help.py test --all: each reports exactly pytest's tests.

    The first and last run all of them, the one between runs none again.
    """
    expected = pytest_ids(project)
    assert expected
    for attempt, args in enumerate((["--all"], [], ["--all"]), 1):
        result = run_help("test", "--json", *args, cwd=cwd or project.root, env={"HELP_TEST__VENV": str(project.venv)})
        report = json.loads(result.stdout)
        assert "tests" in report, report
        assert {t["id"] for t in report["tests"]} == expected, f"run {attempt}"
        assert ran(report) == (expected if args else set()), f"run {attempt} ({' '.join(args) or 'selective'})"
    return expected


def test_tracked_virtualenvs_and_default_norecursedirs(sample: Callable[[dict[str, str]], Sample]) -> None:
    files = {
        "pytest.ini": INI,
        "tests/test_a.py": TEST,
        ".venv/pyvenv.cfg": "home = /usr/bin\n",
        ".venv/lib/python3.11/site-packages/pip/_vendor/colorama/tests/test_vendored.py": TEST,
        "env1/pyvenv.cfg": "home = /usr/bin\n",
        "env1/lib/site-packages/pkg/test_in_venv.py": TEST,
        "build/test_built.py": TEST,
        "node_modules/x/test_node.py": TEST,
        "pkg.egg/test_egg.py": TEST,
        "src/test_src.py": TEST,
    }
    project = sample(files)
    assert "env1/pyvenv.cfg" in project.git("ls-files")
    found = same_twice(project)
    assert found == {"tests/test_a.py::test_ok", "src/test_src.py::test_ok"}


def test_conftest_collect_ignore(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(
        {
            "tests/conftest.py": 'collect_ignore = ["fixtures/sample_project/test_x.py"]\n'
            'collect_ignore_glob = ["*_generated.py"]\n',
            "tests/test_a.py": TEST,
            "tests/test_b_generated.py": TEST,
            "tests/fixtures/sample_project/test_x.py": "def test_x():\n    assert False\n",
            "tests/fixtures/sample_project/test_y.py": TEST,
        }
    )
    found = same_twice(project)
    assert found == {"tests/test_a.py::test_ok", "tests/fixtures/sample_project/test_y.py::test_ok"}


def test_norecursedirs_entry(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(
        {
            "pytest.ini": "[pytest]\ntestpaths = tests\nnorecursedirs = data_* helpers\n",
            "tests/test_a.py": TEST,
            "tests/data_1/test_d.py": TEST,
            "tests/helpers/test_h.py": TEST,
            "tests/build/test_b.py": TEST,  # the defaults are replaced, so build/ is collected
        }
    )
    assert same_twice(project) == {"tests/test_a.py::test_ok", "tests/build/test_b.py::test_ok"}


def test_addopts_ignore_and_ignore_glob(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(
        {
            "tox.ini": "[pytest]\naddopts = --ignore=tests/slow --ignore-glob=*_gen.py\n",
            "tests/test_a.py": TEST,
            "tests/slow/test_s.py": TEST,
            "tests/test_api_gen.py": TEST,
        }
    )
    (project.root / "pytest.ini").unlink()
    project.git("add", "-A")
    project.git("commit", "-qm", "tox.ini only")
    assert same_twice(project) == {"tests/test_a.py::test_ok"}


def test_run_from_a_subdirectory(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(
        {
            "pytest.ini": INI,
            "tests/test_a.py": TEST,
            "tests/sub/test_b.py": TEST,
            "venv/test_v.py": TEST,
            ".hidden/test_h.py": TEST,
        }
    )
    found = same_twice(project, cwd=project.root / "tests" / "sub")
    assert found == {"tests/test_a.py::test_ok", "tests/sub/test_b.py::test_ok"}


def test_pytest_ignore_collect_trusts_the_last_collection(sample: Callable[[dict[str, str]], Sample]) -> None:
    hook = "def pytest_ignore_collect(collection_path, config):\n    return 'skipme' in collection_path.name or None\n"
    project = sample({"tests/conftest.py": hook, "tests/test_a.py": TEST, "tests/test_skipme.py": TEST})
    assert same_twice(project) == {"tests/test_a.py::test_ok"}
    project.write("tests/test_skipme_too.py", TEST)
    project.write("tests/test_new.py", TEST)
    report = project.test()
    assert {t["id"] for t in report["tests"]} == pytest_ids(project)
    assert ran(report) == {"tests/test_new.py::test_ok"}


def test_rules_read_statically(tmp_path: Path) -> None:
    (tmp_path / "c1.py").write_text("collect_ignore = ['a.py']\ncollect_ignore.append('b.py')\n")
    assert collection.read_conftest(tmp_path / "c1.py").dynamic
    (tmp_path / "c2.py").write_text("import sys\ncollect_ignore = ['a.py'] if sys.version_info > (3,) else []\n")
    assert collection.read_conftest(tmp_path / "c2.py").dynamic
    (tmp_path / "c3.py").write_text("collect_ignore = ['a.py']\ncollect_ignore_glob = ('*_x.py',)\n")
    read = collection.read_conftest(tmp_path / "c3.py")
    assert read.dynamic is None and read.collect_ignore == ["a.py"] and read.collect_ignore_glob == ["*_x.py"]
    config = discovery.PytestConfig(addopts=["-p", "myplugin"])
    assert collection.Rules(tmp_path, config).dynamic
    assert not collection.Rules(tmp_path, discovery.PytestConfig(addopts=["-p", "no:cacheprovider"])).dynamic
    rules = collection.Rules(tmp_path, discovery.PytestConfig(), args=["--collect-in-virtualenv"])
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("")
    assert rules.keeps("env/test_a.py")
    assert not collection.Rules(tmp_path, discovery.PytestConfig()).keeps("env/test_a.py")


def test_ini_file_found_in_a_parent_folder(tmp_path: Path) -> None:
    (tmp_path / "tox.ini").write_text("[pytest]\ntestpaths = proj/tests\n")
    (tmp_path / "proj").mkdir()
    found = discovery.pytest_config(tmp_path / "proj", {})
    assert found.rootdir == ".." and found.testpaths == ["../proj/tests"]


@pytest.mark.skipif(sys.platform == "win32", reason="posix paths")
def test_start_paths_are_not_checked(tmp_path: Path) -> None:
    rules = collection.Rules(tmp_path, discovery.PytestConfig(testpaths=["build"]))
    assert rules.keeps("build/test_a.py") and not rules.keeps("build/dist/test_a.py")
