"""The escape suite: every attempt runs inside the sandbox, every verdict is taken on the host.

One sandboxed run of attempts.py per backend leaves its evidence in the
writable directory; the host compares it with the canaries only the host
knows (a random secret in /root, a variable in the parent's environment, the
host's /etc/shadow, listeners that count connections, a victim process that
notes signals). The resource attempts run one per sandbox with small limits.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.sandbox.conftest import BACKENDS, DOUBLE, HERE, PACKAGES, PYTHON, Escape, need_tool, sandbox_api

AS_ROOT = os.geteuid() == 0


def shadow_lines() -> list[bytes]:
    return [line for line in Path("/etc/shadow").read_bytes().splitlines() if line.strip()]


def test_the_sandboxed_run_itself_worked(escape: Escape) -> None:
    assert escape.result.exit_code == 0, escape.result.stderr
    assert escape.evidence("euid"), "the attempts did not run: nothing to judge"


def test_ssh_key_unreadable(escape: Escape) -> None:
    data = escape.evidence("ssh_key")
    assert escape.token.encode() not in data
    key = Path("/root/.ssh/id_rsa")
    assert not key.exists() or key.read_bytes()[:64] not in data


def test_root_canary_unreadable(escape: Escape) -> None:
    assert escape.token.encode() not in escape.evidence("root_canary")


def test_host_shared_memory_unreadable(escape: Escape) -> None:
    assert escape.token.encode() not in escape.evidence("host_shm")


def test_home_directories_hidden(escape: Escape) -> None:
    listed = escape.evidence("home_dirs").decode()
    assert escape.canary.name not in listed and ".bashrc" not in listed


def test_shadow_unreadable(escape: Escape) -> None:
    data = escape.evidence("shadow")
    assert not any(line in data for line in shadow_lines())


def test_shadow_unreadable_through_a_symlink_in_tmp(escape: Escape) -> None:
    data = escape.evidence("shadow_symlink")
    assert not any(line in data for line in shadow_lines())


def test_canary_unreadable_through_a_symlink_in_the_workdir(escape: Escape) -> None:
    assert escape.token.encode() not in escape.evidence("canary_symlink")


def test_proc_root_does_not_lead_out(escape: Escape) -> None:
    data = escape.evidence("proc_root")
    assert escape.token.encode() not in data
    assert not any(line in data for line in shadow_lines())


def test_host_process_environments_unreadable(escape: Escape) -> None:
    data = escape.evidence("host_environ")
    assert escape.token.encode() not in data
    own = set(json.loads(escape.evidence("environment") or b"{}").items())
    entries = [e for e in escape.host_environ.split(b"\0") if e and tuple(e.decode().split("=", 1)) not in own]
    assert [e for e in entries if e in data] == []


def test_environment_scrubbed(escape: Escape) -> None:
    data = escape.evidence("environment")
    assert escape.token.encode() not in data and data


def test_no_write_outside_the_given_paths(escape: Escape) -> None:
    assert [p for p in escape.outside if p.exists()] == []


def test_project_stays_read_only(escape: Escape) -> None:
    assert sorted(p.name for p in escape.project.iterdir()) == ["main.py"]


def test_loopback_tcp_unreachable(escape: Escape) -> None:
    assert escape.tcp.connections == 0


def test_abstract_unix_socket_unreachable(escape: Escape) -> None:
    assert escape.abstract.connections == 0


def test_engine_socket_unreachable(escape: Escape) -> None:
    assert escape.engine.connections == 0


def test_host_process_cannot_be_signalled(escape: Escape) -> None:
    assert escape.victim.poll() is None and not escape.victim_marker.exists()


def test_host_process_cannot_be_ptraced(escape: Escape) -> None:
    status = Path(f"/proc/{escape.victim.pid}/status").read_text()
    assert "TracerPid:\t0" in status and not escape.victim_marker.exists()


def _caps(status: bytes) -> dict[str, int]:
    fields = dict(line.split(b":", 1) for line in status.splitlines() if line.startswith(b"Cap"))
    return {k.decode(): int(v.strip(), 16) for k, v in fields.items()}


def test_setuid_binary_gains_nothing(escape: Escape) -> None:
    # the setuid-root grep ran `grep Cap /proc/self/status`: what it printed is its own capabilities
    caps = _caps(escape.evidence("setuid_binary"))
    assert caps and caps["CapEff"] == 0 and caps["CapPrm"] == 0


def test_mount_denied(escape: Escape) -> None:
    assert escape.evidence("mount_syscall") == b""


def test_no_capabilities(escape: Escape) -> None:
    caps = _caps(escape.evidence("capabilities"))
    assert (caps["CapEff"] == 0 and caps["CapPrm"] == 0 and caps["CapBnd"] == 0) or caps["CapEff"] == 0
    assert b"NoNewPrivs:\t1" in escape.evidence("capabilities")


def test_no_new_user_namespace(escape: Escape) -> None:
    assert escape.evidence("new_user_namespace") == b""


def test_unprivileged_uid_inside(escape: Escape, request: pytest.FixtureRequest) -> None:
    if escape.backend == "firejail" and AS_ROOT:  # a known gap, checked to stay as documented
        reason = "firejail started by root keeps uid 0 (without capabilities): use bwrap or podman"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    assert escape.evidence("euid") == b"65534 65534" or (not AS_ROOT and escape.evidence("euid")[:1] != b"0")


# -- resources: one sandbox per attempt, small limits ------------------------------------------------


def _limited(tmp_path: Path, backend: str, name: str, **limits: object) -> tuple[object, Path]:
    if backend != "none":
        need_tool(backend, PACKAGES[backend])
    sandbox = sandbox_api()
    out = tmp_path / "out"
    out.mkdir()
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy(HERE / "limits_attempts.py", tools / "limits_attempts.py")
    policy = sandbox.Policy(workdir=out, readonly=[tools], **limits)
    result = sandbox.run([PYTHON, str(tools / "limits_attempts.py"), name, str(out)], policy, backend=backend)
    return result, out


@pytest.mark.parametrize("backend", BACKENDS)
def test_fork_bomb_bounded(tmp_path: Path, backend: str) -> None:
    result, out = _limited(tmp_path, backend, "fork_bomb", procs=32, timeout=30)
    forks = len(list((out / "forks").iterdir()))
    assert forks < 32, forks
    assert result.limit_hit in ("procs", None)  # the bomb stops by itself when fork fails


@pytest.mark.parametrize("backend", BACKENDS)
def test_memory_bomb_bounded(tmp_path: Path, backend: str) -> None:
    result, out = _limited(tmp_path, backend, "memory_bomb", mem=192 * 1024 * 1024, timeout=30)
    reached = int((out / "memory").read_text() or 0) if (out / "memory").exists() else 0
    assert reached <= 192, reached
    assert result.limit_hit == "memory" and result.exit_code != 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_memory_of_the_whole_tree_bounded(tmp_path: Path, backend: str) -> None:
    from plugins.sandbox import limits

    if backend in ("bwrap", "firejail", "none") and not (AS_ROOT and os.path.exists(limits.MEMORY_ROOT)):
        pytest.skip("without a memory cgroup only RLIMIT_AS (per process) bounds memory")
    result, out = _limited(tmp_path, backend, "memory_tree", mem=160 * 1024 * 1024, timeout=30)
    held = [tuple(map(float, p.read_text().split()[:2])) for p in out.glob("tree-*")]
    # The most 96 MiB blocks proven held at one moment (every survivor held its block from `reached` to `released`)
    overlap = max((sum(1 for a, b in held if a <= t <= b) for t, _ in held), default=0)
    assert overlap * 96 <= 160, held
    if backend != "podman":  # the engine's cgroup is gone with the container: a child's OOM kill goes unreported
        assert result.limit_hit == "memory"


@pytest.mark.parametrize("backend", BACKENDS)
def test_disk_fill_bounded(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "firejail":  # a known gap, checked to stay as documented
        reason = "firejail cannot size its private /tmp: only RLIMIT_FSIZE caps a single file"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    result, out = _limited(tmp_path, backend, "disk_fill", disk=16 * 1024 * 1024, timeout=30)
    written = int((out / "disk").read_text()) if (out / "disk").exists() else 0
    assert written <= 16, written
    assert result.limit_hit == "disk"


@pytest.mark.parametrize("backend", BACKENDS)
def test_dev_and_dev_shm_fill_bounded(tmp_path: Path, backend: str) -> None:
    _, out = _limited(tmp_path, backend, "dev_fill", disk=16 * 1024 * 1024, timeout=30)
    for name in ("dev-dev-shm", "dev-dev"):
        written = int((out / name).read_text()) if (out / name).exists() else 0
        assert written <= 16, (name, written)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cpu_burn_stopped(tmp_path: Path, backend: str) -> None:
    started = time.monotonic()
    result, _ = _limited(tmp_path, backend, "cpu_burn", cpu=1, timeout=60)
    assert time.monotonic() - started < 25  # the burn itself lasts 25 s: the 1 s CPU limit stopped it (loaded host)
    assert result.limit_hit == "cpu" and result.signal is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_timeout_kills_the_whole_tree(tmp_path: Path, backend: str) -> None:
    started = time.monotonic()
    result, out = _limited(tmp_path, backend, "outlive", timeout=1.5)
    assert time.monotonic() - started < 14  # the command alone sleeps 15 s
    assert result.limit_hit == "timeout"
    beat = out / "heartbeat"
    before = beat.stat().st_size if beat.exists() else 0
    time.sleep(0.6)
    assert (beat.stat().st_size if beat.exists() else 0) == before


@pytest.mark.parametrize("escape", [DOUBLE], indirect=True)
def test_double_sandbox_stacks_two_layers(escape: Escape) -> None:
    """podman+bwrap: the container's seccomp profile and bwrap's filter both apply to the command."""
    assert escape.result.backend == DOUBLE
    status = escape.evidence("capabilities")
    assert b"Seccomp_filters:\t2" in status or b"Seccomp:\t2" in status, status
    assert escape.evidence("euid") == b"65534 65534" or not AS_ROOT
