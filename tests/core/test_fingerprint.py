"""Tree fingerprints: git-aware listing, stat fast path, racy edits."""

from __future__ import annotations

import os
import time
from pathlib import Path

from helper.fingerprint import Fingerprinter, list_files
from tests.conftest import git, write


def test_git_listing_has_tracked_and_untracked_but_not_ignored(git_repo) -> None:
    root = git_repo(files={"pkg/a.py": "A = 1\n", ".gitignore": "*.log\nbuild/\n"})
    write(root / "new.py", "x = 1\n")
    write(root / "debug.log", "noise\n")
    write(root / "build/out.py", "generated\n")
    files = list_files(root)
    assert "pkg/a.py" in files and "new.py" in files and ".gitignore" in files
    assert "debug.log" not in files and "build/out.py" not in files


def test_walk_without_git_skips_venvs_and_caches(make_project) -> None:
    root = make_project(files={"src/m.py": "m = 1\n", ".venv/lib/x.py": "", "__pycache__/m.pyc": "", ".help/x": ""})
    assert list_files(root) == ["pyproject.toml", "src/m.py"]


def test_unchanged_files_are_not_read_again(make_project, tmp_path: Path) -> None:
    root = make_project(files={f"m{i}.py": f"v = {i}\n" for i in range(20)})
    old = time.time() - 60  # safely older than any racy window
    for path in root.iterdir():
        os.utime(path, (old, old))
    state = tmp_path / "fp.json"
    first = Fingerprinter(root, state)
    digest1, hashes = first.tree()
    first.save()
    assert first.hashed == 21
    second = Fingerprinter(root, state)
    digest2, _ = second.tree()
    assert second.hashed == 0 and digest2 == digest1
    write(root / "m3.py", "v = 'changed'\n")
    third = Fingerprinter(root, state)
    digest3, hashes3 = third.tree()
    assert third.hashed == 1 and digest3 != digest1 and hashes3["m3.py"] != hashes["m3.py"]


def test_an_edit_within_the_same_tick_is_not_missed(make_project, tmp_path: Path) -> None:
    root = make_project(files={"m.py": "a = 1\n"})
    state = tmp_path / "fp.json"
    first = Fingerprinter(root, state)
    before = first.file("m.py")
    stat = os.stat(root / "m.py")
    first.save()
    # Same size, same mtime: only the racy-entry rule can catch this edit.
    (root / "m.py").write_text("a = 2\n")
    os.utime(root / "m.py", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert Fingerprinter(root, state).file("m.py") != before


def test_state_for_another_root_is_ignored(make_project, tmp_path: Path) -> None:
    root = make_project(files={"m.py": "a = 1\n"})
    state = tmp_path / "fp.json"
    state.write_text('{"root": "/elsewhere", "saved_at_ns": 0, "files": {"m.py": [0, 0, 0, "bogus"]}}')
    assert Fingerprinter(root, state).file("m.py") != "bogus"
    state.write_text("{not json")
    assert Fingerprinter(root, state).file("m.py") is not None
    git(root, "init", "-q")
