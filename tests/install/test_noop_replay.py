"""A no-op `install` is replayed while nothing it read changes, and a changed manifest or env is never missed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helper import replay
from tests.conftest import age, git, run_help, write
from tests.install.conftest import venv_versions


def test_noop_install_is_replayed_until_the_manifest_or_the_env_changes(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root / "requirements.txt", "beta\n")
    git(root, "init", "-q")  # a clone: .git marks the project root
    assert run_help("install", cwd=root).returncode == 0
    age(root)
    record = root / ".help/replay" / replay.record_name(["install", "--json"])

    full = run_help("install", "--json", cwd=root)
    assert full.returncode == 0 and json.loads(full.stdout)["status"] == "in-sync", full.stderr
    assert record.is_file()
    again = run_help("install", "--json", cwd=root)
    assert (again.returncode, again.stdout, again.stderr) == (full.returncode, full.stdout, full.stderr)

    # A new requirements file (found by glob, not named before) is a change.
    write(root / "requirements-dev.txt", "delta==1.0\n")
    synced = run_help("install", "--json", cwd=root)
    assert synced.returncode == 0, synced.stderr
    assert {"name": "delta", "version": "1.0"} in json.loads(synced.stdout)["added"]

    # A package removed by hand behind help.py's back is a change too.
    age(root)
    assert json.loads(run_help("install", "--json", cwd=root).stdout)["status"] == "in-sync"
    assert json.loads(run_help("install", "--json", cwd=root).stdout)["status"] == "in-sync"  # replayed
    removed = subprocess.run(
        [str(root / ".venv/bin/python"), "-m", "pip", "uninstall", "-y", "-q", "delta"], capture_output=True, text=True
    )
    assert removed.returncode == 0, removed.stderr
    resynced = run_help("install", "--json", cwd=root)
    assert json.loads(resynced.stdout)["status"] == "done", resynced.stdout
    assert venv_versions(root)["delta"] == "1.0"

    history = json.loads(run_help("history", "--json", "-n", "50", cwd=root).stdout)
    assert len([r for r in history if r["command"] == "install"]) == 7
