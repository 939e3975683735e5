"""compose on a real docker daemon (`compose.engine = docker`): every command path once.

docker differs from podman where help.py must follow it: the daemon runs the healthchecks
(its health state is what ps, depends_on and the monitor read), events come in docker's
shape, `ps` rows are completed by `inspect`, several networks are joined by `network connect`.
The base image is `docker import` of the same busybox rootfs the podman tests use.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.compose.test_podman import INTERVAL, LABEL, LOOP, Proj, clean_up, compose, free_port, rootfs_tar
from tests.conftest import IN_CI, need_tool


@pytest.fixture(scope="session")
def docker_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    docker = need_tool("docker", "sudo apt-get install docker.io")
    info = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0 or not info.stdout.strip():
        message = f"no docker daemon answers: {(info.stderr.strip().splitlines() or ['?'])[-1]}"
        if IN_CI:
            pytest.fail(message + " (.ci/setup.d/compose.sh starts dockerd)")
        pytest.skip(message + "; start one: sudo dockerd --storage-driver=vfs --iptables=false &")
    tag = f"help-compose-test:{uuid.uuid4().hex[:8]}"
    tar_path = rootfs_tar(tmp_path_factory.mktemp("docker-rootfs"))
    subprocess.run([docker, "import", str(tar_path), tag], check=True, capture_output=True)
    yield tag
    subprocess.run([docker, "rmi", "-f", tag], capture_output=True)


@pytest.fixture
def dproj(tmp_path: Path, docker_image: str) -> Iterator[Proj]:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    project = Proj(tmp_path, f"d{uuid.uuid4().hex[:8]}", engine="docker")
    project.image = docker_image
    yield project
    clean_up(project)


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


def until(test: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, f"not within {timeout}s"
        time.sleep(0.1)


def http_get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        received = b""
        while chunk := conn.recv(4096):  # HTTP/1.0: the server closes after the body, which may come apart
            received += chunk
        return received


def test_docker_up_ps_exec_logs_config_restart_down(dproj: Proj) -> None:
    port = free_port()
    secret = dproj.root / "pw.txt"
    secret.write_text("hunter2-very-secret\n")
    os.chmod(secret, 0o600)
    (dproj.root / ".env").write_text("DB_PASSWORD=from-dotenv-secret\n")
    compose(dproj, f"""
  server:
    image: IMAGE
    command: [sh, -c, 'echo hello-from-server > /tmp/index.html; touch /tmp/ok; httpd -f -p 80 -h /tmp']
    init: true
    networks: [default, back]
    volumes: ["data:/data"]
    ports: ["127.0.0.1:{port}:80"]
    healthcheck:
      test: [CMD, test, -f, /tmp/ok]
      interval: 300ms
      retries: 2
  client:
    image: IMAGE
    command: [sh, -c, 'until wget -qO- http://server/index.html; do sleep 0.2; done; cat /run/secrets/pw; sleep 1000']
    init: true
    networks: [back]
    environment:
      DB_PASSWORD: ${{DB_PASSWORD}}
      GREETING: ${{GREETING:-hello}}
    secrets: [pw]
    depends_on:
      server: {{condition: service_healthy}}
networks:
  back: {{}}
volumes:
  data: {{}}
secrets:
  pw:
    file: pw.txt
""")  # fmt: skip
    up = dproj.help("compose", "up")
    assert up.returncode == 0, up.stderr
    assert up.stdout.index("server: create") < up.stdout.index("client: create")
    # docker's daemon runs the healthcheck: it is in the container's definition, and it said healthy before
    # the dependent started
    test = json.loads(docker("inspect", "--format", "{{json .Config.Healthcheck.Test}}", f"{dproj.name}-server").stdout)
    assert test == ["CMD-SHELL", "test -f /tmp/ok"]
    health_status = docker("inspect", "--format", "{{.State.Health.Status}}", f"{dproj.name}-server")
    assert health_status.stdout.strip() == "healthy"
    assert b"hello-from-server" in http_get(port, "/index.html")
    # the client reaches the server by name on `back`, the second network, joined by `network connect`
    networks = docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", f"{dproj.name}-server")
    assert sorted(json.loads(networks.stdout)) == [f"{dproj.name}_back", f"{dproj.name}_default"]
    until(lambda: all(word in dproj.help("compose", "logs", "client").stdout for word in ("hello-from", "hunter2")))
    rows = {r["service"]: r for r in json.loads(dproj.help("--json", "compose", "ps").stdout)}
    assert rows["server"]["state"] == "running" and rows["server"]["health"] == "healthy"
    assert rows["server"]["ports"] == [f"127.0.0.1:{port}:80/tcp"]
    assert 0 <= rows["server"]["uptime"] < 60 and rows["client"]["health"] == "none"
    table = dproj.help("compose", "ps").stdout
    assert "server" in table and "healthy" in table
    ran = dproj.help("compose", "exec", "client", "--", "sh", "-c", "echo $GREETING $DB_PASSWORD")
    assert ran.returncode == 0 and "hello from-dotenv-secret" in ran.stdout
    shown = dproj.help("compose", "config")
    assert shown.returncode == 0 and "****" in shown.stdout
    assert "from-dotenv-secret" not in shown.stdout and "hunter2" not in shown.stdout
    before = docker("inspect", "--format", "{{.State.StartedAt}}", f"{dproj.name}-client").stdout
    assert dproj.help("compose", "restart", "client").returncode == 0 and dproj.state("client") == "running"
    assert docker("inspect", "--format", "{{.State.StartedAt}}", f"{dproj.name}-client").stdout != before
    again = dproj.help("compose", "up")
    assert "server: keep" in again.stdout and "client: keep" in again.stdout
    down = dproj.help("compose", "down", "--volumes")
    assert down.returncode == 0 and "server" in down.stdout, down.stderr
    assert dproj.state("server") == "" and dproj.state("client") == ""
    for kind in ("network", "volume"):
        assert docker(kind, "ls", "-q", "--filter", f"label={LABEL}={dproj.name}").stdout.split() == []


def test_docker_monitor_restarts_on_kill_and_docker_health_breaker_and_events(dproj: Proj) -> None:
    compose(dproj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n" + LOOP.replace("500ms", "300ms") + """
  crash:
    image: IMAGE
    command: [sh, -c, 'sleep 0.2; exit 3']
""")  # fmt: skip
    assert dproj.help("compose", "up").returncode == 0
    foreign = f"other-{dproj.name}"  # another project's container: none of its events may be logged
    docker("run", "-d", "--name", foreign, "--label", f"{LABEL}=someone-else", dproj.image, "sleep", "1000")
    try:
        env = {
            "HELP_COMPOSE__BREAKER_THRESHOLD": "2",
            "HELP_COMPOSE__BREAKER_WINDOW": "4",
            "HELP_COMPOSE__CPU_WARN": "-1",
        }
        first = dproj.watch("app", "worker", **env)
        killed = time.time()
        assert docker("kill", f"{dproj.name}-app").returncode == 0
        docker("kill", foreign)
        restart = dproj.wait_for(lambda e: e["kind"] == "restart" and e["service"] == "app", 10)
        assert restart["began"] - killed <= 2 * INTERVAL and restart["reason"] == "exited (code 137)"
        died = dproj.wait_for(lambda e: e["kind"] == "engine" and e.get("status") == "die" and e["service"] == "app")
        assert died["exit_code"] == 137 and died["container"] == f"{dproj.name}-app"
        dproj.wait_for(lambda e: e["kind"] == "resource-warning" and e.get("resource") == "cpu", 15)  # docker stats
        # docker's own health state: the daemon finds the test failing, the monitor restarts on its verdict
        dproj.wait_for(lambda e: e["kind"] == "health" and e["service"] == "worker" and e.get("health") == "healthy")
        for n in (1, 2):
            assert docker("exec", f"{dproj.name}-worker", "rm", "/tmp/ok").returncode == 0
            dproj.wait_for(lambda e, n=n: e["kind"] == "restart" and e["service"] == "worker" and e["restarts"] == n
                           and e["reason"] == "unhealthy", 15)  # fmt: skip
            until(
                lambda: (
                    docker("inspect", "--format", "{{.State.Health.Status}}", f"{dproj.name}-worker").stdout.strip()
                    == "healthy"
                )
            )
        dproj.wait_for(lambda e: e["kind"] == "breaker" and e["service"] == "worker" and e.get("state") == "open")
        dproj.wait_for(lambda e: e["kind"] == "breaker" and e["service"] == "worker" and e.get("state") == "closed", 15)
        states = [e["state"] for e in dproj.events() if e["kind"] == "breaker" and e["service"] == "worker"]
        assert states[-3:] == ["open", "half-open", "closed"]
        assert any(e["kind"] == "engine" and e["status"] == "health_status: unhealthy" for e in dproj.events())
        # the monitor killed; what happens while it is down is found in docker's events from the saved cursor
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        before = len(dproj.events())
        assert docker("stop", "-t", "0", f"{dproj.name}-app").returncode == 0
        time.sleep(0.5)
        dproj.watch("app", "crash", HELP_COMPOSE__BREAKER_THRESHOLD="3", HELP_COMPOSE__BREAKER_WINDOW="60")
        dproj.wait_for(lambda e: e["kind"] == "engine" and e["status"] == "die" and e["service"] == "app"
                       and dproj.events().index(e) >= before)  # fmt: skip
        opened = dproj.wait_for(
            lambda e: e["kind"] == "breaker" and e["service"] == "crash" and e.get("state") == "open", 30
        )
        assert "3 restarts within 60s" in opened["reason"] and "exited (code 3)" in opened["reason"]
        time.sleep(4 * INTERVAL)
        assert len([e for e in dproj.events() if e["kind"] == "restart" and e["service"] == "crash"]) == 3
        assert dproj.state("crash") == "exited" and dproj.state("app") == "running"
        logged = json.loads(dproj.help("--json", "compose", "events").stdout)
        assert {e["service"] for e in logged if e["kind"] == "engine"} <= {"app", "worker", "crash"}
        assert not [e for e in logged if e["kind"] == "engine" and str(e.get("status", "")).startswith("exec")]
        ps = {r["service"]: r for r in json.loads(dproj.help("--json", "compose", "ps").stdout)}
        assert ps["crash"]["breaker"] == "open" and ps["worker"]["restarts"] == 2 and ps["app"]["restarts"] >= 2
    finally:
        docker("rm", "-f", foreign)


def test_docker_build_up_wait_on_docker_health_and_entrypoint(dproj: Proj) -> None:
    tag = f"help-compose-built:{dproj.name}"
    (dproj.root / "img").mkdir()
    (dproj.root / "img" / "Dockerfile").write_text(f"FROM {dproj.image}\nRUN echo built-here > /built\n")
    compose(dproj, f"""
  app:
    image: {tag}
    build: {{context: img}}
    init: true
    entrypoint: [sh, -c]
    command: ['touch /tmp/ok; while true; do sleep 1; done']
    healthcheck:
      test: [CMD-SHELL, 'test -f /tmp/ok && test -f /built']
      interval: 300ms
      retries: 2
""")  # fmt: skip
    try:
        assert dproj.help("compose", "build").returncode == 0
        up = dproj.help("compose", "up", "--wait", "--timeout", "30")
        assert up.returncode == 0, up.stderr
        ps = json.loads(dproj.help("--json", "compose", "ps").stdout)  # healthy as soon as --wait returned
        assert [(r["state"], r["health"]) for r in ps] == [("running", "healthy")]
        ran = dproj.help("compose", "exec", "app", "--", "cat", "/built")
        assert ran.returncode == 0 and "built-here" in ran.stdout
        # docker's --entrypoint is one executable: the rest of the entrypoint leads the command
        entry, cmd = (json.loads(docker("inspect", "--format", f"{{{{json .Config.{key}}}}}", f"{dproj.name}-app").stdout)
                      for key in ("Entrypoint", "Cmd"))  # fmt: skip
        assert entry == ["sh"] and cmd == ["-c", "touch /tmp/ok; while true; do sleep 1; done"]
    finally:
        clean_up(dproj)
        docker("rmi", "-f", tag)


def test_docker_bad_input_engine_down_port_in_use_and_kube(dproj: Proj) -> None:
    compose(dproj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    down = dproj.help("compose", "up", DOCKER_HOST=f"unix://{dproj.root}/no-engine.sock")
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert "docker engine is not running or not reachable" in down.stderr and "nothing was started" in down.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        compose(dproj, f"  app:\n    image: IMAGE\n    command: [sleep, '1000']\n    ports: ['127.0.0.1:{port}:80']\n")
        result = dproj.help("compose", "up")
        assert result.returncode == 1 and f"port {port} is already in use" in result.stderr
        assert dproj.state("app") == ""
    compose(dproj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    assert dproj.help("compose", "up").returncode == 0
    kube = dproj.help("compose", "kube")
    assert kube.returncode == 1 and "the engine is docker" in kube.stderr and "nothing was written" in kube.stderr
    assert not list(dproj.root.glob("*kube.yaml"))
