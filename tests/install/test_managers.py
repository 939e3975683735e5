"""uv, poetry and pdm projects through help.py against the local index: sync, add, conflicts, remove."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import need_tool, run_help
from tests.install import samples
from tests.install.conftest import Index, venv_versions


def _files(root: Path, kind: str) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in ("pyproject.toml", samples.LOCKS[kind])}


@pytest.mark.parametrize("kind", ["uv", "poetry", "pdm"])
def test_lock_manager_round_trip(kind: str, tmp_path: Path, index: Index) -> None:
    need_tool(kind, f"pip install {kind}")
    root = samples.make(kind, tmp_path / "proj", index.url)

    first = run_help("install", "--json", cwd=root)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["manager"] == kind
    assert (root / samples.LOCKS[kind]).is_file()
    versions = venv_versions(root)
    assert versions["alpha"] == "1.0" and versions["beta"] == "1.0"
    again = run_help("install", "--json", cwd=root)
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "in-sync"

    dev = run_help("install", "delta==1.0", "--dev", "--json", cwd=root)
    assert dev.returncode == 0, dev.stderr
    assert {"name": "delta", "version": "1.0"} in json.loads(dev.stdout)["added"]
    text = (root / "pyproject.toml").read_text()
    assert '"beta",  # keeps alpha below 2' in text  # the rest of the file is kept
    assert any("delta" in item for item in tomllib.loads(text)["dependency-groups"]["dev"])
    assert venv_versions(root)["delta"] == "1.0"

    # gamma needs alpha>=2, beta alpha<2: the tool refuses; nothing changes.
    before = _files(root, kind)
    conflict = run_help("install", "gamma", cwd=root)
    assert conflict.returncode == 1
    assert "conflict" in conflict.stderr and "gamma" in conflict.stderr
    assert _files(root, kind) == before

    unknown = run_help("install", "no-such-package", cwd=root)
    assert unknown.returncode == 1 and "'no-such-package' was not found" in unknown.stderr
    assert _files(root, kind) == before

    gone = run_help("uninstall", "delta", cwd=root)  # found in the dev group by itself
    assert gone.returncode == 0, gone.stderr
    assert "delta" not in venv_versions(root)

    # A hand edit makes the lock stale: install refuses to re-resolve, --lock does it on request.
    edited = (root / "pyproject.toml").read_text().replace('"beta",  #', '"beta", "epsilon",  #')
    (root / "pyproject.toml").write_text(edited)
    lock_before = (root / samples.LOCKS[kind]).read_bytes()
    stale = run_help("install", cwd=root)
    assert stale.returncode == 1 and "out of date" in stale.stderr, stale.stderr
    assert (root / samples.LOCKS[kind]).read_bytes() == lock_before
    relock = run_help("install", "--lock", cwd=root)
    assert relock.returncode == 0, relock.stderr
    assert venv_versions(root)["epsilon"] == "1.0"


def test_uv_upgrade_moves_the_lock(tmp_path: Path, index: Index) -> None:
    need_tool("uv", "pip install uv")
    root = samples.make("uv", tmp_path / "proj", index.url)
    assert run_help("install", "delta==1.0", cwd=root).returncode == 0
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text().replace("delta==1.0", "delta>=1.0"))
    assert run_help("install", "--lock", cwd=root).returncode == 0
    assert venv_versions(root)["delta"] == "1.0"  # re-locking keeps what still fits
    upgraded = run_help("install", "--upgrade", "delta", "--json", cwd=root)
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["upgraded"] == [{"name": "delta", "from": "1.0", "to": "1.1"}]
    assert 'version = "1.1"' in (root / "uv.lock").read_text()
