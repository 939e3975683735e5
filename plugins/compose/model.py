"""The project's compose model: files found, merged per profile, interpolated from .env, validated.

compose.yaml (or compose.yml / docker-compose.yml / docker-compose.yaml) is the base;
compose.<profile>.yaml (or .yml) is merged over it as compose merges overrides:
mappings key by key, `ports`/`volumes`/`expose` appended, anything else replaced.
${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message} and $$ are expanded from the
process environment over the project's .env (helper.running.dotenv). Every error names
file:line and the key.

`x-*` extension keys are accepted (top level and in services) and ignored; services with
`profiles:` are enabled only when a profile is active (COMPOSE_PROFILES, help.py's
active profile, or the service named on the command line). Service keys with an engine
flag become that flag (`options`); keys help.py cannot honour are a warning naming
file:line, never silently dropped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from helper.errors import ConfigError
from helper.records import Factory, Record
from plugins.compose import modelcache
from plugins.compose.modelcache import BASE_NAMES

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

APPENDED = ("ports", "volumes", "expose")
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "volumes", "depends_on",
    "healthcheck", "restart", "secrets", "privileged", "network_mode", "labels", "user", "working_dir",
    "container_name", "expose", "hostname", "cap_add", "cap_drop", "stop_grace_period", "profiles",
    "networks", "deploy", "logging",
}  # fmt: skip
# service key -> (engine flag, how its value is written)
FLAGS: dict[str, tuple[str, str]] = {
    "init": ("--init", "bool"), "tty": ("--tty", "bool"), "stdin_open": ("--interactive", "bool"),
    "read_only": ("--read-only", "bool"), "extra_hosts": ("--add-host", "hosts"), "dns": ("--dns", "list"),
    "dns_search": ("--dns-search", "list"), "dns_opt": ("--dns-option", "list"), "tmpfs": ("--tmpfs", "list"),
    "shm_size": ("--shm-size", "str"), "mem_limit": ("--memory", "str"), "memswap_limit": ("--memory-swap", "str"),
    "mem_reservation": ("--memory-reservation", "str"), "cpus": ("--cpus", "str"),
    "cpu_shares": ("--cpu-shares", "str"), "cpuset": ("--cpuset-cpus", "str"), "pids_limit": ("--pids-limit", "str"),
    "ulimits": ("--ulimit", "ulimits"), "security_opt": ("--security-opt", "list"), "sysctls": ("--sysctl", "map"),
    "devices": ("--device", "list"), "stop_signal": ("--stop-signal", "str"), "platform": ("--platform", "str"),
    "pull_policy": ("--pull", "pull"), "cap_add": ("--cap-add", "list"), "cap_drop": ("--cap-drop", "list"),
    "expose": ("--expose", "list"), "stop_grace_period": ("--stop-timeout", "seconds"), "pid": ("--pid", "str"),
    "ipc": ("--ipc", "str"), "group_add": ("--group-add", "list"), "cgroup_parent": ("--cgroup-parent", "str"),
    "userns_mode": ("--userns", "str"), "oom_score_adj": ("--oom-score-adj", "str"),
    "mac_address": ("--mac-address", "str"), "runtime": ("--runtime", "str"), "annotations": ("--annotation", "map"),
}  # fmt: skip
# keys real files use that help.py does not honour: accepted with a warning naming file:line
NOT_HONOURED = {"links", "external_links", "configs", "scale", "develop", "isolation", "storage_opt",
                "volumes_from", "credential_spec", "domainname", "blkio_config", "cpu_quota", "cpu_period"}  # fmt: skip
SERVICE_KEYS |= set(FLAGS) | NOT_HONOURED
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
PULL = {"always": "always", "never": "never", "missing": "missing", "if_not_present": "missing", "newer": "newer"}
TOP_KEYS = {"services", "secrets", "volumes", "networks", "name", "version", "configs"}
_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$")


class Port(Record):
    host: int
    container: int
    protocol: str = "tcp"
    host_ip: str = ""

    def spec(self) -> str:
        from plugins.compose.ps import port_spec

        return port_spec(self.host, self.container, self.protocol, self.host_ip)


class Health(Record):
    test: list[str]  # ["CMD", ...] or ["CMD-SHELL", "..."]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0

    def argv(self) -> list[str]:
        """The command to run inside the container."""
        if self.test[0] == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(self.test[1:])]
        return list(self.test[1:])


class Service(Record):
    name: str
    image: str | None
    build: dict[str, Any] | None
    command: list[str] | None
    entrypoint: list[str] | None
    environment: dict[str, str]
    ports: list[Port]
    volumes: list[str]
    depends_on: list[str]
    health: Health | None
    restart: str
    secrets: list[str]
    privileged: bool
    network_mode: str | None
    labels: dict[str, str]
    user: str | None
    working_dir: str | None
    raw: dict[str, Any]
    line: str  # file:line of its definition
    profiles: list[str] = Factory(list)
    conditions: dict[str, str] = Factory(dict)  # dependency -> service_started/_healthy/_completed_successfully
    required: dict[str, bool] = Factory(dict)  # dependency -> must it be enabled
    networks: dict[str, list[str]] = Factory(dict)  # network key -> extra aliases
    options: list[str] = Factory(list)  # engine flags from the keys in FLAGS

    def digest(self) -> str:
        """A hash of its merged definition and the networks/volumes it joins: a change means re-create it."""
        import hashlib
        import json

        shape = {"raw": self.raw, "networks": self.networks, "volumes": self.volumes}
        return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Model(Record):
    name: str  # project name: the containers' label value
    root: Path
    files: list[Path]
    services: dict[str, Service]
    secrets: dict[str, Path]
    data: dict[str, Any]  # the merged, interpolated document
    secret_values: set[str] = Factory(set)
    profiles: set[str] = Factory(set)  # active compose profiles
    networks: dict[str, str] = Factory(dict)  # network key -> engine name
    volumes: dict[str, str] = Factory(dict)  # named volume key -> engine name
    external: set[str] = Factory(set)  # engine names of external networks/volumes (never created or removed)
    warnings: list[str] = Factory(list)
    inputs: list[str] = Factory(list)  # other files read (env_file): a cached model holds while they do

    def enabled(self, name: str, active: set[str] | None = None) -> bool:
        """Whether a service is started by default: no profiles, or one of them active."""
        wanted = self.services[name].profiles
        return not wanted or bool(set(wanted) & (self.profiles if active is None else active))

    def one_shot(self, name: str) -> bool:
        """A service others wait for to exit 0 (an init container), without a restart policy."""
        waited = any(s.conditions.get(name) == "service_completed_successfully" for s in self.services.values())
        return waited and self.services[name].restart in ("no", "on-failure")

    def order(self, wanted: list[str] | None = None) -> list[str]:
        """Services in start order (dependencies first), limited to `wanted` and what they need.

        Without `wanted`, the enabled services; naming a service activates its profiles.
        """
        for name in wanted or []:
            if name not in self.services:
                known = ", ".join(self.services) or "none"
                raise ConfigError(f"unknown service {name!r}", f"services in {self.files[0].name}: {known}")
        active = self.profiles | {p for n in wanted or [] for p in self.services[n].profiles}
        chosen = wanted if wanted else [n for n in self.services if self.enabled(n, active)]
        done: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                raise ConfigError(f"services.{name}.depends_on: dependency cycle", "remove one depends_on edge")
            visiting.add(name)
            for dep in self.services[name].depends_on:
                if not self.enabled(dep, active):
                    if not self.services[name].required.get(dep, True):
                        continue
                    profiles = self.services[dep].profiles
                    raise ConfigError(
                        f"services.{name}.depends_on: {dep!r} is only in profiles {', '.join(profiles)}, none active",
                        f"activate one (COMPOSE_PROFILES={profiles[0]}) or name it: help.py compose up {dep} {name}",
                        where=self.services[name].line,
                    )
                visit(dep)
            visiting.discard(name)
            done.append(name)

        for name in chosen:
            visit(name)
        return done


def find_files(root: Path, profile: str) -> list[Path]:
    base = next((root / n for n in BASE_NAMES if (root / n).is_file()), None)
    if base is None:
        raise ConfigError(f"no compose file in {root}", "create compose.yaml with a `services:` section")
    files = [base]
    for ext in ("yaml", "yml"):
        override = root / f"compose.{profile}.{ext}"
        if override.is_file():
            files.append(override)
            break
    return files


def env_file(project: Any) -> Path:
    """The project's .env for the active profile (helper.running.dotenv decides which)."""
    from helper.running import dotenv

    try:
        return dotenv.env_path(project.root, project.profile, project.get("run.env_file"))
    except KeyError:
        return dotenv.env_path(project.root, project.profile, None)


def dotenv_values(project: Any) -> dict[str, str]:
    from helper.running import dotenv

    target = env_file(project)
    return dotenv.read(target) if target.is_file() else {}


def variables(project: Any) -> dict[str, str]:
    """The .env's values under the process environment's (the environment wins, as in compose)."""
    return {**dotenv_values(project), **os.environ}


def secret_like(values: dict[str, str], project: Any) -> set[str]:
    """Values of .env keys that are secrets (by name): masked wherever they appear."""
    from helper.config_schema import is_secret

    return {v for k, v in values.items() if v and len(v) >= 4 and is_secret(k)}


class _Seen(dict):  # type: ignore[type-arg]
    """The variables with the names interpolation looked up: a cached model holds while they do."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.names: set[str] = set()

    def __contains__(self, name: object) -> bool:
        self.names.add(str(name))
        return super().__contains__(name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        self.names.add(name)
        return super().get(name, default)


def interpolate(value: Any, env: dict[str, str], where: str, key: str) -> Any:
    from plugins.compose.yamlish import Tagged, YMap

    if isinstance(value, Tagged):
        return Tagged(value.tag, interpolate(value.value, env, where, key))
    if isinstance(value, dict):
        out = YMap(getattr(value, "line", 0))
        out.lines = dict(getattr(value, "lines", {}))
        for k, v in value.items():
            line = getattr(value, "lines", {}).get(k)
            here = where.rsplit(":", 1)[0] + f":{line}" if line else where
            out[k] = interpolate(v, env, here, f"{key}.{k}" if key else k)
        return out
    if isinstance(value, list):
        return [interpolate(v, env, where, f"{key}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3) or ""
        present = name in env
        current = env.get(name, "")
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if present else arg
        if op in (":?", "?"):
            if (op == ":?" and not current) or not present:
                raise ConfigError(
                    f"{key}: ${{{name}}} is not set: {arg or 'required'}", f"set {name} in .env", where=where
                )
            return current
        return current

    return _VAR.sub(sub, value)


def merge(base: Any, over: Any, key: str = "") -> Any:
    from plugins.compose.yamlish import Tagged, YMap

    if isinstance(base, dict) and isinstance(over, dict):
        out = YMap(getattr(base, "line", 0))
        out.lines = {**getattr(base, "lines", {}), **getattr(over, "lines", {})}
        for k, v in base.items():
            out[k] = v
        for k, v in over.items():
            if isinstance(v, Tagged):  # compose's !reset / !override: no merging with the base
                if v.tag == "reset":
                    out.pop(k, None)
                else:
                    out[k] = untag(v.value)
            elif k == "environment" and k in out:
                out[k] = {**_env_dict(out[k], "", ""), **_env_dict(v, "", "")}
            elif k in out and k in APPENDED and isinstance(out[k], list) and isinstance(v, list):
                out[k] = out[k] + [x for x in v if x not in out[k]]
            elif k in out:
                out[k] = merge(out[k], v, k)
            else:
                out[k] = v
        return out
    return over


def untag(value: Any) -> Any:
    """The document without !reset/!override marks: reset keys and items dropped, overrides unwrapped."""
    from plugins.compose.yamlish import Tagged, YMap

    if isinstance(value, Tagged):
        return None if value.tag == "reset" else untag(value.value)
    if isinstance(value, dict):
        out = YMap(getattr(value, "line", 0))
        lines = getattr(value, "lines", {})
        for k, v in value.items():
            if not (isinstance(v, Tagged) and v.tag == "reset"):
                out[k] = untag(v)
                if k in lines:
                    out.lines[k] = lines[k]
        return out
    if isinstance(value, list):
        return [untag(v) for v in value if not (isinstance(v, Tagged) and v.tag == "reset")]
    return value


def _env_dict(value: Any, where: str, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else _text(v) for k, v in value.items()}
    if isinstance(value, list):
        out = {}
        for item in value:
            name, _, val = str(item).partition("=")
            out[name] = val
        return out
    raise ConfigError(f"{key}: must be a mapping or a list of KEY=VALUE", "see compose's `environment:`", where=where)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def duration(value: Any, where: str, key: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if not _DURATION.match(text):
        raise ConfigError(f"{key}: {value!r} is not a duration", "write e.g. 500ms, 2s, 1m30s", where=where)
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text))


def _argv(value: Any, where: str, key: str) -> list[str] | None:
    import shlex

    if value is None:
        return None
    if isinstance(value, list):
        return [_text(v) for v in value]
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}", "fix the quoting", where=where) from None
    raise ConfigError(f"{key}: must be a string or a list", "e.g. command: [sh, -c, 'echo hi']", where=where)


def _port(value: Any, where: str, key: str) -> Port:
    text = _text(value)
    proto = "tcp"
    if "/" in text:
        text, proto = text.rsplit("/", 1)
    parts = text.rsplit(":", 2)
    try:
        if len(parts) == 1:
            return Port(int(parts[0]), int(parts[0]), proto)
        if len(parts) == 2:
            return Port(int(parts[0]), int(parts[1]), proto)
        return Port(int(parts[1]), int(parts[2]), proto, parts[0])
    except ValueError:
        raise ConfigError(
            f"{key}: {value!r} is not a port mapping", 'write "HOST:CONTAINER", e.g. "8080:80"', where=where
        ) from None


def _health(value: Any, where: str, key: str) -> Health | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: must be a mapping", "e.g. healthcheck: {test: [CMD, true]}", where=where)
    if value.get("disable"):
        return None
    test = value.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise ConfigError(f"{key}.test: must be [CMD, ...], [CMD-SHELL, ...] or a string", "see compose", where=where)
    if test[0] == "NONE":
        return None
    lines = getattr(value, "lines", {})
    file = where.rsplit(":", 1)[0]

    def at(k: str) -> str:
        return f"{file}:{lines[k]}" if k in lines else where

    retries = value.get("retries", 3)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 1:
        raise ConfigError(f"{key}.retries: must be a positive integer", "e.g. retries: 3", where=at("retries"))
    return Health(
        [_text(t) for t in test],
        duration(value.get("interval", "30s"), at("interval"), f"{key}.interval"),
        duration(value.get("timeout", "30s"), at("timeout"), f"{key}.timeout"),
        retries,
        duration(value.get("start_period", "0s"), at("start_period"), f"{key}.start_period"),
    )


def _service(name: str, raw: Any, where: str, root: Path, model: Model) -> Service:
    base = f"services.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{base}: must be a mapping", "indent the service's keys under its name", where=where)
    lines = getattr(raw, "lines", {})
    file = where.rsplit(":", 1)[0]
    secrets = model.secrets

    def at(k: str) -> str:
        return f"{file}:{lines[k]}" if k in lines else where

    for k in raw:
        if k.startswith("x-"):
            continue
        if k not in SERVICE_KEYS:
            raise ConfigError(f"{base}.{k}: unknown key", f"known keys: {', '.join(sorted(SERVICE_KEYS))}", where=at(k))
        if k in NOT_HONOURED:
            model.warnings.append(f"{at(k)}: {base}.{k} is not honoured by help.py (ignored)")
    image, build = raw.get("image"), raw.get("build")
    if image is None and build is None:
        raise ConfigError(f"{base}: needs `image:` or `build:`", "add image: NAME or build: ./dir", where=where)
    if isinstance(build, str):
        build = {"context": build}
    if build is not None and not isinstance(build, dict):
        raise ConfigError(f"{base}.build: must be a path or a mapping", "build: ./dir", where=at("build"))
    if build is not None and image is None:
        image = f"localhost/{root.name.lower()}-{name}:latest"
    ports = raw.get("ports") or []
    if not isinstance(ports, list):
        raise ConfigError(f"{base}.ports: must be a list", 'ports: ["8080:80"]', where=at("ports"))
    volumes = raw.get("volumes") or []
    if not isinstance(volumes, list) or not all(isinstance(v, str | dict) for v in volumes):
        raise ConfigError(
            f"{base}.volumes: must be a list of SOURCE:TARGET strings", "- ./data:/data", where=at("volumes")
        )
    deps, conditions, required = _depends(raw.get("depends_on"), at("depends_on"), f"{base}.depends_on", model.warnings)
    wanted_secrets = raw.get("secrets") or []
    if not isinstance(wanted_secrets, list):
        raise ConfigError(f"{base}.secrets: must be a list", "- db_password", where=at("secrets"))
    names = [s if isinstance(s, str) else str(s.get("source")) for s in wanted_secrets]
    for s in names:
        if s not in secrets:
            raise ConfigError(
                f"{base}.secrets: {s!r} is not declared under top-level secrets:", "declare it", where=at("secrets")
            )
    labels = raw.get("labels") or {}
    if isinstance(labels, list):
        labels = dict(str(x).partition("=")[::2] for x in labels)
    restart = _text(raw.get("restart", "no"))
    profiles = raw.get("profiles") or []
    if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
        raise ConfigError(f"{base}.profiles: must be a list of names", "profiles: [debug]", where=at("profiles"))
    network_mode = raw.get("network_mode")
    if network_mode is not None and raw.get("networks"):
        raise ConfigError(
            f"{base}: network_mode and networks cannot both be set", "keep one of them", where=at("networks")
        )
    environment = _env_files(raw.get("env_file"), root, at("env_file"), f"{base}.env_file", model.inputs)
    environment.update(_env_dict(raw.get("environment"), at("environment"), f"{base}.environment"))
    return Service(
        name=name,
        image=_text(image),
        build=dict(build) if build is not None else None,
        command=_argv(raw.get("command"), at("command"), f"{base}.command"),
        entrypoint=_argv(raw.get("entrypoint"), at("entrypoint"), f"{base}.entrypoint"),
        environment=environment,
        ports=[_port(p, at("ports"), f"{base}.ports") for p in ports],
        volumes=[_volume(v, root, model, at("volumes"), f"{base}.volumes") for v in volumes],
        depends_on=deps,
        health=_health(raw.get("healthcheck"), at("healthcheck"), f"{base}.healthcheck"),
        restart=restart,
        secrets=names,
        privileged=bool(raw.get("privileged", False)),
        network_mode=None if network_mode is None else _text(network_mode),
        labels={str(k): _text(v) for k, v in labels.items()},
        user=None if raw.get("user") is None else _text(raw.get("user")),
        working_dir=raw.get("working_dir"),
        raw=_plain(raw),
        line=where,
        profiles=list(profiles),
        conditions=conditions,
        required=required,
        networks=_networks(raw.get("networks"), model, network_mode, at("networks"), f"{base}.networks"),
        options=_options(raw, at, base, model),
    )


def _depends(
    value: Any, where: str, key: str, warnings: list[str]
) -> tuple[list[str], dict[str, str], dict[str, bool]]:
    """depends_on, short (a list) or long (name: {condition, required}) form."""
    if value is None:
        return [], {}, {}
    if isinstance(value, list) and all(isinstance(d, str) for d in value):
        return list(value), dict.fromkeys(value, "service_started"), dict.fromkeys(value, True)
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: must be a list of service names or a mapping", "- db", where=where)
    conditions: dict[str, str] = {}
    required: dict[str, bool] = {}
    lines = getattr(value, "lines", {})
    file = where.rsplit(":", 1)[0]
    for dep, spec in value.items():
        here = f"{file}:{lines[dep]}" if dep in lines else where
        spec = spec if spec is not None else {}
        if not isinstance(spec, dict):
            raise ConfigError(f"{key}.{dep}: must be a mapping", "condition: service_healthy", where=here)
        for k in spec:
            if k not in ("condition", "required", "restart"):
                raise ConfigError(f"{key}.{dep}.{k}: unknown key", "known: condition, required, restart", where=here)
        if spec.get("restart"):
            warnings.append(f"{here}: {key}.{dep}.restart is not honoured by help.py (ignored)")
        condition = _text(spec.get("condition", "service_started"))
        if condition not in CONDITIONS:
            raise ConfigError(f"{key}.{dep}.condition: {condition!r} is not one of {', '.join(CONDITIONS)}",
                              "condition: service_healthy", where=here)  # fmt: skip
        if not isinstance(spec.get("required", True), bool):
            raise ConfigError(f"{key}.{dep}.required: must be true or false", "required: false", where=here)
        conditions[str(dep)] = condition
        required[str(dep)] = bool(spec.get("required", True))
    return list(conditions), conditions, required


def _networks(value: Any, model: Model, mode: Any, where: str, key: str) -> dict[str, list[str]]:
    """The networks a service joins (network key -> extra aliases); `default` when none is named."""
    if mode is not None:
        return {}
    if value is None:
        return {"default": []}
    out: dict[str, list[str]] = {}
    if isinstance(value, list) and all(isinstance(n, str) for n in value):
        out = {n: [] for n in value}
    elif isinstance(value, dict):
        for net, spec in value.items():
            aliases = (spec or {}).get("aliases") or [] if isinstance(spec, dict) or spec is None else None
            if not isinstance(aliases, list):
                raise ConfigError(f"{key}.{net}: aliases must be a list", "aliases: [db]", where=where)
            out[str(net)] = [_text(a) for a in aliases]
    else:
        raise ConfigError(f"{key}: must be a list or a mapping of network names", "networks: [front]", where=where)
    for net in out:
        if net not in model.networks:
            raise ConfigError(f"{key}: network {net!r} is not declared under top-level networks:",
                              f"declare it: networks: {{{net}: {{}}}}", where=where)  # fmt: skip
    return out


def _options(raw: Any, at: Any, base: str, model: Model) -> list[str]:
    """Engine flags for the service keys in FLAGS, and deploy.resources.limits."""
    out: list[str] = []
    for k, (flag, kind) in FLAGS.items():
        value = raw.get(k)
        if value is None:
            continue
        key = f"{base}.{k}"
        if kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{key}: must be true or false", f"{k}: true", where=at(k))
            out += [flag] if value else []
        elif kind == "str" or kind == "pull":
            if isinstance(value, dict | list):
                raise ConfigError(f"{key}: must be a single value", f"{k}: VALUE", where=at(k))
            text = _text(value)
            if kind == "pull":
                if text == "build":
                    continue  # the image is built by `compose build`; nothing to pull
                if text not in PULL:
                    raise ConfigError(f"{key}: {text!r} is not one of {', '.join(PULL)}, build", "pull_policy: missing",
                                      where=at(k))  # fmt: skip
                text = PULL[text]
            out += [flag, text]
        elif kind == "seconds":
            out += [flag, str(max(0, round(duration(value, at(k), key))))]
        elif kind == "list":
            items = [value] if isinstance(value, str | int | float) else value
            if not isinstance(items, list) or any(isinstance(i, dict | list) for i in items):
                raise ConfigError(f"{key}: must be a value or a list of values", f"{k}: [VALUE]", where=at(k))
            for item in items:
                out += [flag, _text(item)]
        elif kind in ("map", "hosts"):
            sep = ":" if kind == "hosts" else "="
            if isinstance(value, dict):
                pairs = [f"{name}{sep}{_text(v)}" for name, v in value.items()]
            elif isinstance(value, list) and all(isinstance(i, str) for i in value):
                pairs = [i.replace("=", sep, 1) if kind == "hosts" else i for i in value]
            else:
                raise ConfigError(f"{key}: must be a mapping or a list of NAME{sep}VALUE", f"{k}: {{}}", where=at(k))
            for pair in pairs:
                out += [flag, pair]
        elif kind == "ulimits":
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{key}: must be a mapping", "ulimits: {nofile: {soft: 1024, hard: 2048}}", where=at(k)
                )
            for name, limit in value.items():
                if isinstance(limit, dict) and "soft" in limit and "hard" in limit:
                    out += [flag, f"{name}={limit['soft']}:{limit['hard']}"]
                elif isinstance(limit, int) and not isinstance(limit, bool):
                    out += [flag, f"{name}={limit}"]
                else:
                    raise ConfigError(f"{key}.{name}: must be a number or {{soft, hard}}", "nproc: 65535", where=at(k))
    deploy = raw.get("deploy")
    if deploy is not None:
        out += _deploy(deploy, raw, at("deploy"), f"{base}.deploy", model)
    return out


def _deploy(deploy: Any, raw: Any, where: str, key: str, model: Model) -> list[str]:
    """deploy.resources.limits memory/cpus become --memory/--cpus; the rest is a warning."""
    if not isinstance(deploy, dict):
        raise ConfigError(f"{key}: must be a mapping", "deploy: {resources: {limits: {memory: 512m}}}", where=where)
    out: list[str] = []
    for k, v in deploy.items():
        if k == "resources" and isinstance(v, dict):
            for part, spec in v.items():
                if part != "limits" or not isinstance(spec, dict):
                    model.warnings.append(f"{where}: {key}.resources.{part} is not honoured by help.py (ignored)")
                    continue
                for limit, amount in spec.items():
                    if limit == "memory" and raw.get("mem_limit") is None:
                        out += ["--memory", _text(amount)]
                    elif limit == "cpus" and raw.get("cpus") is None:
                        out += ["--cpus", _text(amount)]
                    elif limit == "pids" and raw.get("pids_limit") is None:
                        out += ["--pids-limit", _text(amount)]
                    elif limit not in ("memory", "cpus", "pids"):
                        model.warnings.append(f"{where}: {key}.resources.limits.{limit} is not honoured (ignored)")
        elif k == "replicas" and v == 1:
            continue
        else:
            model.warnings.append(f"{where}: {key}.{k} is not honoured by help.py (ignored)")
    return out


def _env_files(value: Any, root: Path, where: str, key: str, inputs: list[str]) -> dict[str, str]:
    """env_file: a path or a list (of paths or {path, required}), read as .env files; later files win."""
    from helper.running import dotenv

    if value is None:
        return {}
    out: dict[str, str] = {}
    for item in value if isinstance(value, list) else [value]:
        path, needed = (item.get("path"), item.get("required", True)) if isinstance(item, dict) else (item, True)
        if not isinstance(path, str):
            raise ConfigError(f"{key}: must be a path or a list of paths", "env_file: .env.web", where=where)
        target = root / os.path.expanduser(path)
        inputs.append(str(target))
        if not target.is_file():
            if needed:
                raise ConfigError(f"{key}: {path} does not exist", "create it or mark it `required: false`",
                                  where=where)  # fmt: skip
            continue
        out.update(dotenv.read(target))
    return out


def _volume(spec: Any, root: Path, model: Model, where: str, key: str) -> str:
    """A volume as the engine's -v value: host paths made absolute, named volumes given their engine name."""
    if isinstance(spec, dict):
        kind, source, target = spec.get("type", "volume"), spec.get("source"), spec.get("target")
        if not target or kind not in ("volume", "bind"):
            raise ConfigError(f"{key}: a long-form volume needs type volume|bind and target", "or write SRC:DST",
                              where=where)  # fmt: skip
        source = _text(source) if source else ""
        if source and kind == "bind" and not source.startswith(("/", ".", "~")):
            source = "./" + source
        read_only = bool(spec.get("read_only"))
        spec = f"{source}:{target}" if source else _text(target)
        if source and read_only:
            spec += ":ro"
    source, sep, rest = spec.partition(":")
    if sep and source.startswith((".", "~")):
        source = str((root / os.path.expanduser(source)).resolve())
    elif sep and source and "/" not in source:
        if source not in model.volumes:
            raise ConfigError(f"{key}: named volume {source!r} is not declared under top-level volumes:",
                              f"declare it: volumes: {{{source}: {{}}}}", where=where)  # fmt: skip
        source = model.volumes[source]
    return source + sep + rest


RACY_WINDOW_NS = 2_000_000_000  # a file this fresh may change again within the same mtime tick


def load(project: Any, profile: str | None = None) -> Model:
    """The project's compose model; from .help/compose/model.marshal while the files it came from,
    the .env and the variables it used are unchanged (no YAML read: `compose ps` stays quick)."""
    root = Path(project.root)
    profile = profile or project.profile
    try:
        configured = project.get("run.env_file")
    except KeyError:
        configured = None
    key = modelcache.key(str(root), profile, configured)
    cached = _from_cache(root, key)
    if cached is not None:
        return cached
    model, env, from_file = _parse(project, root, profile)
    _to_cache(root, key, model, env, from_file, env_file(project))
    return model


_signature = modelcache.signature
tuple_or_none = modelcache.tuple_or_none


def _from_cache(root: Path, key: tuple[object, ...]) -> Model | None:
    entry = modelcache.valid_entry(str(root), key)
    if entry is None:
        return None
    try:
        model = Model(
            name=entry["name"],
            root=root,
            files=[Path(f) for f in entry["files"]],
            services={},
            secrets={k: Path(v) for k, v in entry["secrets"].items()},
            data=entry["data"],
        )
        for fields in entry["services"]:
            fields = dict(fields)
            fields["ports"] = [Port(*p) for p in fields["ports"]]
            fields["health"] = Health(*fields["health"]) if fields["health"] is not None else None
            model.services[fields["name"]] = Service(**fields)
        model.secret_values = secret_like({**entry["env_secrets"], **os.environ}, None)
        extra = entry["extra"]
        model.profiles, model.external = set(extra["profiles"]), set(extra["external"])
        model.networks, model.volumes = dict(extra["networks"]), dict(extra["volumes"])
        model.warnings, model.inputs = list(extra["warnings"]), list(extra["inputs"])
    except (KeyError, TypeError, ValueError):
        return None
    return model


def _to_cache(
    root: Path, key: tuple[object, ...], model: Model, env: _Seen, from_file: dict[str, str], dotenv_file: Path
) -> None:
    """Keep the model for the next load, unless a file it depends on is too fresh to trust its stat."""
    import marshal
    import time

    from helper.config_schema import is_secret

    now = time.time_ns()
    sigs = [sig for _, sig in key[5]] + [_signature(str(dotenv_file))]  # type: ignore[attr-defined]
    sigs += [_signature(path) for path in model.inputs]
    if any(sig is not None and now - sig[0] < RACY_WINDOW_NS for sig in sigs):
        return
    services = []
    for service in model.services.values():
        fields = {n: _plain(getattr(service, n)) for n in service.__fields__}
        fields["ports"] = [[p.host, p.container, p.protocol, p.host_ip] for p in service.ports]
        health = service.health
        fields["health"] = (
            None
            if health is None
            else [health.test, health.interval, health.timeout, health.retries, health.start_period]
        )
        services.append(fields)
    entry = {
        "name": model.name,
        "files": [str(f) for f in model.files],
        "secrets": {k: str(v) for k, v in model.secrets.items()},
        "data": _plain(model.data),
        "services": services,
        "env_file": str(dotenv_file),
        "env_sig": _signature(str(dotenv_file)),
        "environ": {name: os.environ.get(name) for name in sorted(env.names)},
        "env_secrets": {k: v for k, v in from_file.items() if is_secret(k)},
        "extra": {
            "profiles": sorted(model.profiles),
            "networks": model.networks,
            "volumes": model.volumes,
            "external": sorted(model.external),
            "warnings": model.warnings,
            "inputs": {path: _signature(path) for path in model.inputs},
        },
    }
    try:
        payload = marshal.dumps((key, entry))  # type: ignore[arg-type]
        from helper.fsutil import atomic_write

        # 0600: the interpolated document and the .env's secret values are in it, as in the .env itself
        atomic_write(modelcache.path(str(root)), payload, mode=0o600, fsync=False)
    except (OSError, ValueError):
        pass  # a read-only project still works, only slower


def _plain(value: Any) -> Any:
    """`value` as JSON would give it back (plain dicts and lists, keys as strings): marshal can store it."""
    if isinstance(value, dict):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _parse(project: Any, root: Path, profile: str) -> tuple[Model, _Seen, dict[str, str]]:
    """The model read from the files, the variables it looked up, and the .env's values."""
    from plugins.compose.yamlish import loads

    files = find_files(root, profile)
    from_file = dotenv_values(project)
    env = _Seen({**from_file, **os.environ})
    merged: Any = None
    service_where: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path.name}: {exc}", "check the file", where=str(path)) from None
        doc = loads(text, str(path))
        if not isinstance(doc, dict):
            raise ConfigError(
                "a compose file must be a mapping with `services:`", "see compose.yaml", where=f"{path}:1"
            )
        for k in doc:
            if k not in TOP_KEYS and not k.startswith("x-"):
                raise ConfigError(
                    f"{k}: unknown top-level key",
                    f"known: {', '.join(sorted(TOP_KEYS))}",
                    where=f"{path}:{getattr(doc, 'lines', {}).get(k, 1)}",
                )
        services = doc.get("services")
        if services is not None and not isinstance(services, dict):
            raise ConfigError(
                "services: must be a mapping of service names",
                "services:\n  web: ...",
                where=f"{path}:{getattr(doc, 'lines', {}).get('services', 1)}",
            )
        for name in services or {}:
            service_where[name] = f"{path}:{getattr(services, 'lines', {}).get(name, 1)}"
        doc = interpolate(doc, env, f"{path}:1", "")
        merged = doc if merged is None else merge(merged, doc)
    merged = untag(merged)
    services_doc = merged.get("services") or {}
    if not services_doc:
        raise ConfigError("no services defined", "add a service under `services:`", where=f"{files[0]}:1")
    secrets: dict[str, Path] = {}
    for name, spec in (merged.get("secrets") or {}).items():
        if not isinstance(spec, dict) or "file" not in spec:
            raise ConfigError(
                f"secrets.{name}: needs `file:`", "secrets: {name: {file: ./secret.txt}}", where=f"{files[0]}:1"
            )
        secrets[name] = (root / str(spec["file"])).resolve()
    model = Model(
        name=_text(merged.get("name") or re.sub(r"[^a-z0-9_-]", "", root.name.lower()) or "project"),
        root=root,
        files=files,
        services={},
        secrets=secrets,
        data=merged,
    )
    model.profiles = {p.strip() for p in env.get("COMPOSE_PROFILES", "").split(",") if p.strip()} | {profile}
    for kind in ("networks", "volumes"):
        declared = merged.get(kind) or {}
        where = f"{files[0]}:{getattr(merged, 'lines', {}).get(kind, 1)}"
        if not isinstance(declared, dict):
            raise ConfigError(f"{kind}: must be a mapping of names", f"{kind}:\n  data: {{}}", where=where)
        found: dict[str, str] = {"default": f"{model.name}_default"} if kind == "networks" else {}
        for key, spec in declared.items():
            spec = spec if spec is not None else {}
            if not isinstance(spec, dict):
                raise ConfigError(f"{kind}.{key}: must be a mapping (or empty)", f"{key}: {{}}", where=where)
            engine_name = _text(spec.get("name") or (key if spec.get("external") else f"{model.name}_{key}"))
            if spec.get("external"):
                model.external.add(engine_name)
            found[str(key)] = engine_name
        if kind == "networks":
            model.networks = found
        else:
            model.volumes = found
    for name, raw in services_doc.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ConfigError(
                f"services.{name}: not a valid service name", "letters, digits, _ . -", where=service_where[name]
            )
        model.services[name] = _service(name, raw, service_where[name], root, model)
    for name, service in model.services.items():
        mode = service.network_mode or ""
        if mode.startswith("service:") and mode[8:] not in model.services:
            raise ConfigError(f"services.{name}.network_mode: unknown service {mode[8:]!r}", "fix the name",
                              where=service.line)  # fmt: skip
        if mode.startswith("service:") and mode[8:] not in service.depends_on:
            service.depends_on.append(mode[8:])  # it joins that container's network: start it first
            service.conditions[mode[8:]] = "service_started"
        for dep in list(service.depends_on):
            if dep not in model.services and not service.required.get(dep, True):
                model.warnings.append(f"{service.line}: services.{name}.depends_on: {dep!r} is not defined (optional)")
                service.depends_on.remove(dep)
                continue
            if dep not in model.services:
                raise ConfigError(
                    f"services.{name}.depends_on: unknown service {dep!r}", "fix the name", where=service.line
                )
    model.secret_values = secret_like(env, project)
    return model, env, from_file


def check_secrets(model: Model, names: list[str]) -> None:
    """Each secret file used by `names` exists and is 0600 (readable by its owner only)."""
    for sname in sorted({s for n in names for s in model.services[n].secrets}):
        path = model.secrets[sname]
        if not path.is_file():
            raise ConfigError(f"secrets.{sname}: file {path} does not exist", "create it (chmod 600)")
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(
                f"secrets.{sname}: {path.name} is mode {mode:04o}, readable by others", f"chmod 600 {path}"
            )


def masked(model: Model) -> Any:
    """The merged document as `compose config` shows it: secret values hidden."""
    from helper.running.dotenv import MASK, mask

    def walk(value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, str):
            if "=" in value and key == "environment":
                k, _, v = value.partition("=")
                return f"{k}={mask(k, v)}"
            shown = mask(key, value)
            for secret in model.secret_values:
                shown = shown.replace(secret, MASK)
            return shown
        return value

    return walk(model.data, "")
