"""`help.py test` as a user and CI see it: exit codes, pass-through, shards, reports, bad state."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from tests.conftest import HELP, clean_env, run_help, write
from tests.testing.conftest import PYTEST_INI, Sample, cached, ran

FILES = {
    "calc.py": "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n",
    "tests/test_calc.py": "from calc import add, sub\n\ndef test_add():\n    assert add(1, 2) == 3\n\ndef test_sub():\n    assert sub(3, 2) == 1\n",
    "tests/test_slow.py": "import time\n\ndef test_slow():\n    time.sleep(0.3)\n\ndef test_quick():\n    pass\n\ndef test_medium():\n    time.sleep(0.1)\n",
}
ALL = {
    "tests/test_calc.py::test_add",
    "tests/test_calc.py::test_sub",
    "tests/test_slow.py::test_slow",
    "tests/test_slow.py::test_quick",
    "tests/test_slow.py::test_medium",
}


def test_fresh_clone_runs_everything_and_exit_code_is_pytests(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample({**FILES, "tests/test_bad.py": "def test_bad():\n    assert 0\n"})
    result = project.help("test", "--", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 1
    assert "1 failed, 5 passed" in result.stdout
    assert "help.py test: 6 run" in result.stdout
    assert not (project.root / ".pytest_cache").exists(), "pass-through -p no:cacheprovider must reach pytest"
    again = project.help("test", "--", "-q", "-p", "no:cacheprovider")
    assert again.returncode == 1 and "1 failed" in again.stdout and "5 cached" in again.stdout


def test_no_tests_keeps_exit_code_5(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample({"calc.py": "X = 1\n"})
    result = project.help("test")
    assert result.returncode == 5
    assert "pytest collected no tests" in result.stderr


def test_usage_error_from_pytest_is_passed_on(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    result = project.help("test", "--", "--no-such-pytest-option")
    assert result.returncode == 4, result.stderr


def test_unchanged_rerun_answers_from_cache_in_process(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    project.test()
    result = project.help("test")
    assert result.returncode == 0
    assert "5 cached (5 passed)" in result.stdout and "all from cache" in result.stdout
    assert "test session starts" not in result.stdout


def test_shards_partition_the_tests_by_duration(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    first = project.test("--shard", "1/2")
    second = project.test("--shard", "2/2")
    assert first["returncode"] == 0 and second["returncode"] == 0
    ids1 = {t["id"] for t in first["tests"]}
    ids2 = {t["id"] for t in second["tests"]}
    assert ids1 | ids2 == ALL and not ids1 & ids2
    # With durations recorded, the slowest test sits alone against the rest.
    project.test("--all")
    balanced = [project.test("--all", "--shard", f"{k}/2") for k in (1, 2)]
    with_slow = next(r for r in balanced if "tests/test_slow.py::test_slow" in {t["id"] for t in r["tests"]})
    assert "tests/test_slow.py::test_medium" not in {t["id"] for t in with_slow["tests"]}
    # Cached shards are answered without pytest and still split the same way.
    cached_shards = [project.test("--shard", f"{k}/2") for k in (1, 2)]
    assert [{t["id"] for t in r["tests"]} for r in cached_shards] == [{t["id"] for t in r["tests"]} for r in balanced]
    assert not any(r["pytest_started"] for r in cached_shards)
    bad = project.help("test", "--shard", "3/2")
    assert bad.returncode == 2 and "K/N" in bad.stderr


def test_junit_and_github_annotations(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    project.test()
    project.replace("calc.py", "return a - b", "return a - b - 1")
    junit = project.root / "out" / "junit.xml"
    result = project.help("test", "--junit", str(junit), env={"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    assert "::error file=tests/test_calc.py,line=7,title=failed%3A tests/test_calc.py%3A%3Atest_sub::" in result.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "5" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["test_sub"].find("failure") is not None
    assert cases["test_add"].find("properties/property[@name='cached']") is not None
    assert cases["test_sub"].find("properties") is None


def test_json_lists_every_test_with_its_reason(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    project.test()
    project.replace("calc.py", "return a + b", "return b + a")
    report = project.test()
    assert ran(report) == {"tests/test_calc.py::test_add"}
    rows = {t["id"]: t for t in report["tests"]}
    assert rows["tests/test_calc.py::test_add"]["reason"] == "changed: calc.py::add"
    assert (
        rows["tests/test_calc.py::test_sub"]["cached"] and rows["tests/test_calc.py::test_sub"]["outcome"] == "passed"
    )
    assert report["ran"] == 1 and report["cached"] == 4


def test_corrupt_state_is_rebuilt_not_fatal(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    project.test()
    for name in ("test-state.json", "test-checksums.json", "fingerprints.json"):
        (project.root / ".help" / name).write_text("{broken")
    report = project.test()
    assert report["returncode"] == 0 and ran(report) == ALL
    assert cached(project.test()) == ALL


def test_pytest_missing_gives_the_fix(tmp_path: Path) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    root = tmp_path / "proj"
    write(root / "pytest.ini", PYTEST_INI)
    write(root / "tests" / "test_a.py", "def test_a():\n    pass\n")
    # The environment marker says the venv is ready, so help.py trusts it and finds pytest missing.
    write(
        root / ".help" / "test-env.json", json.dumps({"pyproject": None, "extras": [], "base_python": sys.executable})
    )
    result = run_help("test", cwd=root, env={"HELP_TEST__VENV": str(venv)})
    assert result.returncode == 1
    assert "pytest is not installed" in result.stderr and "help.py install pytest --dev" in result.stderr
    assert "-m pip" not in result.stderr
    assert "Traceback" not in result.stderr


def test_setup_and_teardown_commands_run_around_pytest(sample: Callable[[dict[str, str]], Sample]) -> None:
    setup = f"{sys.executable} -c \\\"open('setup.log','a').write('up\\\\n')\\\""
    teardown = f"{sys.executable} -c \\\"open('setup.log','a').write('down\\\\n')\\\""
    project = sample({**FILES, "config/help.toml": f'[test]\nsetup = ["{setup}"]\nteardown = ["{teardown}"]\n'})
    report = project.test()
    assert report["returncode"] == 0, report["stderr"]
    assert (project.root / "setup.log").read_text() == "up\ndown\n"
    project.test()  # all cached: no pytest, so no setup either
    assert (project.root / "setup.log").read_text() == "up\ndown\n"


def test_failing_setup_stops_before_tests(sample: Callable[[dict[str, str]], Sample]) -> None:
    stop = f'{sys.executable} -c \\"raise SystemExit(3)\\"'
    project = sample({**FILES, "config/help.toml": f'[test]\nsetup = ["{stop}"]\n'})
    result = project.help("test")
    assert result.returncode == 1
    assert "failed with exit code 3" in result.stderr and "no test was run" in result.stderr
    assert "test session starts" not in result.stdout


def test_node_id_arguments_select_and_reuse(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    first = project.test("--", "tests/test_calc.py::test_add")
    assert ran(first) == {"tests/test_calc.py::test_add"}
    again = project.test("--", "tests/test_calc.py::test_add")
    assert cached(again) == {"tests/test_calc.py::test_add"} and not again["pytest_started"]
    whole = project.test()
    assert ran(whole) == ALL - {"tests/test_calc.py::test_add"} and cached(whole) == {"tests/test_calc.py::test_add"}


def test_two_runs_at_once_both_finish_and_lose_nothing(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    env = {**clean_env({"HELP_TEST__VENV": str(project.venv)})}
    procs = [
        subprocess.Popen(
            [sys.executable, str(HELP), "test", "--json"],
            cwd=project.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    for out, _ in outputs:
        assert {t["id"] for t in json.loads(out)["tests"]} == ALL
    after = project.test()
    assert after["returncode"] == 0 and cached(after) == ALL


def test_tests_find_the_environments_own_tools_on_path(sample: Callable[[dict[str, str]], Sample]) -> None:
    """As under `uv run pytest` or an activated venv: `python` and console scripts are the environment's."""
    project = sample(
        {
            "tests/test_tools.py": (
                "import os, shutil, subprocess, sys\n\n"
                "def test_python_on_path_is_the_environments():\n"
                "    assert os.environ['PATH'].split(os.pathsep)[0] == os.path.dirname(sys.executable)\n"
                "    prefix = subprocess.run(['python', '-c', 'import sys; print(sys.prefix)'],\n"
                "                            capture_output=True, text=True, check=True).stdout.strip()\n"
                "    assert prefix == sys.prefix\n"
                "    assert shutil.which('pytest') == os.path.join(os.path.dirname(sys.executable), 'pytest')\n"
            )
        }
    )
    result = project.help("test", "--", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_results_reused_count_as_cache_hits_in_the_journal(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    project.test()
    project.replace("calc.py", "return a - b", "return -(b - a)")  # test_sub reruns, four are reused
    again = project.help("test", "--", "-q", "-p", "no:cacheprovider")
    assert again.returncode == 0 and "4 cached" in again.stdout, again.stdout
    project.help("test")  # everything reused
    runs = [r for r in json.loads(project.help("history", "--json").stdout) if r["command"] == "test"]
    assert (runs[0]["cache_hits"], runs[1]["cache_hits"]) == (5, 4), runs[:2]
    stats = json.loads(project.help("cache", "stats", "--json").stdout)
    assert stats["hits"] >= 9 and stats["time_saved_s"] > 0.3  # test_slow's 0.3 s counted each time
