"""podman's seccomp profile is written once per policy to the user cache and reused; a damaged one is rewritten."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox.conftest import PACKAGES, PYTHON, need_tool, sandbox_api

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import ctypes, os\nc = ctypes.CDLL(None)\npid = os.fork()\nif pid == 0: os._exit(0)\n"
    "os.waitpid(pid, 0)\nprint(c.unshare(0x10000000), c.mount(b'n', b'/tmp', b'tmpfs', 0, None), pid > 0)"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "help" / "sandbox-seccomp"


def _profiles(cache: Path) -> list[Path]:
    return sorted(cache.glob("seccomp-*.json"))


def test_two_runs_reuse_one_file(cache: Path) -> None:
    from plugins.sandbox import backends

    first = backends._seccomp_profile()
    stamp = os.stat(first)
    second = backends._seccomp_profile()
    assert first == second and _profiles(cache) == [Path(first)]
    again = os.stat(second)
    assert (again.st_ino, again.st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns)  # read, not rewritten
    data = json.loads(Path(first).read_text())
    assert data["syscalls"][-1]["action"] == "SCMP_ACT_ERRNO" and "unshare" in data["syscalls"][-1]["names"]


def test_a_different_policy_makes_another_file(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plugins.sandbox import backends, seccomp

    inner, outer = backends._seccomp_profile(), backends._seccomp_profile(outer=True)
    assert inner != outer and len(_profiles(cache)) == 2
    assert "unshare" not in json.loads(Path(outer).read_text())["syscalls"][0]["names"]  # bwrap needs it outside
    monkeypatch.setattr(backends, "ENGINE_PROFILE", str(tmp_path / "missing.json"))
    fallback = backends._seccomp_profile()
    assert json.loads(Path(fallback).read_text())["defaultAction"] == "SCMP_ACT_ALLOW"
    monkeypatch.setattr(seccomp, "DENIED", {**seccomp.DENIED, "acct": 163})
    more = backends._seccomp_profile()
    assert "acct" in json.loads(Path(more).read_text())["syscalls"][0]["names"]
    assert len({inner, outer, fallback, more}) == 4 and len(_profiles(cache)) == 4


def test_a_changed_engine_profile_makes_another_file(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plugins.sandbox import backends

    engine = tmp_path / "engine.json"
    engine.write_text(
        json.dumps(
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "mount"], "action": "SCMP_ACT_ALLOW"}]}
        )
    )
    monkeypatch.setattr(backends, "ENGINE_PROFILE", str(engine))
    before = backends._seccomp_profile()
    assert json.loads(Path(before).read_text())["syscalls"][0]["names"] == ["read"]  # mount is denied
    engine.write_text(
        json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]})
    )
    after = backends._seccomp_profile()
    assert after != before and json.loads(Path(after).read_text())["syscalls"][0]["names"] == ["write"]


@pytest.mark.parametrize("damage", ["removed", "truncated", "edited", "other key"])
def test_a_damaged_file_is_rewritten(cache: Path, damage: str) -> None:
    from plugins.sandbox import backends

    path = Path(backends._seccomp_profile())
    good = path.read_bytes()
    if damage == "removed":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "edited":  # the same length, one denied syscall allowed again
        path.write_bytes(good.replace(b'"unshare"', b'"unshar_"'))
    else:
        path.write_bytes(good.replace(b'"helpKey":"1:', b'"helpKey":"0:'))
    assert damage == "removed" or path.read_bytes() != good
    assert backends._seccomp_profile() == str(path) and path.read_bytes() == good


def test_reusing_the_profile_imports_neither_json_nor_tempfile(cache: Path) -> None:
    from plugins.sandbox import backends

    backends._seccomp_profile()
    code = (
        "import sys\nfrom plugins.sandbox import backends\nbackends._seccomp_profile()\n"
        "print(sorted(m for m in ('json', 'tempfile', 'helper.fsutil') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]"]


def test_the_double_sandboxs_bpf_file_is_reused_and_rewritten_when_damaged(cache: Path, tmp_path: Path) -> None:
    need_tool("podman", PACKAGES["podman"])
    need_tool("bwrap", PACKAGES["bwrap"])
    from plugins.sandbox import backends, seccomp
    from plugins.sandbox.policy import Policy

    def mounted() -> Path:
        launch = backends.build(backends.DOUBLE, Policy(workdir=tmp_path), ["true"])
        assert launch.temp_files == []
        volume = next(a for a in launch.argv if a.endswith(f":{backends.SECCOMP_INSIDE}:ro"))
        return Path(volume.split(":")[0])

    first = mounted()
    stamp = first.stat()
    assert mounted() == first and first.stat().st_mtime_ns == stamp.st_mtime_ns
    assert first.read_bytes() == seccomp.program()
    first.write_bytes(b"\0" * len(seccomp.program()))
    assert mounted() == first and first.read_bytes() == seccomp.program()


def test_a_damaged_cached_profile_still_denies_in_podman(cache: Path, tmp_path: Path) -> None:
    need_tool("podman", PACKAGES["podman"])
    from plugins.sandbox import backends

    path = Path(backends._seccomp_profile())
    path.write_bytes(b'{"defaultAction":"SCMP_ACT_ALLOW"}')  # an allow-all profile in its place: not trusted
    sandbox = sandbox_api()
    for _ in range(2):  # rewritten, then reused
        result = sandbox.run([PYTHON, "-c", PROBE], sandbox.Policy(workdir=tmp_path), backend="podman")
        assert result.stdout.split() == ["-1", "-1", "True"], result.stderr
    assert _profiles(cache) == [path]
