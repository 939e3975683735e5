"""help.py test on real projects from PyPI: pytest's tests, pytest's outcomes, no tracked file changed.

For each sdist bench/test_select.py measures (Pygments 2.18.0, its snippet
tests as the benchmark runs them; toolz 1.2.0, whole), on the Python running
this test (CI runs it again on 3.12 and 3.13 through .ci/pythons): the sdist is
unpacked twice into real git repositories with every file tracked, its
`*.egg-info` included; plain `pytest` runs in one copy and the first
`help.py test --all` in the other, in venvs of this Python holding the
project's test dependencies. Then:

- the tests help.py reports are exactly those pytest collected, none cached;
- each outcome is the one pytest reports (its own `pytest_report_teststatus`
  category: passed, failed, skipped, xfailed, xpassed, error);
- `git status` of help.py's copy shows no tracked file changed, and no new
  file but those plain pytest leaves too. On 3.11 that is none at all; on 3.12
  and later both leave Python's `__pycache__/` (toolz's sdist ships no
  .gitignore, its repository does): help.py does not redirect the bytecode
  cache of the code it runs, so that tests run as under plain pytest.

toolz declares its test dependencies (the `test` dependency group), so help.py
syncs its environment as for any project (an editable install, which runs
setuptools' egg_info over the tracked toolz.egg-info/); plain pytest's venv gets
the same editable install. Pygments declares them only in tox.ini, so one venv
serves both runs, named to help.py by the `python` setting and used as it is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HELP, git
from tests.testing.conftest import Sample, sdist


@dataclass(frozen=True)
class RealProject:
    spec: str
    test_deps: tuple[str, ...]
    args: tuple[str, ...]  # the tests run, as bench/test_select.py runs them
    synced: bool  # help.py syncs the environment itself (test dependencies declared in pyproject.toml)


PROJECTS = {
    "pygments-snippets": RealProject("pygments==2.18.0", ("pytest", "wcag-contrast-ratio"), ("tests/snippets",), False),
    "toolz": RealProject("toolz==1.2.0", ("pytest", "coverage", "pycodestyle"), (), True),
}

# Loaded into plain pytest with -p: the collected ids, and each test's outcome as
# pytest's terminal summary counts it (the first phase that did not pass decides).
OUTCOMES_PLUGIN = '''
"""Writes the collected test ids and each test's outcome category to $REAL_OUTCOMES."""
import json
import os


class _Outcomes:
    def __init__(self, config):
        self.config = config
        self.collected = []
        self.outcomes = {}

    def pytest_collection_finish(self, session):
        self.collected = [item.nodeid for item in session.items]

    def pytest_runtest_logreport(self, report):
        category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)[0]
        if self.outcomes.get(report.nodeid, "passed") == "passed":
            self.outcomes[report.nodeid] = category or "passed"

    def pytest_sessionfinish(self, session):
        with open(os.environ["REAL_OUTCOMES"], "w") as out:
            json.dump({"collected": self.collected, "outcomes": self.outcomes}, out)


def pytest_configure(config):
    config.pluginmanager.register(_Outcomes(config), "real-outcomes")
'''


def plain_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without help.py's, pytest's or a venv's variables: both runs start alike."""
    dropped = ("HELP_", "HELPY_", "PYTEST_", "COV_", "COVERAGE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    for name in ("VIRTUAL_ENV", "PYENV_VERSION", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env or plain_env(), capture_output=True, text=True, timeout=900)


def make_venv(path: Path, packages: tuple[str, ...]) -> Path:
    """A venv of this Python with pip (help.py's pip sync uses it) and `packages`."""
    uv = shutil.which("uv")
    if uv:
        made = run([uv, "venv", "-q", "--seed", "--python", sys.executable, str(path)], path.parent)
    else:
        made = run([sys.executable, "-m", "venv", str(path)], path.parent)
    assert made.returncode == 0, made.stderr
    install(path, *packages)
    return path


def install(venv: Path, *requirements: str) -> None:
    """pip install into `venv` (uv's, quicker, when there is one)."""
    python = str(venv / "bin" / "python")
    uv = shutil.which("uv")
    command = [uv, "pip", "install", "-q", "--python", python] if uv else [python, "-m", "pip", "install", "-q"]
    installed = run([*command, *requirements], venv.parent)
    assert installed.returncode == 0, installed.stdout + installed.stderr


def tracked_sdist(archive: Path, dest: Path) -> Path:
    """The sdist unpacked to `dest`, a git repository with every file committed (ignored ones too)."""
    unpacked = dest.with_name(dest.name + "-unpacked")
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (top,) = unpacked.iterdir()
    top.rename(dest)
    unpacked.rmdir()
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A", "--force")
    git(dest, "commit", "-qm", "sdist")
    files = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert set(git(dest, "ls-files").splitlines()) == files
    return dest


def plain_pytest(root: Path, venv: Path, args: tuple[str, ...], plugin_dir: Path) -> dict[str, Any]:
    """Plain pytest's collected ids and outcomes in `root`."""
    out = plugin_dir / f"{root.name}.json"
    env = plain_env({"PYTHONPATH": str(plugin_dir), "REAL_OUTCOMES": str(out)})
    result = run([str(venv / "bin" / "python"), "-m", "pytest", "-p", "real_outcomes", *args], root, env)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    found: dict[str, Any] = json.loads(out.read_text())
    return found


def helpy_test(root: Path, env: dict[str, str], args: tuple[str, ...]) -> dict[str, Any]:
    """The report of the first `help.py test --all --json` in `root`."""
    result = run([sys.executable, str(HELP), "test", "--all", "--json", "--", *args], root, plain_env(env))
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"no JSON (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr}") from None
    assert "tests" in report, f"{report}\n{result.stderr[-3000:]}"
    return report


@pytest.mark.slow
@pytest.mark.timeout(900)  # a first download and a busy machine: one run took 195 s
@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_first_run_matches_plain_pytest(name: str, tmp_path: Path) -> None:
    project = PROJECTS[name]
    help_root = tracked_sdist(sdist(project.spec), tmp_path / "helpy")
    git(tmp_path, "clone", "-q", str(help_root), "plain")  # the same tracked files, quicker than a second commit
    plain_root = tmp_path / "plain"
    plain_venv = make_venv(tmp_path / "venv-plain", project.test_deps)
    if project.synced:
        help_venv = make_venv(tmp_path / "venv-helpy", project.test_deps)
        install(plain_venv, "-e", str(plain_root))  # what help.py's sync adds: the project itself, editable
        settings = {"HELP_INSTALL__VENV": str(help_venv)}
    else:  # used as it is by both runs
        settings = {"HELP_PYTHON": str(plain_venv / "bin" / "python")}
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "real_outcomes.py").write_text(OUTCOMES_PLUGIN)

    plain = plain_pytest(plain_root, plain_venv, project.args, plugin_dir)
    report = helpy_test(help_root, settings, project.args)

    collected = set(plain["collected"])
    assert collected, "pytest collected nothing"
    assert set(plain["outcomes"]) == collected
    reported = {t["id"]: t for t in report["tests"]}
    assert len(reported) == len(report["tests"]), "a test reported twice"
    assert set(reported) == collected, (
        f"only help.py: {sorted(set(reported) - collected)[:10]}; only pytest: {sorted(collected - set(reported))[:10]}"
    )
    assert [t for t in report["tests"] if t["cached"]] == [], "a first run took a result from a cache"
    differing = {
        i: (plain["outcomes"][i], t["outcome"]) for i, t in reported.items() if t["outcome"] != plain["outcomes"][i]
    }
    assert differing == {}, "(pytest, help.py) outcomes differ"
    if project.synced:
        assert list(help_venv.glob("lib/python3.*/site-packages/__editable__*")), "help.py did not sync its venv"
    assert git(help_root, "status", "--porcelain", "--untracked-files=no") == "", "help.py changed a tracked file"
    left = set(git(help_root, "status", "--porcelain", "--untracked-files=all").splitlines())
    assert left <= set(git(plain_root, "status", "--porcelain", "--untracked-files=all").splitlines()), (
        "help.py left files plain pytest does not"
    )


OUTCOME_KINDS = """
import pytest

@pytest.fixture
def skipping():
    pytest.skip("in setup")

@pytest.fixture
def xfailing():
    pytest.xfail("in setup")

@pytest.fixture
def broken():
    raise RuntimeError("setup")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown")

def test_passed():
    pass

def test_failed():
    assert False

def test_skipped():
    pytest.skip("in call")

def test_skipped_in_setup(skipping):
    pass

@pytest.mark.skipif(True, reason="marked")
def test_skipif():
    pass

@pytest.mark.xfail(reason="known")
def test_xfailed():
    assert False

@pytest.mark.xfail(reason="known")
def test_xpassed():
    pass

@pytest.mark.xfail(strict=True, reason="known")
def test_xpassed_strict():
    pass

@pytest.mark.xfail(run=False, reason="not run")
def test_xfail_not_run():
    pass

def test_xfail_in_setup(xfailing):
    pass

def test_xfail_imperative():
    pytest.xfail("in call")

def test_error_in_setup(broken):
    pass

def test_error_in_teardown(bad_teardown):
    pass

def test_failed_and_teardown_error(bad_teardown):
    assert False
"""


def test_every_outcome_kind_matches_plain_pytest(sample: Callable[[dict[str, str]], Sample], tmp_path: Path) -> None:
    project = sample({"tests/test_kinds.py": OUTCOME_KINDS})
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "real_outcomes.py").write_text(OUTCOMES_PLUGIN)
    clone = tmp_path / "plain"
    git(tmp_path, "clone", "-q", str(project.root), str(clone))
    plain = plain_pytest(clone, project.venv, (), plugin_dir)
    report = helpy_test(project.root, {"HELP_PYTHON": str(project.venv / "bin" / "python")}, ())
    assert len(set(plain["outcomes"].values())) == 6  # passed, failed, skipped, xfailed, xpassed, error
    assert {t["id"]: t["outcome"] for t in report["tests"]} == plain["outcomes"]
