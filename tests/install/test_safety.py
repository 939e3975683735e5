"""Interrupted, killed, concurrent and offline installs lose nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import HELP, clean_env, need_tool, run_help, write
from tests.install import samples
from tests.install.conftest import Index, closed_port_url, isolate, venv_versions


def _start(root: Path, *args: str, extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HELP), *args],
        cwd=root,
        env=clean_env(extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_stalled(index: Index, child: subprocess.Popen[str]) -> None:
    assert index.stalled.wait(60), "the install never asked the index for slowpkg"
    assert child.poll() is None


@pytest.fixture
def stall(index: Index):  # type: ignore[no-untyped-def]
    index.stalled.clear()
    index.release.clear()
    yield index
    index.release.set()


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory, index: Index, tool_caches: Path) -> Path:
    """One synced requirements.txt project shared by the tests below: each must leave it as it found it."""
    root = samples.make("requirements", tmp_path_factory.mktemp("safety") / "proj", "")
    with pytest.MonkeyPatch.context() as patch:
        isolate(patch, index.url, tool_caches)
        assert run_help("install", cwd=root).returncode == 0
    return root


def test_sigterm_mid_install_restores_manifest_and_concurrent_install_waits(synced: Path, stall: Index) -> None:
    root = synced
    original = (root / "requirements.txt").read_bytes()
    child = _start(root, "install", "slowpkg")
    try:
        _wait_stalled(stall, child)
        assert b"slowpkg" in (root / "requirements.txt").read_bytes()  # the edit happened before pip ran

        # A second install meanwhile: it waits for the lock, then gives up clearly, changing nothing.
        other = run_help("install", "delta", cwd=root, env={"HELP_INSTALL__LOCK_TIMEOUT": "1"})
        assert other.returncode == 1 and "another help.py process holds" in other.stderr
        assert b"delta" not in (root / "requirements.txt").read_bytes()

        child.send_signal(signal.SIGTERM)
        _out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err
    assert "interrupted" in err
    assert (root / "requirements.txt").read_bytes() == original
    assert not (root / ".help" / "backups" / "pending.json").exists()


def test_sigkill_mid_install_is_recovered_by_the_next_run(synced: Path, stall: Index) -> None:
    root = synced
    original = (root / "requirements.txt").read_bytes()
    child = _start(root, "install", "slowpkg")
    _wait_stalled(stall, child)
    pending = json.loads((root / ".help" / "backups" / "pending.json").read_text())
    orphan = pending["children"][-1]["pid"]
    child.kill()  # SIGKILL: no handler runs, pip is left behind
    child.wait()
    assert b"slowpkg" in (root / "requirements.txt").read_bytes()

    after = run_help("install", cwd=root)
    assert after.returncode == 0, after.stderr
    assert "restored from .help/backups/" in after.stderr
    assert (root / "requirements.txt").read_bytes() == original
    assert not os.path.exists(f"/proc/{orphan}") or _is_zombie(orphan)  # the orphaned pip was stopped
    assert venv_versions(root)["beta"] == "1.0"


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("kind", ["uv", "poetry", "pdm"])
def test_sigterm_during_add_restores_pyproject_and_lock(kind: str, tmp_path: Path, stall: Index) -> None:
    need_tool(kind, f"pip install {kind}")
    root = samples.make(kind, tmp_path / "proj", stall.url)
    assert run_help("install", cwd=root).returncode == 0
    before = {n: (root / n).read_bytes() for n in ("pyproject.toml", samples.LOCKS[kind])}
    child = _start(root, "install", "slowpkg")
    try:
        _wait_stalled(stall, child)
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130
    assert {n: (root / n).read_bytes() for n in before} == before
    assert not (root / ".help" / "backups" / "pending.json").exists()
    assert run_help("install", "--json", cwd=root).returncode == 0  # and the project still installs


def test_unreachable_index_retries_then_fails_clearly(synced: Path) -> None:
    root = synced
    original = (root / "requirements.txt").read_bytes()
    started = time.monotonic()
    result = run_help(
        "install", "delta", cwd=root, env={"PIP_INDEX_URL": closed_port_url(), "HELP_INSTALL__RETRIES": "3"}
    )
    assert result.returncode == 1
    assert result.stderr.count("retrying in") == 2
    assert "could not reach the package index after 3 attempts" in result.stderr
    assert time.monotonic() - started > 1.0  # it did back off between attempts
    assert (root / "requirements.txt").read_bytes() == original
    assert "delta" not in venv_versions(root)


def test_malformed_environment_yml_is_a_clear_error(tmp_path: Path) -> None:
    text = "name: demo\ndependencies:\n\t- numpy\n"
    write(tmp_path / "proj" / "environment.yml", text)
    (tmp_path / "proj" / ".git").mkdir()
    result = run_help("install", "scipy", cwd=tmp_path / "proj")
    assert result.returncode == 1
    assert "environment.yml:3: a tab in the indentation" in result.stderr
    assert (tmp_path / "proj" / "environment.yml").read_text() == text


def test_a_hanging_tool_is_stopped_at_the_timeout(synced: Path, stall: Index) -> None:
    root = synced
    original = (root / "requirements.txt").read_bytes()
    result = run_help("install", "slowpkg", cwd=root, env={"HELP_INSTALL__TIMEOUT": "3"})
    assert result.returncode == 1
    assert "did not finish within 3s and was stopped" in result.stderr
    assert "installing slowpkg" in result.stderr  # progress was shown while it hung
    assert (root / "requirements.txt").read_bytes() == original
