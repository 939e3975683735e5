"""The `test` pipeline's steps: typed records in and out, each step callable alone with constructed inputs."""

from __future__ import annotations

import argparse
import inspect
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from helper.project import Project, load
from helper.records import replace
from helper.testing import discovery, envhash, pipeline
from helper.testing.components import Outcome
from helper.testing.inpytest import shard
from helper.testing.pipeline import Environment, Inputs, Run, Scope, Stores, Wanted
from helper.testing.runner import Records
from helper.testing.select import Decision, Plan
from helper.testing.state import State
from tests.conftest import write
from tests.testing.conftest import Sample

# What `execute` is given: the project, the command's arguments and the time it started.
GIVEN = {"Project", "argparse.Namespace", "float"}
ORDER = [
    "load_environment",
    "open_stores",
    "fingerprint",
    "scope",
    "select",
    "run_tests",
    "store_results",
    "run_components",
    "report",
    "offer_replay",
]


def _uses_any(annotation: str) -> bool:
    return re.search(r"\bAny\b", annotation) is not None


def test_each_step_takes_results_of_earlier_steps() -> None:
    """Every parameter of a step is a given or the result type of a step before it; no Any anywhere."""
    assert [step.__name__ for step in pipeline.STEPS] == ORDER
    produced = set(GIVEN)
    for step in pipeline.STEPS:
        signature = inspect.signature(inspect.unwrap(step))
        assert signature.parameters, step.__name__
        for name, parameter in signature.parameters.items():
            annotation = parameter.annotation
            assert isinstance(annotation, str), f"{step.__name__}({name}) has no annotation"
            assert not _uses_any(annotation), f"{step.__name__}({name}: {annotation})"
            assert annotation in produced, f"{step.__name__}({name}: {annotation}) is no earlier step's result"
        returned = signature.return_annotation
        assert isinstance(returned, str) and not _uses_any(returned), step.__name__
        produced.add(returned)
    assert {"Environment", "Stores", "Inputs", "Scope", "Plan", "Run", "Outcome", "int"} <= produced


RECORDS = [Environment, Stores, Inputs, Wanted, Scope, Run]  # what pipeline.py hands on


@pytest.mark.parametrize("record", RECORDS)
def test_results_are_typed_without_any(record: type) -> None:
    annotations = {k: v for klass in record.__mro__ for k, v in vars(klass).get("__annotations__", {}).items()}
    assert record.__fields__  # type: ignore[attr-defined]
    for name in record.__fields__:  # type: ignore[attr-defined]
        assert not _uses_any(annotations[name]), f"{record.__name__}.{name}: {annotations[name]}"


@pytest.mark.parametrize("record", [*RECORDS, Plan])
def test_results_are_frozen(record: type) -> None:
    made = record(**dict.fromkeys(record.__fields__))  # type: ignore[attr-defined]
    for name in record.__fields__:  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="frozen"):
            setattr(made, name, None)
    with pytest.raises(AttributeError, match="frozen"):
        made.extra = 1
    changed = replace(made, **{record.__fields__[0]: "new"})  # type: ignore[attr-defined]
    assert getattr(changed, record.__fields__[0]) == "new" and getattr(made, record.__fields__[0]) is None  # type: ignore[attr-defined]
    decision = Decision("tests/test_a.py::test_x", "tests/test_a.py", True, "new test")
    with pytest.raises(AttributeError):
        decision.run = False  # type: ignore[misc]


def test_execute_runs_the_steps_in_order(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample({"tests/test_a.py": "def test_one():\n    assert True\n"})
    for _ in range(2):  # pytest started, then everything from the cache
        result = project.help("test", "-v")
        assert result.returncode == 0, result.stderr
        assert re.findall(r"^step (\w+): [\d.]+ ms$", result.stderr, re.M) == ORDER


# -- steps called alone ------------------------------------------------------------
def _project(root: Path, files: dict[str, str]) -> Project:
    write(root / "pyproject.toml", '[project]\nname = "demo"\nversion = "0"\n')
    write(root / "pytest.ini", "[pytest]\ntestpaths = tests\n")
    for rel, text in files.items():
        write(root / rel, text)
    return load(root, environ={})


def _inputs(project: Project, *pytest_args: str, fast_ok: bool = True) -> Inputs:
    user_paths, _, fast = envhash.split_args(list(pytest_args))
    return Inputs(
        pytest_config=discovery.pytest_config(project.root, project.pyproject),
        pytest_args=pytest_args,
        user_paths=tuple(user_paths),
        fast_ok=fast_ok and fast,
        env="environment",
    )


def test_scope_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"tests/{name}": "def test_one():\n    pass\n" for name in ("test_a.py", "test_b.py", "sub/test_c.py")}
    project = _project(tmp_path, {**files, "tests/helper.py": "", "docs/test_not_collected.py": ""})
    monkeypatch.chdir(tmp_path)
    stores = pipeline.open_stores(project)
    inputs = _inputs(project, "tests", "--ignore=tests/sub", "--deselect", "tests/test_a.py::test_two")
    scoped = pipeline.scope(project, argparse.Namespace(component=None, shard="2/3"), stores, inputs)

    assert scoped.test_files == ("tests/test_a.py", "tests/test_b.py")
    assert scoped.shard == (2, 3)
    assert not scoped.node_ids_only and not scoped.partial_files
    assert scoped.wanted.narrows and scoped.wanted("tests/test_a.py::test_one")
    assert not scoped.wanted("tests/test_a.py::test_two")  # --deselect
    assert not scoped.wanted("tests/sub/test_c.py::test_one")  # --ignore
    with pytest.raises(AttributeError, match="frozen"):
        scoped.shard = None  # type: ignore[misc]

    node = _inputs(project, "tests/test_b.py::test_one")
    scoped = pipeline.scope(project, argparse.Namespace(component=None, shard=None), stores, node)
    assert scoped.test_files == ("tests/test_b.py",)
    assert scoped.node_ids_only and scoped.partial_files == {"tests/test_b.py"}
    assert scoped.wanted("tests/test_b.py::test_one") and not scoped.wanted("tests/test_b.py::test_other")


def test_wanted_component_counts_the_code_a_test_ran(tmp_path: Path) -> None:
    state = State(tmp_path / "state.json")
    state.remember_test("tests/test_api.py::test_x", "tests/test_api.py", state.add_set(["pkg/api.py::f"]), "passed", 0)
    state.remember_test("tests/test_cli.py::test_y", "tests/test_cli.py", state.add_set(["pkg/cli.py::g"]), "passed", 0)
    assert not Wanted(root=tmp_path, component=("pkg/api.py",), state=state)("tests/test_cli.py::test_y")
    assert Wanted(root=tmp_path, component=("pkg/api.py",), state=state)("tests/test_api.py::test_x")
    assert Wanted(root=tmp_path, component=("tests",), state=state)("tests/test_cli.py::test_y")  # its own file
    assert not Wanted(root=tmp_path, component=("pkg/api",), state=state)("tests/test_api.py::test_x")
    everything = Wanted(root=tmp_path)
    assert not everything.narrows and everything("tests/test_cli.py::test_y")
    rooted = Wanted(root=tmp_path, prefix="src/", targets=("src/tests/test_api.py",))
    assert rooted("tests/test_api.py::test_x") and not rooted("tests/test_cli.py::test_y")


def _cached(test: str) -> Decision:
    return Decision(test, test.partition("::")[0], False, "unchanged, cached passed", {"outcome": "passed"})


def test_run_tests_alone_answers_a_cached_shard_without_pytest(tmp_path: Path) -> None:
    """Everything cached: this shard's share is chosen and no pytest starts (the interpreter does not exist)."""
    project = _project(tmp_path, {"tests/test_a.py": ""})
    stores = pipeline.open_stores(project)
    missing = Environment(python=tmp_path / "no-venv/bin/python", venv=tmp_path / "no-venv")
    tests = [f"tests/test_a.py::test_{n}" for n in range(6)]
    plan = Plan(tuple(_cached(t) for t in tests))
    args = argparse.Namespace(changed=None, component=None, cov=False)
    shares = []
    for index in (1, 2):
        scoped = Scope(test_files=("tests/test_a.py",), wanted=Wanted(root=tmp_path), shard=(index, 2))
        run = pipeline.run_tests(project, args, missing, stores, _inputs(project), scoped, plan)
        assert not run.ran_pytest and run.records is None
        assignment = shard.assign(tests, {}, 2)
        assert [d.test for d in run.plan.decisions] == [t for t in tests if assignment[t] == index]
        shares.append({d.test for d in run.plan.decisions})
    assert shares[0] and shares[1] and not shares[0] & shares[1] and shares[0] | shares[1] == set(tests)
    assert len(plan.decisions) == 6  # the plan given is left as it was


def test_report_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The report of a constructed run: one cached pass, one fresh failure, pytest's exit code kept."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    project = _project(tmp_path, {})
    fresh = "tests/test_a.py::test_new"
    plan = Plan((_cached("tests/test_a.py::test_old"), Decision(fresh, "tests/test_a.py", True, "new test")))
    records = Records(tests={fresh: {"outcome": "failed", "duration": 0.5, "message": "boom"}})
    run = Run(plan, records, pytest_code=1)
    junit = tmp_path / "out.xml"
    args = argparse.Namespace(quality=False, junit=str(junit))
    scoped = Scope(test_files=("tests/test_a.py",), wanted=Wanted(root=tmp_path))

    code = pipeline.report(project, args, scoped, run, Outcome(), time.monotonic())

    assert code == 1
    assert "help.py test: 1 run (1 failed); 1 cached (1 passed)" in capsys.readouterr().out
    xml = junit.read_text()
    assert 'tests="2" failures="1"' in xml
    assert '<failure message="boom">' in xml and '<property name="cached" value="true"/>' in xml
