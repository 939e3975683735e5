"""The container engine's CLI, driven directly (podman preferred, docker when that is installed).

help.py's own compose model is turned into `run`/`ps`/`exec`/`rm` calls rather than handed
to podman-compose or `docker compose`: one engine call per step, no second YAML reader with
different merge rules, start order and port checks before anything starts, and the same code
path on podman and docker. Containers carry labels (project, service, definition digest) so
they are found again and re-created only when their definition changed.
"""

from __future__ import annotations

import json

from helper import proc
from helper.errors import HelpError
from helper.which import which
from plugins.compose.model import Model, Service
from plugins.compose.prefetch import LABEL as prefetch_label

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

LABEL = prefetch_label  # the project label, defined where `compose ps` prefetches
SERVICE_LABEL = "help.compose.service"
DIGEST_LABEL = "help.compose.digest"


class Engine:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.name = "docker" if binary.endswith("docker") else "podman"

    def run(self, *args: str, timeout: float = 120, check: bool = False) -> proc.Result:
        return proc.run([self.binary, *args], timeout=timeout, check=check)

    def ensure_running(self) -> None:
        probe = self.run("info", "--format", "json", timeout=30)
        if not probe.ok:
            reason = (probe.stderr.strip().splitlines() or ["no answer"])[-1]
            raise HelpError(
                f"the {self.name} engine is not running or not reachable: {reason}",
                "start it (systemctl start docker / podman system service) and try again; nothing was started",
            )

    def containers(self, project: str) -> list[dict[str, Any]]:
        """The project's containers (running or not), as the engine lists them."""
        from plugins.compose import prefetch

        command = prefetch.ps_argv(self.binary, project)
        early = prefetch.take(command, timeout=120)  # started by `compose ps` before the CLI loaded
        if early is not None:
            result = proc.Result(command, early[0], early[1], early[2], 0.0, False)
        else:
            result = self.run(*command[1:])
        if not result.ok:
            self.ensure_running()  # a clear error when the engine is down
            raise proc.command_failed(result)
        return _json_list(result.stdout)


def _json_list(text: str) -> list[dict[str, Any]]:
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]  # docker: one object a line


def choose(setting: str) -> Engine:
    names = ("podman", "docker") if setting == "auto" else (setting,)
    for name in names:
        found = which(name)
        if found:
            return Engine(found)
    raise HelpError(f"no container engine: {' or '.join(names)} not on PATH", "sudo apt-get install podman")


def container_name(model: Model, service: Service) -> str:
    return str(service.raw.get("container_name") or f"{model.name}-{service.name}")


def labels_of(row: dict[str, Any]) -> dict[str, str]:
    labels = row.get("Labels") or {}
    if isinstance(labels, str):  # docker: "a=b,c=d"
        labels = dict(x.partition("=")[::2] for x in labels.split(",") if x)
    return dict(labels)


def state_of(row: dict[str, Any]) -> str:
    return str(row.get("State") or "unknown").lower()


def run_argv(model: Model, service: Service) -> list[str]:
    name = container_name(model, service)
    argv = ["run", "-d", "--name", name, "--label", f"{LABEL}={model.name}"]
    argv += ["--label", f"{SERVICE_LABEL}={service.name}", "--label", f"{DIGEST_LABEL}={service.digest()}"]
    for key, value in service.labels.items():
        argv += ["--label", f"{key}={value}"]
    for port in service.ports:
        argv += ["-p", port.spec()]
    for volume in service.volumes:
        argv += ["-v", volume]
    for secret in service.secrets:
        argv += ["-v", f"{model.secrets[secret]}:/run/secrets/{secret}:ro"]
    for key, value in service.environment.items():
        argv += ["-e", f"{key}={value}"]
    if service.privileged:
        argv.append("--privileged")
    if service.network_mode:
        argv += ["--network", service.network_mode]
    if service.user:
        argv += ["--user", service.user]
    if service.working_dir:
        argv += ["--workdir", service.working_dir]
    if service.raw.get("hostname"):
        argv += ["--hostname", str(service.raw["hostname"])]
    if service.entrypoint is not None:
        argv += ["--entrypoint", json.dumps(service.entrypoint)]
    argv.append(str(service.image))
    argv += service.command or []
    return argv


def port_busy(host_ip: str, port: int, protocol: str) -> bool:
    import socket

    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host_ip or "0.0.0.0", port))
        except OSError:
            return True
    return False


def up(engine: Engine, model: Model, names: list[str], emit: Any = None) -> list[dict[str, str]]:
    """Start `names` (already in dependency order); existing up-to-date containers are kept."""
    rows = {labels_of(r).get(SERVICE_LABEL, ""): r for r in engine.containers(model.name)}
    plan: list[tuple[str, str]] = []  # (service, action)
    for name in names:
        service = model.services[name]
        row = rows.get(name)
        if row is None:
            plan.append((name, "create"))
        elif labels_of(row).get(DIGEST_LABEL) != service.digest():
            plan.append((name, "recreate"))
        elif state_of(row) != "running":
            plan.append((name, "start"))
        else:
            plan.append((name, "keep"))
    for name, action in plan:  # every port checked before anything starts
        if action in ("create", "recreate", "start"):
            for port in model.services[name].ports:
                if port_busy(port.host_ip, port.host, port.protocol):
                    raise HelpError(
                        f"services.{name}.ports: port {port.host} is already in use on this host",
                        "stop what listens there or change the host port; nothing was started",
                    )
    done: list[dict[str, str]] = []
    for name, action in plan:
        service = model.services[name]
        cname = container_name(model, service)
        if action == "recreate":
            engine.run("rm", "-f", "-t", "2", cname, timeout=60)
        if action in ("create", "recreate"):
            result = engine.run(*run_argv(model, service), timeout=120)
        elif action == "start":
            result = engine.run("start", cname, timeout=60)
        else:
            done.append({"service": name, "action": action, "container": cname})
            continue
        if not result.ok:
            started = ", ".join(d["service"] for d in done if d["action"] != "keep") or "none"
            reason = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
            raise HelpError(
                f"services.{name}: {engine.name} could not start it: {reason}",
                f"already started: {started} (stop them with `help.py compose down`)",
            )
        done.append({"service": name, "action": action, "container": cname})
        if emit is not None:
            emit("start", name, action=action)
    return done


def down(engine: Engine, model: Model, names: list[str] | None = None) -> list[str]:
    rows = engine.containers(model.name)
    targets = [r for r in rows if not names or labels_of(r).get(SERVICE_LABEL) in names]
    ids = [str(r.get("Id") or r.get("ID")) for r in targets]
    if ids:
        engine.run("rm", "-f", "-t", "3", *ids, timeout=120, check=True)
    return [labels_of(r).get(SERVICE_LABEL, "") for r in targets]
