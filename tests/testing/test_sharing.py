"""Results shared through a real HTTP remote cache, --quality with real ruff and mypy, --cov."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import IN_CI, git
from tests.testing.conftest import Sample, cached, ran
from tests.testing.test_command import ALL, FILES


def test_fresh_clone_reuses_results_through_the_remote_cache(
    sample: Callable[[dict[str, str]], Sample], remote_cache: str, tmp_path: Path
) -> None:
    project = sample(FILES)
    env = {"HELP_CACHE__REMOTE": remote_cache}
    first = project.test(env=env)
    assert ran(first) == ALL and first["returncode"] == 0
    clone = tmp_path / "elsewhere" / project.root.name  # same project name, another machine's checkout
    clone.parent.mkdir()
    git(tmp_path, "clone", "-q", str(project.root), str(clone))
    other = Sample(clone, project.venv)
    report = other.test(env=env)
    assert report["returncode"] == 0, report["stderr"]
    assert cached(report) == ALL and not report["pytest_started"], "a fresh clone must reuse the shared results"
    (clone / "calc.py").write_text((clone / "calc.py").read_text().replace("return a - b", "return a - b + 0"))
    assert ran(other.test(env=env)) == {"tests/test_calc.py::test_sub"}


def _tool(name: str) -> str:
    """A real tool from the environment running these tests (the dev extra), else PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        import pytest

        if IN_CI:
            pytest.fail(f"{name} is not installed (it is in the dev extra)")
        pytest.skip(f"{name} is not installed")
    return found


def test_quality_checks_are_cached_per_file(sample: Callable[[dict[str, str]], Sample]) -> None:
    ruff = _tool("ruff")
    mypy = _tool("mypy")
    files = {
        "calc.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add() -> None:\n    assert add(1, 2) == 3\n",
        "util.py": "import os\n\n\ndef name() -> str:\n    return 1\n",
        "mypy.ini": "[mypy]\nfiles = calc.py, util.py\n",
    }
    project = sample(files)
    env = {"PATH": os.pathsep.join([str(Path(ruff).parent), str(Path(mypy).parent), os.environ["PATH"]])}
    report = project.test("--quality", env=env)
    assert report["returncode"] == 1
    quality = {q["tool"]: q for q in report["quality"]}
    assert any("F401" in p and "util.py" in p for p in quality["ruff check"]["problems"])
    assert quality["ruff check"]["cached"] == 0
    assert any("util.py" in p for p in quality["mypy"]["problems"])
    again = project.test("--quality", env=env)
    again_q = {q["tool"]: q for q in again["quality"]}
    assert again_q["ruff check"]["cached"] == again_q["ruff check"]["files"]
    assert again_q["ruff check"]["problems"] == quality["ruff check"]["problems"]
    project.write("util.py", "def name() -> str:\n    return 'x'\n")
    fixed = project.test("--quality", env=env)
    fixed_q = {q["tool"]: q for q in fixed["quality"]}
    assert fixed_q["ruff check"]["cached"] == fixed_q["ruff check"]["files"] - 1, (
        "only the edited file is checked again"
    )
    assert fixed_q["mypy"]["problems"] == [] and fixed["returncode"] == 0


def test_cov_runs_everything_with_coverage(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    project.test()
    result = project.help("test", "--cov")
    assert result.returncode == 0, result.stderr
    assert "TOTAL" in result.stdout and "calc.py" in result.stdout
    assert "5 run" in result.stdout
