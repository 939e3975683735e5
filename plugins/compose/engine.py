"""The container engine's CLI, driven directly (podman preferred, docker when that is installed).

help.py's own compose model is turned into `run`/`ps`/`exec`/`rm` calls rather than handed
to podman-compose or `docker compose`: one engine call per step, no second YAML reader with
different merge rules, start order and port checks before anything starts, and the same code
path on podman and docker. Containers carry labels (project, service, definition digest) so
they are found again and re-created only when their definition changed.

As in compose, services reach each other by name: `up` makes the project's networks
(`<project>_default`, `<project>_<name>`) and named volumes (`<project>_<name>`), labelled
with the project, and joins each container to its networks with the service name as alias.
A dependent starts only once each dependency meets its `depends_on` condition (healthy by
help.py's own run of the healthcheck, or exited 0).

Podman and docker differ where it matters, and the differences live here:
- health: podman without systemd never runs a healthcheck, so help.py runs the test itself
  through `exec`; docker's daemon runs it (the test is passed as `--health-*` flags) and its
  own health state (`.State.Health.Status`) is what `ps`, `up --wait` and the monitor read;
- `ps --format json` on docker has no exit code, start time or label map, so docker rows
  are completed from one `inspect` of the listed containers into podman's shape;
- docker events name the container's labels under Actor.Attributes, say `die` for `died`
  and time themselves in nanoseconds (`timeNano`), which is the monitor's cursor;
- `rm -t` (stop grace) is podman's: docker stops with `stop -t` and then removes;
- `--entrypoint` on docker takes one executable, the rest of the entrypoint goes first in
  the command; a 20.10 daemon joins one network at `create`, the others by `network connect`.
"""

from __future__ import annotations

import json

from helper import proc
from helper.errors import HelpError
from helper.which import which
from plugins.compose.model import Model, Service
from plugins.compose.prefetch import LABEL as prefetch_label
from plugins.compose.prefetch import json_format
from plugins.compose.ps import labels_of, state_of  # shared with `compose ps`'s fast path

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

    @property
    def docker(self) -> bool:
        return self.name == "docker"

    @property
    def json_format(self) -> str:
        return json_format(self.binary)

    def ensure_running(self) -> None:
        # docker 20.10's `info` exits 0 without a daemon (the error is inside its output); `version` does not
        probe = self.run(
            *(["version", "--format", "{{.Server.Version}}"] if self.docker else ["info", "--format", "json"]),
            timeout=30,
        )
        if not probe.ok:
            reason = (probe.stderr.strip().splitlines() or ["no answer"])[-1]
            raise HelpError(
                f"the {self.name} engine is not running or not reachable: {reason}",
                (
                    "start it (systemctl start docker, or without systemd as root: dockerd &)"
                    if self.docker
                    else "start it (podman system service, for a remote CONTAINER_HOST)"
                )
                + " and try again; nothing was started",
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
        rows = _json_list(result.stdout)
        return self._completed(rows) if self.docker and rows else rows

    def _completed(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Docker's ps rows in podman's shape (Id, State, ExitCode, StartedAt, Labels), plus Health."""
        found = self.run("inspect", *(str(r.get("ID")) for r in rows), timeout=60)
        text = found.stdout.strip()
        if not text.startswith("["):  # every container went away between the two calls, or the daemon did
            self.ensure_running()
            return []
        out = []
        for item in json.loads(text):  # a container removed in between is simply not there
            state = item.get("State") or {}
            health = state.get("Health") or {}
            out.append({
                "Id": item.get("Id"),
                "Names": [str(item.get("Name", "")).lstrip("/")],
                "State": state.get("Status", "unknown"),
                "ExitCode": state.get("ExitCode"),
                "StartedAt": _epoch(str(state.get("StartedAt") or "")),
                "Labels": (item.get("Config") or {}).get("Labels") or {},
                "Health": health.get("Status"),  # starting, healthy, unhealthy; None without a healthcheck
                "RestartCount": item.get("RestartCount", 0),
            })  # fmt: skip
        return out

    def health(self, cname: str, service: Service) -> bool:
        """Does the service's healthcheck pass now? podman: help.py runs the test; docker: the daemon's state."""
        assert service.health is not None
        if self.docker:
            out = self.run("inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", cname)
            return out.ok and out.stdout.strip() == "healthy"
        return self.run("exec", cname, *service.health.argv(), timeout=max(service.health.timeout, 1)).ok

    def remove(self, ids: list[str], grace: int, check: bool = False) -> None:
        """Stop (SIGTERM, then SIGKILL after `grace` seconds) and remove containers."""
        if self.docker:  # docker's rm has no stop timeout: stop first
            self.run("stop", "-t", str(grace), *ids, timeout=60 + grace)
            self.run("rm", "-f", *ids, timeout=120, check=check)
        else:
            self.run("rm", "-f", "-t", str(grace), *ids, timeout=120, check=check)


def _epoch(stamp: str) -> float | None:
    """Seconds since the epoch of docker's RFC 3339 time (nanoseconds, Z); None for the zero time."""
    from datetime import datetime

    try:
        value = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return value if value > 0 else None


def parse_event(data: dict[str, Any]) -> dict[str, Any]:
    """One line of `events --format json` (podman's or docker's) as cursor, key, status, service, name, exit."""
    actor = data.get("Actor")
    if isinstance(actor, dict):  # docker
        attrs = actor.get("Attributes") or {}
        nanos = int(data.get("timeNano") or int(data.get("time") or 0) * 10**9)
        stamp = f"{nanos // 10**9}.{nanos % 10**9:09d}"
        status = str(data.get("Action") or data.get("status") or "")  # status and id: gone in newer APIs
        name, code, ident = attrs.get("name"), attrs.get("exitCode"), actor.get("ID") or data.get("id")
    else:  # podman
        attrs = data.get("Attributes") or {}
        stamp = str(data.get("Time") or data.get("time") or "")
        status = str(data.get("Status") or data.get("status") or data.get("Action") or "")
        name, code, ident = data.get("Name"), data.get("ContainerExitCode"), data.get("ID") or data.get("id")
    if isinstance(code, str) and code.lstrip("-").isdigit():
        code = int(code)
    return {
        "cursor": stamp,
        "key": f"{stamp}:{ident}:{status}",
        "status": status,
        "service": attrs.get(SERVICE_LABEL, "") if isinstance(attrs, dict) else "",
        "container": name,
        "exit_code": code,
    }


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


def run_argv(model: Model, service: Service, docker: bool = False) -> list[str]:
    """The `run -d` call for a service; on docker `create` when it joins several networks (see up)."""
    name = container_name(model, service)
    several = docker and not service.network_mode and len(service.networks) > 1
    argv = ["create"] if several else ["run", "-d"]
    argv += ["--name", name, "--label", f"{LABEL}={model.name}"]
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
        mode = service.network_mode
        if mode.startswith("service:") and mode[8:] in model.services:
            mode = "container:" + container_name(model, model.services[mode[8:]])
        argv += ["--network", mode]
    elif service.networks:
        for net in list(service.networks)[:1] if docker else service.networks:
            argv += ["--network", model.networks[net]]
        for alias in aliases(service):
            argv += ["--network-alias", alias]
    if docker and service.health is not None:  # the daemon runs it; podman's is run by help.py
        import shlex

        health = service.health
        test = health.test[1:]
        shell = " ".join(test) if health.test[0] == "CMD-SHELL" else shlex.join(test)
        argv += ["--health-cmd", shell, "--health-interval", _go_duration(health.interval)]
        argv += ["--health-timeout", _go_duration(health.timeout), "--health-retries", str(health.retries)]
        if health.start_period:
            argv += ["--health-start-period", _go_duration(health.start_period)]
    argv += service.options
    if service.user:
        argv += ["--user", service.user]
    if service.working_dir:
        argv += ["--workdir", service.working_dir]
    if service.raw.get("hostname"):
        argv += ["--hostname", str(service.raw["hostname"])]
    command = list(service.command or [])
    if service.entrypoint is not None and docker:  # docker: one executable, its arguments lead the command
        argv += ["--entrypoint", service.entrypoint[0] if service.entrypoint else ""]
        command = service.entrypoint[1:] + command
    elif service.entrypoint is not None:
        argv += ["--entrypoint", json.dumps(service.entrypoint)]
    argv.append(str(service.image))
    return argv + command


def aliases(service: Service) -> list[str]:
    """The names a service is reached by on its networks: its own, then the extra aliases."""
    return list(dict.fromkeys([service.name, *(a for names in service.networks.values() for a in names)]))


def _go_duration(seconds: float) -> str:
    """Seconds as a Go duration (docker's --health-* flags): 0.5 -> 500ms."""
    return f"{max(1, round(seconds * 1000))}ms"


def _join_networks(engine: Engine, model: Model, service: Service, cname: str) -> proc.Result:
    """docker with several networks: the container was created on the first; join the rest, then start."""
    for net in list(service.networks)[1:]:
        flags = [x for alias in aliases(service) for x in ("--alias", alias)]
        joined = engine.run("network", "connect", *flags, model.networks[net], cname, timeout=60)
        if not joined.ok:
            return joined
    return engine.run("start", cname, timeout=60)


def port_busy(host_ip: str, port: int, protocol: str) -> bool:
    import socket

    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host_ip or "0.0.0.0", port))
        except OSError:
            return True
    return False


def _resources(engine: Engine, model: Model, names: list[str]) -> None:
    """Create the networks and named volumes `names` use (labelled with the project), if missing."""
    networks = {model.networks[n] for s in names for n in model.services[s].networks}
    volumes = {v.split(":", 1)[0] for s in names for v in model.services[s].volumes} & set(model.volumes.values())
    for kind, wanted in (("network", networks), ("volume", volumes)):
        for item in sorted(wanted):
            if engine.run(kind, "inspect", item, timeout=30).ok:
                continue
            if item in model.external:
                raise HelpError(f"{kind} {item} is declared external but does not exist",
                                f"create it: {engine.name} {kind} create {item}; nothing was started")  # fmt: skip
            made = engine.run(kind, "create", "--label", f"{LABEL}={model.name}", item, timeout=60)
            if not made.ok:
                reason = (made.stderr.strip().splitlines() or [f"exit code {made.returncode}"])[-1]
                raise HelpError(
                    f"cannot create {kind} {item}: {reason}", "see the engine's message; nothing was started"
                )


def inspect_state(engine: Engine, cname: str) -> tuple[str, int]:
    """(status, exit code) of a container, ("absent", -1) when there is none."""
    out = engine.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", cname, timeout=30)
    if not out.ok:
        return "absent", -1
    status, _, code = out.stdout.strip().partition(" ")
    return status.lower(), int(code) if code.strip().lstrip("-").isdigit() else -1


def wait_condition(engine: Engine, model: Model, name: str, dep: str, deadline: float, timeout: float) -> None:
    """Block until `dep` meets the condition `name` depends on it with; a clear error if it never does."""
    import time

    from plugins.compose import events

    condition = model.services[name].conditions.get(dep, "service_started")
    if condition == "service_started":
        return
    service = model.services[dep]
    cname = container_name(model, service)
    if condition == "service_healthy" and service.health is None:
        raise HelpError(f"services.{name}.depends_on.{dep}: condition service_healthy, but {dep} has no healthcheck",
                        f"add a healthcheck to {dep} or use condition: service_started")  # fmt: skip
    while True:
        status, code = inspect_state(engine, cname)
        if condition == "service_completed_successfully":
            if status == "exited" and code == 0:
                return
            if status in ("exited", "stopped") and code != 0:
                raise HelpError(f"services.{name}: dependency {dep} exited with code {code}, not 0",
                                f"see `help.py compose logs {dep}`; {name} was not started")  # fmt: skip
        elif status == "running" and service.health is not None:
            if engine.health(cname, service):
                state = events.load_state(model.root)
                entry = state.setdefault("services", {}).setdefault(dep, {"restarts": 0, "breaker": "closed"})
                if entry.get("health") != "healthy":
                    entry["health"] = "healthy"
                    events.save_state(model.root, state)
                    events.append(model.root, "health", dep, health="healthy")
                return
        elif status in ("exited", "stopped", "absent"):
            raise HelpError(f"services.{name}: dependency {dep} is {status} and can never become healthy",
                            f"see `help.py compose logs {dep}`; {name} was not started")  # fmt: skip
        if time.monotonic() > deadline:
            want = "healthy" if condition == "service_healthy" else "exited 0"
            raise HelpError(f"services.{name}: dependency {dep} not {want} after {timeout:g}s; {name} was not started",
                            f"see `help.py compose logs {dep}`, or raise --timeout")  # fmt: skip
        time.sleep(0.2)


def up(
    engine: Engine, model: Model, names: list[str], emit: Any = None, wait: float | None = None
) -> list[dict[str, str]]:
    """Start `names` (already in dependency order); existing up-to-date containers are kept.

    With `wait` (seconds), each service starts only once its dependencies meet their
    depends_on conditions; without it (the monitor's re-apply) nothing waits.
    """
    import time

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
    _resources(engine, model, [n for n, a in plan if a != "keep"])
    done: list[dict[str, str]] = []
    deadline = time.monotonic() + (wait or 0)
    for name, action in plan:
        service = model.services[name]
        cname = container_name(model, service)
        if wait is not None and action != "keep":
            try:
                for dep in service.depends_on:
                    if dep in names:
                        wait_condition(engine, model, name, dep, deadline, wait)
            except HelpError as exc:
                started = ", ".join(d["service"] for d in done) or "none"
                raise HelpError(exc.message, f"{exc.hint}; up: {started} (stop with `help.py compose down`)") from None
        if action == "recreate":
            engine.remove([cname], grace=2)
        if action in ("create", "recreate"):
            argv = run_argv(model, service, docker=engine.docker)
            result = engine.run(*argv, timeout=120)
            if result.ok and argv[0] == "create":
                result = _join_networks(engine, model, service, cname)
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


def down(engine: Engine, model: Model, names: list[str] | None = None, volumes: bool = False) -> list[str]:
    """Remove the containers (of `names`, or all); with every container gone, the project's
    networks too, and with `volumes` its named volumes (external ones are never touched)."""
    rows = engine.containers(model.name)
    targets = [r for r in rows if not names or labels_of(r).get(SERVICE_LABEL) in names]
    ids = [str(r.get("Id") or r.get("ID")) for r in targets]
    if ids:
        engine.remove(ids, grace=3, check=True)
    if len(targets) == len(rows):
        kinds = ("network", "volume") if volumes else ("network",)
        for kind in kinds:
            listed = engine.run(kind, "ls", "-q", "--filter", f"label={LABEL}={model.name}", timeout=30)
            gone = [n for n in listed.stdout.split() if n not in model.external]
            if gone:
                engine.run(kind, "rm", *gone, timeout=60)
    return [labels_of(r).get(SERVICE_LABEL, "") for r in targets]
