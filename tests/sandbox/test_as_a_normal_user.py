"""The policy holds for a normal user too: the caller itself is dropped to uid 65534 with setpriv (needs root)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sandbox.conftest import PACKAGES, need_tool

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
result = api.run(["/usr/bin/python3", "-c", script], api.Policy(workdir=sys.argv[1], procs=24), backend="bwrap")
print(result.stdout, end="")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")
def test_bwrap_policy_holds_for_an_unprivileged_caller() -> None:
    need_tool("bwrap", PACKAGES["bwrap"])
    need_tool("setpriv", "apt-get install util-linux")
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3 an unprivileged user can run")
    work = Path(tempfile.mkdtemp(prefix="help-sandbox-user-"))
    work.chmod(0o777)
    token = secrets.token_hex(8)
    elsewhere = Path(tempfile.mkdtemp(prefix="help-sandbox-elsewhere-"))
    elsewhere.chmod(0o755)
    canary = elsewhere / "readable-by-the-caller"
    canary.write_text(token)
    canary.chmod(0o644)  # the caller may read it; the sandbox was not given it
    # the checkout may sit where uid 65534 cannot read (a 0700 temp dir): give the caller its own copy of the code
    code = Path(tempfile.mkdtemp(prefix="help-sandbox-code-"))
    code.chmod(0o755)
    for package in ("helper", "plugins"):
        shutil.copytree(ROOT / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    try:
        result = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/python3",
                "-c",
                CALLER,
                str(work),
                str(canary),
            ],
            env={"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(code)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        seen = json.loads(result.stdout)
        assert seen["uid"] == 65534
        assert seen["/etc/shadow"] in ("denied", "") and token not in result.stdout
        assert seen["forks"] < 24  # RLIMIT_NPROC holds for a non-root uid
        check = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", str(canary)], capture_output=True
        )
        assert check.returncode == 0  # the caller could read it: only the sandbox kept it out
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(elsewhere, ignore_errors=True)
        shutil.rmtree(code, ignore_errors=True)
