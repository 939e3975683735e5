"""Host-side canaries for the escape suite: secrets, listeners, a victim process, one sandboxed run per backend."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_tool

HERE = Path(__file__).resolve().parent
# HELP_ESCAPE_BACKENDS=none runs the attempts WITHOUT a sandbox: every escape test should then fail.
BACKENDS = tuple(os.environ.get("HELP_ESCAPE_BACKENDS", "bwrap,firejail,podman").split(","))
DOUBLE = "podman+bwrap"  # the two-layer sandbox: the escape attempts run under it too (the limits are podman's)
ESCAPE_BACKENDS = (*BACKENDS, DOUBLE) if "HELP_ESCAPE_BACKENDS" not in os.environ else BACKENDS
PACKAGES = {
    "bwrap": "apt-get install bubblewrap",
    "firejail": "apt-get install firejail",
    "podman": "apt-get install podman",
}
PYTHON = (
    "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else os.path.realpath(sys.base_prefix + "/bin/python3")
)

VICTIM = """
import pathlib, signal, sys, time
marker = pathlib.Path(sys.argv[1])
for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
    signal.signal(sig, lambda n, f: marker.write_text(f"signalled {n}"))
print("ready", flush=True)
for _ in range(600):
    time.sleep(0.1)
"""


def sandbox_api() -> Any:
    from helper.plugins import api

    return api("sandbox")


class Listener:
    """Counts the connections made to a host socket (TCP on 127.0.0.1 or AF_UNIX, abstract or a path)."""

    def __init__(self, family: int, address: Any) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


@dataclass
class Escape:
    """One backend's run of attempts.py and the host-side canaries to judge it by."""

    backend: str
    out: Path
    project: Path
    token: str
    canary: Path
    outside: list[Path]
    tcp: Listener
    abstract: Listener
    engine: Listener
    victim: subprocess.Popen[str]
    victim_marker: Path
    result: Any = None
    host_environ: bytes = b""
    notes: dict[str, Any] = field(default_factory=dict)

    def evidence(self, name: str) -> bytes:
        path = self.out / name
        return path.read_bytes() if path.exists() else b""


@pytest.fixture(scope="module", params=ESCAPE_BACKENDS)
def escape(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Escape]:
    backend = request.param
    for part in backend.split("+") if backend != "none" else ():
        need_tool(part, PACKAGES[part])
    sandbox = sandbox_api()
    base = tmp_path_factory.mktemp(f"escape-{backend}")
    work, project, tools = base / "work", base / "project", base / "tools"
    for folder in (work, project, tools, work / "out"):
        folder.mkdir()
    (project / "main.py").write_text("print('project')\n")
    shutil.copy(HERE / "attempts.py", tools / "attempts.py")
    suid = tools / "grep"
    shutil.copy("/usr/bin/grep", suid)
    os.chmod(suid, 0o4755)  # a setuid-root binary, given read-only
    token = secrets.token_hex(16)
    canary = Path(f"/root/.help-canary-{token[:8]}")
    canary.write_text(f"secret {token}\n")
    canary.chmod(0o600)
    home = Path(f"/root/.help-canary-home-{token[:8]}")  # the caller's HOME, with a (fake) private key
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{token}\n")
    outside = [Path(f"/root/.help-escape-{token[:8]}"), Path(f"/var/tmp/help-escape-{token[:8]}"), base / "outside"]
    shm_canary = Path(f"/dev/shm/help-canary-{token[:8]}")  # another process's shared memory on the host
    if shm_canary.parent.is_dir():
        shm_canary.write_text(token)
    victim_marker = base / "victim-signalled"
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    os.environ["HELP_ESCAPE_CANARY"] = token  # in the victim's /proc/PID/environ and in the caller's environment
    victim = subprocess.Popen([sys.executable, "-c", VICTIM, str(victim_marker)], stdout=subprocess.PIPE, text=True)
    assert victim.stdout is not None and victim.stdout.readline().strip() == "ready"
    run_dir = Path("/run") if os.access("/run", os.W_OK) else base
    tcp = Listener(socket.AF_INET, ("127.0.0.1", 0))
    abstract_name = f"help-escape-{token[:8]}"
    abstract = Listener(socket.AF_UNIX, "\0" + abstract_name)
    engine_path = run_dir / f"help-escape-{token[:8]}.sock"
    engine = Listener(socket.AF_UNIX, str(engine_path))
    state = Escape(backend, work / "out", project, token, canary, outside, tcp, abstract, engine, victim, victim_marker)
    args = {
        "out": str(work / "out"),
        "canary": str(canary),
        "home": str(home),
        "shm_canary": str(shm_canary),
        "host_pid": os.getpid(),
        "victim": victim.pid,
        "outside": [str(p) for p in outside],
        "project": str(project),
        "tcp_port": tcp.sock.getsockname()[1],
        "abstract": abstract_name,
        "engine_socket": str(engine_path),
        "suid_id": str(suid),
    }
    try:
        policy = sandbox.Policy(workdir=work, readonly=[project, tools], timeout=60)
        state.result = sandbox.run([PYTHON, str(tools / "attempts.py"), json.dumps(args)], policy, backend=backend)
        state.host_environ = Path(f"/proc/{victim.pid}/environ").read_bytes()
        time.sleep(0.2)  # let a delivered signal reach the victim's handler
        yield state
    finally:
        os.environ.pop("HELP_ESCAPE_CANARY", None)
        if old_home is not None:
            os.environ["HOME"] = old_home
        shutil.rmtree(home, ignore_errors=True)
        for listener in (tcp, abstract, engine):
            listener.close()
        engine_path.unlink(missing_ok=True)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        canary.unlink(missing_ok=True)
        shm_canary.unlink(missing_ok=True)
        for path in outside:
            path.unlink(missing_ok=True)
