"""compose on real podman: services reach each other by name on the project network, named
volumes, depends_on conditions (healthy, completed successfully), profiles, engine flags."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.compose.test_podman import INTERVAL, LABEL, Proj, compose, image, proj  # noqa: F401  (fixtures)


@pytest.fixture
def net(proj: Proj) -> Iterator[Proj]:  # noqa: F811
    """`proj`, whose networks and volumes are removed afterwards whatever the test left."""
    yield proj
    for kind in ("network", "volume"):
        listed = subprocess.run(
            ["podman", kind, "ls", "-q", "--filter", f"label={LABEL}={proj.name}"], capture_output=True, text=True
        ).stdout.split()
        if listed:
            subprocess.run(["podman", kind, "rm", "-f", *listed], capture_output=True)


def names(kind: str, project: str) -> list[str]:
    out = subprocess.run(
        ["podman", kind, "ls", "-q", "--filter", f"label={LABEL}={project}"], capture_output=True, text=True
    )
    return sorted(out.stdout.split())


def logs_until(net: Proj, service: str, text: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        out = net.help("compose", "logs", service).stdout
        if text in out or time.monotonic() > deadline:
            return out
        time.sleep(0.2)


def test_client_reaches_server_by_service_name_and_down_cleans_networks(net: Proj) -> None:
    compose(net, """
  server:
    image: IMAGE
    command: [sh, -c, 'echo hello-from-server > /tmp/index.html; httpd -f -p 80 -h /tmp']
    networks: [default, back]
    volumes: ["data:/data"]
  client:
    image: IMAGE
    command: ["sh", "-c",
              "until wget -qO- http://server/index.html; do sleep 0.2; done; sleep 1000"]
    networks: [back]
    depends_on: [server]
  other:
    image: IMAGE
    command: [sleep, '1000']
    networks:
      back:
        aliases: [db-alias]
    volumes: ["data:/data"]
    init: true
networks:
  back: {}
volumes:
  data:
""")  # fmt: skip
    up = net.help("compose", "up")
    assert up.returncode == 0, up.stderr
    assert names("network", net.name) == sorted([f"{net.name}_default", f"{net.name}_back"])
    assert names("volume", net.name) == [f"{net.name}_data"]
    assert "hello-from-server" in logs_until(net, "client", "hello-from-server")
    for host in ("other", "db-alias"):  # a service name and an extra alias, on the `back` network
        looked = subprocess.run(["podman", "exec", f"{net.name}-client", "nslookup", host],
                                capture_output=True, text=True)  # fmt: skip
        assert looked.returncode == 0 and f"{host}.dns.podman" in looked.stdout, (host, looked.stdout, looked.stderr)
    inspect = json.loads(subprocess.run(["podman", "inspect", f"{net.name}-other"], capture_output=True,
                                        text=True, check=True).stdout)[0]  # fmt: skip
    assert inspect["HostConfig"]["Init"] is True
    down = net.help("compose", "down")
    assert down.returncode == 0, down.stderr
    assert names("network", net.name) == []
    assert names("volume", net.name) == [f"{net.name}_data"]  # kept without -v
    assert net.help("compose", "down", "--volumes").returncode == 0
    assert names("volume", net.name) == []


HEALTHY = """
  db:
    image: IMAGE
    command: [sh, -c, 'rm -f /shared/ok; sleep 2; touch /shared/ok; sleep 1000']
    volumes: ["shared:/shared"]
    healthcheck:
      test: [CMD, test, -f, /shared/ok]
      interval: 500ms
  app:
    image: IMAGE
    command: [sh, -c, 'if test -f /shared/ok; then echo saw-ready; else echo too-early; fi; sleep 1000']
    volumes: ["shared:/shared"]
    depends_on:
      db:
        condition: service_healthy
volumes:
  shared: {}
"""


def test_depends_on_service_healthy_starts_after_the_healthcheck_passes(net: Proj) -> None:
    compose(net, HEALTHY)
    began = time.monotonic()
    up = net.help("compose", "up")
    assert up.returncode == 0, up.stderr
    assert time.monotonic() - began >= 2
    out = logs_until(net, "app", "saw-")
    assert "saw-ready" in out and "too-early" not in out
    ps = {r["service"]: r for r in json.loads(net.help("--json", "compose", "ps").stdout)}
    assert ps["db"]["health"] == "healthy"
    assert net.help("compose", "down").returncode == 0
    compose(net, HEALTHY.replace("touch /shared/ok", "true"))
    stuck = net.help("compose", "up", "--timeout", "3")
    assert stuck.returncode == 1
    assert "services.app: dependency db not healthy after 3s" in stuck.stderr
    assert "up: db (stop with" in stuck.stderr
    assert net.state("app") == "" and net.state("db") == "running"


INIT = """
  init:
    image: IMAGE
    command: [sh, -c, 'sleep 1; echo prepared > /shared/marker; exit CODE']
    volumes: ["shared:/shared"]
  app:
    image: IMAGE
    command: [sh, -c, 'cat /shared/marker; sleep 1000']
    volumes: ["shared:/shared"]
    depends_on:
      init:
        condition: service_completed_successfully
volumes:
  shared:
"""


def test_service_completed_successfully_waits_for_the_init_container(net: Proj) -> None:
    compose(net, INIT.replace("CODE", "0"))
    up = net.help("compose", "up", "--wait", "--timeout", "30")
    assert up.returncode == 0, up.stderr
    assert "prepared" in logs_until(net, "app", "prepared")
    assert net.state("init") == "exited"
    watcher = net.watch()  # the monitor leaves an init container that exited 0 alone
    time.sleep(4 * INTERVAL)
    assert not [e for e in net.events() if e["kind"] == "restart"]
    assert net.state("init") == "exited" and net.state("app") == "running"
    assert net.help("compose", "down", "--volumes").returncode == 0
    assert watcher.wait(timeout=30) == 0  # `down` ends the monitor: it brings back nothing `down` removed
    assert net.wait_for(lambda e: e["kind"] == "monitor-stop")["reason"] == "compose down"
    assert not [e for e in net.events() if e["kind"] == "restart"]
    compose(net, INIT.replace("CODE", "3"))
    failed = net.help("compose", "up")
    assert failed.returncode == 1
    assert "services.app: dependency init exited with code 3" in failed.stderr
    assert net.state("app") == ""


def test_profiles_only_services_start_when_named_or_active(net: Proj) -> None:
    compose(net, """
  base:
    image: IMAGE
    command: [sleep, '1000']
  debug-tool:
    image: IMAGE
    command: [sleep, '1000']
    profiles: [debug]
    x-note: extension keys are ignored
""")  # fmt: skip
    up = net.help("compose", "up")
    assert up.returncode == 0, up.stderr
    assert net.state("base") == "running" and net.state("debug-tool") == ""
    named = net.help("compose", "up", "debug-tool")
    assert named.returncode == 0, named.stderr
    assert net.state("debug-tool") == "running"
    listed = [r["service"] for r in json.loads(net.help("--json", "compose", "ps").stdout)]
    assert listed == ["base", "debug-tool"]
    assert net.help("compose", "down").returncode == 0
    active = net.help("compose", "up", COMPOSE_PROFILES="debug")
    assert active.returncode == 0 and net.state("debug-tool") == "running"


def test_common_service_keys_reach_the_engine(net: Proj) -> None:
    compose(net, """
  app:
    image: IMAGE
    command: [sleep, '1000']
    tty: true
    stdin_open: true
    read_only: true
    extra_hosts: ["cache.internal:10.0.0.7"]
    dns: 10.0.0.53
    tmpfs: [/scratch]
    shm_size: 32m
    security_opt: [no-new-privileges]
    sysctls: {net.ipv4.ip_unprivileged_port_start: "0"}
    stop_signal: SIGINT
    stop_grace_period: 5s
    cap_drop: [NET_RAW]
    logging:
      driver: json-file
    deploy:
      resources:
        limits: {memory: 64m, cpus: "0.5"}
""")  # fmt: skip
    up = net.help("compose", "up")
    assert up.returncode == 0, up.stderr
    data = json.loads(subprocess.run(["podman", "inspect", f"{net.name}-app"], capture_output=True, text=True,
                                     check=True).stdout)[0]  # fmt: skip
    host, config = data["HostConfig"], data["Config"]
    assert config["Tty"] is True and config["OpenStdin"] is True and host["ReadonlyRootfs"] is True
    assert "cache.internal:10.0.0.7" in host["ExtraHosts"] and "10.0.0.53" in host["Dns"]
    assert "/scratch" in host["Tmpfs"] and host["ShmSize"] == 32 * 1024 * 1024
    assert host["Memory"] == 64 * 1024 * 1024 and host["NanoCpus"] == 500_000_000
    assert config["StopSignal"] in (2, "SIGINT") and config["StopTimeout"] == 5
    assert "no-new-privileges" in " ".join(host["SecurityOpt"])
    sysctl = subprocess.run(["podman", "exec", f"{net.name}-app", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"],
                            capture_output=True, text=True)  # fmt: skip
    assert sysctl.stdout.strip() == "0"
    assert "CAP_NET_RAW" in host["CapDrop"]
