"""`-C DIR` / `--project DIR` answers are replayed like those asked from a cwd inside the project."""

from __future__ import annotations

import os
from pathlib import Path

from helper import replay
from tests.conftest import age, run_help
from tests.env.conftest import fake_venv


def test_the_project_option_is_found_in_every_spelling() -> None:
    assert replay.project_option(["-C", "a", "env"]) == "a"
    assert replay.project_option(["-Cb", "env"]) == "b"
    assert replay.project_option(["env", "--project", "c", "--python"]) == "c"
    assert replay.project_option(["--project=d", "env"]) == "d"
    assert replay.project_option(["-C", "a", "env", "-C", "e"]) == "e", "the last one wins, as in argparse"
    assert replay.project_option(["test", "--", "-C", "x"]) is None, "pytest's arguments are not ours"
    assert replay.project_option(["env", "--python"]) is None
    assert replay.eligible(["-C", "a", "env", "--python"]) and not replay.eligible(["env", "--debug"])


def test_answers_for_another_directory_are_replayed(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    venv = fake_venv(project / ".venv", "3.12.1")
    age(project)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for args in (["-C", str(project), "env", "--python"], ["env", "--python", f"--project={project}"]):
        full = run_help(*args, cwd=outside)
        assert (full.returncode, full.stdout) == (0, f"{venv / 'bin/python'}\n"), full.stderr
        assert (project / ".help/replay" / replay.record_name(args)).is_file(), "recorded in the project's .help"
        pending = project / ".help/journal.pending"
        before = len(os.listdir(pending)) if pending.is_dir() else 0
        again = run_help(*args, cwd=outside)
        assert (again.returncode, again.stdout, again.stderr) == (full.returncode, full.stdout, full.stderr)
        assert len(os.listdir(pending)) == before + 1, "the second answer was a replay"
    # A changed input means the full command runs again, with the new answer.
    fresh = fake_venv(project / "venv", "3.12.1")
    (project / ".venv").rename(project / "old-venv")
    changed = run_help("-C", str(project), "env", "--python", cwd=outside)
    assert changed.stdout == f"{fresh / 'bin/python'}\n", changed.stderr
    relative = run_help("-C", "proj", "env", "--python", cwd=project.parent)
    assert relative.stdout == changed.stdout
