"""compose on real podman: up/ps/down, bad input, and the monitor under chaos (kills, crash loops,
failing healthchecks, a killed monitor). Images come from `podman import` of a busybox rootfs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HELP, age, clean_env, need_tool, run_help, write

INTERVAL = 0.5
LABEL = "help.compose.project"


def rootfs_tar(folder: Path) -> Path:
    """A busybox-static root file system as a tarball, for `podman import` / `docker import`."""
    busybox = Path(need_tool("busybox", "sudo apt-get install busybox-static")).resolve()
    tar_path = folder / "rootfs.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name in ("bin", "tmp", "www"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, "bin/busybox")
        for tool in ("sh", "httpd", "sleep", "touch", "rm", "test", "cat", "echo", "true", "ls", "wget", "nslookup"):
            link = tarfile.TarInfo(f"bin/{tool}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return tar_path


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    podman = need_tool("podman", "sudo apt-get install podman")
    tar_path = rootfs_tar(tmp_path_factory.mktemp("rootfs"))
    tag = f"localhost/help-compose-test:{uuid.uuid4().hex[:8]}"
    subprocess.run([podman, "import", str(tar_path), tag], check=True, capture_output=True)
    yield tag
    subprocess.run([podman, "rmi", "-f", tag], capture_output=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proj:
    def __init__(self, root: Path, name: str, engine: str = "podman") -> None:
        self.root = root
        self.name = name
        self.engine = engine
        self.image = ""  # the fixture's imported base image
        self.env = {
            "HELP_COMPOSE__MONITOR_INTERVAL": str(INTERVAL),
            "HELP_COMPOSE__RESTART_BACKOFF": "0.1",
            "HELP_COMPOSE__ENGINE": engine,
        }
        self.watchers: list[subprocess.Popen[str]] = []

    def help(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_help(*args, cwd=self.root, env={**self.env, **env}, timeout=120)

    def watch(self, *services: str, **env: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, str(HELP), "compose", "watch", *services], cwd=self.root, env=clean_env({**self.env, **env}),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, text=True,
        )  # fmt: skip
        self.watchers.append(child)
        self.wait_for(lambda e: e["kind"] == "monitor-start" and e["time"] >= time.time() - 30, 30)
        return child

    def events(self) -> list[dict[str, Any]]:
        path = self.root / ".help" / "compose" / "events.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def wait_for(self, test: Any, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if test(event):
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no such event within {timeout}s; log: {self.events()[-15:]}")

    def state(self, service: str) -> str:
        out = subprocess.run(
            [self.engine, "inspect", "--format", "{{.State.Status}}", f"{self.name}-{service}"],
            capture_output=True, text=True,
        )  # fmt: skip
        return out.stdout.strip()


@pytest.fixture
def proj(tmp_path: Path, image: str) -> Iterator[Proj]:
    name = f"t{uuid.uuid4().hex[:8]}"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    project = Proj(tmp_path, name)
    project.image = image
    yield project
    clean_up(project)


def clean_up(project: Proj) -> None:
    """Stop the test's monitors, remove its containers, networks and volumes."""
    for child in project.watchers:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    engine, label = project.engine, f"label={LABEL}={project.name}"
    podman = ["-t", "0"] if engine == "podman" else []  # docker's rm -f kills at once and has no -t
    ids = subprocess.run([engine, "ps", "-aq", "--filter", label], capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run([engine, "rm", "-f", *podman, *ids], capture_output=True)
    for kind in ("network", "volume"):  # `up` makes the project's network (and named volumes)
        made = subprocess.run([engine, kind, "ls", "-q", "--filter", label], capture_output=True, text=True)
        if made.stdout.split():
            force = ["-f"] if kind == "volume" or engine == "podman" else []  # docker 20.10: no network rm -f
            subprocess.run([engine, kind, "rm", *force, *made.stdout.split()], capture_output=True)


def podman(*args: str) -> None:
    """A podman command the test uses as its stimulus (kill, restart, stop), with podman's own error when it fails.

    Exit 125 is podman failing in itself (seen once in a CI run on `restart -t 0` of a running
    container, passing on every rerun): tried again twice before the test fails on it.
    """
    for attempt in range(3):
        done = subprocess.run(["podman", *args], capture_output=True, text=True)
        if done.returncode == 0:
            return
        if done.returncode != 125 or attempt == 2:
            break
        time.sleep(0.5)
    raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")


def compose(proj: Proj, body: str) -> None:
    write(proj.root / "compose.yaml", f"name: {proj.name}\nservices:\n" + body.replace("IMAGE", proj.image))


LOOP = """
  worker:
    image: IMAGE
    command: sh -c 'touch /tmp/ok; while true; do sleep 1; done'
    healthcheck:
      test: [CMD, test, -f, /tmp/ok]
      interval: 500ms
      retries: 2
"""


def test_up_ps_down_with_httpd_and_dependencies(proj: Proj) -> None:
    port = free_port()
    compose(proj, LOOP + f"""
  web:
    image: IMAGE
    command: [sh, -c, 'echo hello > /tmp/index.html; httpd -f -p 80 -h /tmp']
    ports: ["127.0.0.1:{port}:80"]
    depends_on: [worker]
""")  # fmt: skip
    up = proj.help("compose", "up", "-d")
    assert up.returncode == 0, up.stderr
    assert up.stdout.index("worker") < up.stdout.index("web")
    deadline = time.monotonic() + 10
    body = b""
    while time.monotonic() < deadline and b"hello" not in body:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                body = conn.recv(4096)
        except OSError:
            time.sleep(0.2)
    assert b"hello" in body
    ps = proj.help("--json", "compose", "ps")
    rows = {r["service"]: r for r in json.loads(ps.stdout)}
    assert rows["web"]["state"] == "running" and rows["web"]["ports"] == [f"127.0.0.1:{port}:80/tcp"]
    assert rows["worker"]["uptime"] is not None
    again = proj.help("compose", "up")
    assert "worker: keep" in again.stdout and "web: keep" in again.stdout
    down = proj.help("compose", "down")
    assert down.returncode == 0 and proj.state("web") == ""


def test_bad_input_port_in_use_and_unknown_service_start_nothing(proj: Proj) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        compose(proj, LOOP + f"""
  web:
    image: IMAGE
    command: [httpd, -f, -p, "80"]
    ports: ["127.0.0.1:{port}:80"]
""")  # fmt: skip
        result = proj.help("compose", "up")
        assert result.returncode == 1
        assert f"port {port} is already in use" in result.stderr and "nothing was started" in result.stderr
        assert proj.state("worker") == ""  # checked before anything started
    unknown = proj.help("compose", "up", "nope")
    assert unknown.returncode == 2 and "unknown service 'nope'" in unknown.stderr
    write(proj.root / "compose.yaml", "services:\n  web:\n    image: x\n    prots: []\n")
    bad = proj.help("compose", "up")
    assert bad.returncode == 2 and "compose.yaml:4: services.web.prots: unknown key" in bad.stderr


def test_killed_twenty_times_restarted_each_time(proj: Proj) -> None:
    compose(proj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    assert proj.help("compose", "up").returncode == 0
    proj.watch(HELP_COMPOSE__BREAKER_THRESHOLD="100")
    for n in range(1, 21):
        killed = time.time()
        podman("kill", f"{proj.name}-app")
        event = proj.wait_for(lambda e, n=n: e["kind"] == "restart" and e.get("restarts") == n, 10)
        assert event["began"] - killed <= 2 * INTERVAL, f"kill {n}: restart began {event['began'] - killed:.2f}s later"
        deadline = time.monotonic() + 5
        while proj.state("app") != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proj.state("app") == "running"
        time.sleep(1.2)  # up long enough not to count as a crash loop
    ps = json.loads(proj.help("--json", "compose", "ps").stdout)
    assert ps[0]["restarts"] == 20 and ps[0]["breaker"] == "closed"


def test_crash_loop_trips_breaker_and_stays_down(proj: Proj) -> None:
    compose(proj, "  crash:\n    image: IMAGE\n    command: [sh, -c, 'exit 3']\n")
    assert proj.help("compose", "up").returncode == 0
    proj.watch(HELP_COMPOSE__BREAKER_THRESHOLD="3", HELP_COMPOSE__BREAKER_WINDOW="60")
    opened = proj.wait_for(lambda e: e["kind"] == "breaker" and e.get("state") == "open", 30)
    assert "3 restarts within 60s" in opened["reason"] and "exited (code 3)" in opened["reason"]
    time.sleep(4 * INTERVAL)
    restarts = [e for e in proj.events() if e["kind"] == "restart"]
    assert len(restarts) == 3
    assert proj.state("crash") == "exited"


def test_failing_healthcheck_restarts_and_recovery_closes_breaker(proj: Proj) -> None:
    compose(proj, LOOP)
    assert proj.help("compose", "up").returncode == 0
    proj.watch(HELP_COMPOSE__BREAKER_THRESHOLD="2", HELP_COMPOSE__BREAKER_WINDOW="4")
    proj.wait_for(lambda e: e["kind"] == "health" and e.get("health") == "healthy")
    for n in (1, 2):
        subprocess.run(["podman", "exec", f"{proj.name}-worker", "rm", "/tmp/ok"], check=True)
        proj.wait_for(lambda e, n=n: e["kind"] == "restart" and e.get("restarts") == n and e["reason"] == "unhealthy")
        proj.wait_for(lambda e, n=n: e["kind"] == "health" and e.get("health") == "healthy"
                      and len([x for x in proj.events() if x["kind"] == "restart"]) == n)  # fmt: skip
    proj.wait_for(lambda e: e["kind"] == "breaker" and e.get("state") == "open")
    proj.wait_for(lambda e: e["kind"] == "breaker" and e.get("state") == "half-open", 10)
    proj.wait_for(lambda e: e["kind"] == "breaker" and e.get("state") == "closed", 10)
    kinds = [e.get("state") for e in proj.events() if e["kind"] == "breaker"]
    assert kinds[-3:] == ["open", "half-open", "closed"]


def test_monitor_killed_and_restarted_loses_no_event(proj: Proj) -> None:
    compose(proj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    assert proj.help("compose", "up").returncode == 0
    first = proj.watch()
    podman("restart", "-t", "0", f"{proj.name}-app")
    proj.wait_for(lambda e: e["kind"] == "engine" and e.get("status") == "restart")
    os.killpg(first.pid, signal.SIGKILL)  # no chance to flush or say goodbye
    first.wait()
    before = len(proj.events())
    podman("stop", "-t", "0", f"{proj.name}-app")
    time.sleep(0.5)
    proj.watch()  # while it was down the container died: the new one must find that in the engine's events
    proj.wait_for(lambda e: e["kind"] == "engine" and e.get("status") == "died" and e["time"] > 0
                  and proj.events().index(e) >= before)  # fmt: skip
    proj.wait_for(lambda e: e["kind"] == "restart")
    lines = (proj.root / ".help" / "compose" / "events.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # every line whole


def container_id(proj: Proj, service: str) -> str:
    out = subprocess.run(
        [proj.engine, "inspect", "--format", "{{.Id}}", f"{proj.name}-{service}"], capture_output=True, text=True
    )
    return out.stdout.strip()


def test_changed_compose_file_reapplies_only_changed_services(proj: Proj) -> None:
    two = "  a:\n    image: IMAGE\n    command: [sleep, '1000']\n  b:\n    image: IMAGE\n    command: [sleep, '1000']\n"
    compose(proj, two)
    assert proj.help("compose", "up").returncode == 0
    a_before, b_before = container_id(proj, "a"), container_id(proj, "b")
    proj.watch()
    compose(proj, two.replace("  b:", "    environment: {MODE: changed}\n  b:"))
    changed = proj.wait_for(lambda e: e["kind"] == "config-changed")
    assert changed["services"] == ["a"]
    deadline = time.monotonic() + 10
    while container_id(proj, "a") in ("", a_before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert container_id(proj, "a") not in ("", a_before)
    assert container_id(proj, "b") == b_before


def test_doctor_warns_on_privileged_host_network_and_engine_socket(proj: Proj) -> None:
    compose(proj, """
  risky:
    image: IMAGE
    privileged: true
    network_mode: host
    volumes: ["/run/podman/podman.sock:/run/podman/podman.sock"]
""")  # fmt: skip
    result = proj.help("--json", "doctor")
    text = result.stdout
    assert "privileged container" in text and "host network" in text and "engine socket" in text
    assert "rootful" in text or "rootless" in text


def test_vscode_keeps_user_tasks_and_kube_generates_yaml(proj: Proj) -> None:
    compose(proj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    tasks = proj.root / ".vscode" / "tasks.json"
    write(tasks, '{"version": "2.0.0", "tasks": [{"label": "mine", "type": "shell", "command": "make"}]}')
    for _ in range(2):  # idempotent
        assert proj.help("compose", "vscode").returncode == 0
    labels = [t["label"] for t in json.loads(tasks.read_text())["tasks"]]
    assert labels[0] == "mine" and labels.count("help.py compose: up") == 1 and "help.py compose: test" in labels
    assert json.loads((tasks.with_name("tasks.json.bak")).read_text())["tasks"][0]["label"] == "mine"
    tasks.write_text('{"tasks": [ // comment\n]}')
    broken = proj.help("compose", "vscode")
    assert broken.returncode == 2 and "tasks.json:1" in broken.stderr and "nothing was written" in broken.stderr
    assert proj.help("compose", "up").returncode == 0
    kube = proj.help("compose", "kube", "-o", "k.yaml")
    assert kube.returncode == 0, kube.stderr
    assert "kind: Pod" in (proj.root / "k.yaml").read_text()


def test_engine_not_running_is_one_clear_error(proj: Proj) -> None:
    compose(proj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    # podman in remote mode with no service behind the socket: an engine that is not running
    result = proj.help("compose", "up", CONTAINER_HOST=f"unix://{proj.root}/no-engine.sock")
    assert result.returncode == 1
    assert "podman engine is not running or not reachable" in result.stderr and "nothing was started" in result.stderr
    assert "Traceback" not in result.stderr


def test_exec_logs_restart_and_config_masks_secrets(proj: Proj) -> None:
    secret = proj.root / "pw.txt"
    secret.write_text("hunter2-very-secret\n")
    os.chmod(secret, 0o600)
    (proj.root / ".env").write_text("DB_PASSWORD=from-dotenv-secret\n")
    compose(proj, """
  app:
    image: IMAGE
    command: [sh, -c, 'echo started; cat /run/secrets/pw; while true; do sleep 1; done']
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
      GREETING: ${GREETING:-hello}
    secrets: [pw]
secrets:
  pw:
    file: pw.txt
""")  # fmt: skip
    assert proj.help("compose", "up").returncode == 0
    ran = proj.help("compose", "exec", "app", "--", "sh", "-c", "echo $GREETING $DB_PASSWORD")
    assert ran.returncode == 0 and "hello from-dotenv-secret" in ran.stdout
    deadline = time.monotonic() + 5
    logs = proj.help("compose", "logs", "app")
    while "hunter2" not in logs.stdout and time.monotonic() < deadline:
        time.sleep(0.2)
        logs = proj.help("compose", "logs", "app")
    assert "started" in logs.stdout  # the container read its secret file
    assert proj.help("compose", "restart", "app").returncode == 0 and proj.state("app") == "running"
    shown = proj.help("compose", "config")
    assert shown.returncode == 0 and "from-dotenv-secret" not in shown.stdout and "hunter2" not in shown.stdout
    assert "****" in shown.stdout
    os.chmod(secret, 0o644)
    refused = proj.help("compose", "up")
    assert refused.returncode == 2 and "readable by others" in refused.stderr


def test_ps_reuses_the_parsed_model_and_the_engine_call_started_early(proj: Proj) -> None:
    compose(proj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    age(proj.root)
    assert proj.help("compose", "up").returncode == 0
    assert [r["state"] for r in json.loads(proj.help("--json", "compose", "ps").stdout)] == ["running"]
    assert (proj.root / ".help" / "compose" / "model.marshal").is_file(), "the parsed model is kept"
    again = json.loads(proj.help("--json", "compose", "ps").stdout)  # from the kept model, engine call prefetched
    assert [(r["service"], r["state"], r["container"]) for r in again] == [("app", "running", f"{proj.name}-app")]
    # Renamed: the kept model no longer holds, and the call started early for the old name is not taken.
    write(proj.root / "compose.yaml", (proj.root / "compose.yaml").read_text().replace(proj.name, proj.name + "x"))
    age(proj.root)
    renamed = json.loads(proj.help("--json", "compose", "ps").stdout)
    assert [(r["state"], r["container"]) for r in renamed] == [("absent", f"{proj.name}x-app")]
