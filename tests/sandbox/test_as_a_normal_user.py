"""The policy holds for a normal user too, with every backend: the caller itself is dropped to an
unprivileged user with setpriv (needs root). `helpsbx` (.ci/setup.d/sandbox.sh) has a login shell and
subuid/subgid ranges; `nobody` has neither, and firejail and podman then refuse with one clear line."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, ROOT
from tests.sandbox.conftest import PACKAGES, need_tool

USER = "helpsbx"
CALLER = """
import json, sys
from plugins.sandbox import api
script = '''
import os
out = {"uid": os.getuid(), "forks": 0}
for path in ("/etc/shadow", sys_canary):
    try:
        out[path] = open(path).read()
    except OSError as exc:
        out[path] = "denied"
for i in range(64):
    try:
        if os.fork() == 0:
            import time; time.sleep(2); os._exit(0)
        out["forks"] += 1
    except OSError:
        break
print(__import__("json").dumps(out))
'''.replace("sys_canary", repr(sys.argv[2]))
policy = api.Policy(workdir=sys.argv[1], procs=24, timeout=120)
result = api.run(["/usr/bin/python3", "-c", script], policy, backend=sys.argv[3])
print(result.stdout, end="")
sys.stderr.write(result.stderr)
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")


def _user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        message = f"no user {USER}: run .ci/setup.d/sandbox.sh (as root) to make it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def _own_dir(prefix: str, uid: int, gid: int, mode: int = 0o700) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chown(path, uid, gid)
    path.chmod(mode)
    return path


def _as(uid: int, gid: int, argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def code() -> Iterator[Path]:
    """A copy of the code the dropped caller can read: the checkout may sit in a 0700 temp dir."""
    folder = Path(tempfile.mkdtemp(prefix="help-sandbox-code-"))
    folder.chmod(0o755)
    for package in ("helper", "plugins"):
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "help.py", folder / "help.py")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def canary() -> Iterator[tuple[Path, str]]:
    token = secrets.token_hex(8)
    elsewhere = Path(tempfile.mkdtemp(prefix="help-sandbox-elsewhere-"))
    elsewhere.chmod(0o755)
    path = elsewhere / "readable-by-the-caller"
    path.write_text(token)
    path.chmod(0o644)  # the caller may read it; the sandbox was not given it
    yield path, token
    shutil.rmtree(elsewhere, ignore_errors=True)


@pytest.mark.parametrize("backend", ["bwrap", "firejail", "podman"])
def test_policy_holds_for_an_unprivileged_caller(backend: str, canary: tuple[Path, str], code: Path) -> None:
    need_tool(backend, PACKAGES[backend])
    need_tool("setpriv", "apt-get install util-linux")
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3 an unprivileged user can run")
    user = _user()
    uid, gid = user.pw_uid, user.pw_gid
    home, runtime, work = (_own_dir(p, uid, gid) for p in ("help-sbx-home-", "help-sbx-run-", "help-sbx-work-"))
    path, token = canary
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "PYTHONPATH": str(code)}
    try:
        result = _as(uid, gid, ["/usr/bin/python3", "-c", CALLER, str(work), str(path), backend], env, work)
        assert result.returncode == 0 and result.stdout, result.stderr
        seen = json.loads(result.stdout)
        assert seen["uid"] != 0 and seen["uid"] in (65534, uid)
        assert seen["/etc/shadow"] in ("denied", "")
        assert token not in result.stdout and seen[str(path)] == "denied"
        assert seen["forks"] < 24  # the process limit holds for a non-root uid
        check = _as(uid, gid, ["cat", str(path)], env, work)
        assert check.returncode == 0  # the caller could read it: only the sandbox kept it out
    finally:
        if backend == "podman":  # the user's rootless storage lives in its temporary home
            _as(uid, gid, ["podman", "system", "reset", "--force"], env, work)
        for folder in (home, runtime, work):
            shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("backend", "line"),
    [
        ("firejail", "error: firejail cannot sandbox this user: firejail never sandboxes the user nobody"),
        ("podman", "error: rootless podman cannot sandbox user nobody: no range in /etc/subuid and /etc/subgid"),
    ],
)
def test_a_backend_that_cannot_sandbox_the_user_refuses_with_one_line(backend: str, line: str, code: Path) -> None:
    need_tool(backend, PACKAGES[backend])
    need_tool("setpriv", "apt-get install util-linux")
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3 an unprivileged user can run")
    work = _own_dir("help-sbx-nobody-", 65534, 65534)
    marker = work / "ran"
    try:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work)}
        argv = [
            "/usr/bin/python3",
            str(code / "help.py"),
            "sandbox",
            "run",
            "--backend",
            backend,
            "--",
            "touch",
            str(marker),
        ]
        result = _as(65534, 65534, argv, env, work)
        assert result.returncode == 1 and not marker.exists(), result
        lines = result.stderr.strip().splitlines()
        assert lines[0] == line and lines[1].startswith("hint: use --backend bwrap"), result.stderr
        assert len(lines) == 2
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_as(uid: int, gid: int, code: Path, work: Path, home: Path) -> dict[str, Any]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    result = _as(uid, gid, ["/usr/bin/python3", str(code / "help.py"), "--json", "sandbox", "check"], env, work)
    assert result.returncode in (0, 1) and result.stdout, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_check_names_the_backends_that_refuse_this_user_and_the_double_sandbox(code: Path) -> None:
    for tool in ("bwrap", "firejail", "podman"):
        need_tool(tool, PACKAGES[tool])
    need_tool("setpriv", "apt-get install util-linux")
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3 an unprivileged user can run")
    work = _own_dir("help-sbx-check-", 65534, 65534)
    try:
        data = _check_as(65534, 65534, code, work, work)
        rows = {row["backend"]: row for row in data["backends"]}
        assert data["user"] == {"name": "nobody", "uid": 65534, "root": False}
        assert list(rows) == ["bwrap", "firejail", "podman", "podman+bwrap"]
        assert rows["bwrap"]["works"] and rows["bwrap"]["refused"] is None
        assert "never sandboxes the user nobody" in rows["firejail"]["refused"]["reason"]
        for name in ("podman", "podman+bwrap"):
            assert "no range in /etc/subuid and /etc/subgid" in rows[name]["refused"]["reason"], rows[name]
            assert rows[name]["refused"]["hint"].startswith("use --backend bwrap") and not rows[name]["works"]
        assert data["default"] == "bwrap"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # a user both allow (a login shell, subuid ranges): nothing refused, each probed for real
    user = _user()
    home, work = (_own_dir(p, user.pw_uid, user.pw_gid) for p in ("help-sbx-home-", "help-sbx-work-"))
    try:
        data = _check_as(user.pw_uid, user.pw_gid, code, work, home)
        rows = {row["backend"]: row for row in data["backends"]}
        assert all(row["refused"] is None for row in rows.values()), rows
        assert rows["firejail"]["works"], rows["firejail"]
    finally:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
        _as(user.pw_uid, user.pw_gid, ["podman", "system", "reset", "--force"], env, work)
        for folder in (home, work):
            shutil.rmtree(folder, ignore_errors=True)


def test_check_as_root_probes_the_double_sandbox() -> None:
    for tool in ("bwrap", "podman"):
        need_tool(tool, PACKAGES[tool])
    result = subprocess.run(
        [sys.executable, str(ROOT / "help.py"), "--json", "sandbox", "check", "--double"],
        capture_output=True, text=True, timeout=240, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    data = json.loads(result.stdout)
    assert [row["backend"] for row in data["backends"]] == ["podman+bwrap"]
    row = data["backends"][0]
    assert row["works"], row
    assert {"uid 65534 (unprivileged)", "seccomp filter", "no network"} <= set(row["enforced"])
    assert data["user"]["root"] is True and row["refused"] is None
