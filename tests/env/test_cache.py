"""The detection cache: reused while nothing it read changed, invalidated by any marker, variable or setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import HELP, clean_env, run_help, write
from tests.env.conftest import fake_venv, run_detect, touch_exe


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    touch_exe(root / "usr/bin/python3.12")
    project = write(root / "work/proj/pyproject.toml", '[project]\nname = "p"\n').parent
    return root, project


def test_cache_hit_then_invalidated_by_markers_and_variables(tmp_path: Path) -> None:
    root, project = _layout(tmp_path)
    cache = tmp_path / "cache"
    first = run_detect(project, root=root, cache_dir=cache)
    assert not first.cached and first.chosen is not None and first.chosen.kind == "system"
    again = run_detect(project, root=root, cache_dir=cache)
    assert again.cached and again.chosen is not None and again.chosen.executable == first.chosen.executable
    fake_venv(project / ".venv", "3.12.1", manager="uv")  # a new env appears: its marker was recorded as absent
    third = run_detect(project, root=root, cache_dir=cache)
    assert not third.cached and third.chosen is not None and third.chosen.prefix == str(project / ".venv")
    assert run_detect(project, root=root, cache_dir=cache).cached
    write(project / "uv.lock", "version = 1\n")
    fourth = run_detect(project, root=root, cache_dir=cache)
    assert not fourth.cached and fourth.chosen is not None and fourth.chosen.kind == "uv"
    fifth = run_detect(project, root=root, cache_dir=cache, environ={"VIRTUAL_ENV": "/elsewhere"})
    assert not fifth.cached
    sixth = run_detect(project, root=root, cache_dir=cache, config={"python": "3.11"})
    assert not sixth.cached


def test_deleted_interpreter_invalidates_cache(tmp_path: Path) -> None:
    root, project = _layout(tmp_path)
    venv = fake_venv(project / ".venv", "3.12.1")
    cache = tmp_path / "cache"
    assert run_detect(project, root=root, cache_dir=cache).chosen.prefix == str(venv)  # type: ignore[union-attr]
    (venv / "bin/python").unlink()
    after = run_detect(project, root=root, cache_dir=cache)
    assert not after.cached and after.chosen is not None and after.chosen.prefix != str(venv)


def test_corrupt_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    root, project = _layout(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "env-detect.json").write_text("{not json")
    found = run_detect(project, root=root, cache_dir=cache)
    assert not found.cached and found.chosen is not None
    assert (
        json.loads((cache / "env-detect.json").read_text())["result"]["chosen"]["executable"] == found.chosen.executable
    )


def test_slow_detector_times_out_without_hiding_the_others(make_project) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    fake_venv(project / ".venv", "3.12.1")
    os.mkfifo(project / ".python-version")  # reading it blocks forever, like a hung network mount
    started = time.monotonic()
    shown = run_help("env", "--json", cwd=project, env={"HELP_ENV__TIMEOUT": "0.5"}, timeout=30)
    assert time.monotonic() - started < 20
    data = json.loads(shown.stdout)
    assert data["chosen"]["prefix"] == str(project / ".venv")
    # Whichever detector reads .python-version first is the one left hanging.
    assert any(e.endswith("no answer within 0.5s; skipped") for e in data["errors"]), data["errors"]
    assert not (project / ".help/env-detect.json").exists()  # an incomplete answer is never cached


def test_concurrent_invocations_leave_a_valid_cache(make_project) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    fake_venv(project / ".venv", "3.12.1")
    results: list[subprocess.CompletedProcess[str]] = []

    def one() -> None:
        results.append(subprocess.run([sys.executable, str(HELP), "env", "--refresh", "--json"], cwd=project, env=clean_env(),
                                      capture_output=True, text=True, timeout=60))  # fmt: skip

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    entry = json.loads((project / ".help/env-detect.json").read_text())
    assert entry["result"]["chosen"]["prefix"] == str(project / ".venv")


def test_malformed_pyproject_is_a_clear_config_error(make_project) -> None:  # type: ignore[no-untyped-def]
    project = make_project('[project\nname = "x"\n')
    shown = run_help("env", cwd=project)
    assert shown.returncode == 2
    assert "pyproject.toml:1" in shown.stderr and "invalid TOML" in shown.stderr and "Traceback" not in shown.stderr


def test_malformed_tool_files_do_not_break_detection(make_project) -> None:  # type: ignore[no-untyped-def]
    project = make_project(files={"poetry.toml": "[virtualenvs\nin-project = ", "hatch.toml": "= broken"})
    fake_venv(project / ".venv", "3.12.1")
    shown = run_help("env", "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["chosen"]["prefix"] == str(project / ".venv")
