"""The project's compose model: files found, merged per profile, interpolated from .env, validated.

compose.yaml (or compose.yml / docker-compose.yml / docker-compose.yaml) is the base;
compose.<profile>.yaml (or .yml) is merged over it as compose merges overrides:
mappings key by key, `ports`/`volumes`/`expose` appended, anything else replaced.
${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message} and $$ are expanded from the
process environment over the project's .env (helper.running.dotenv). Every error names
file:line and the key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from helper.errors import ConfigError
from helper.records import Factory, Record

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

BASE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
APPENDED = ("ports", "volumes", "expose")
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "volumes", "depends_on",
    "healthcheck", "restart", "secrets", "privileged", "network_mode", "labels", "user", "working_dir",
    "container_name", "expose", "hostname", "cap_add", "cap_drop", "stop_grace_period", "profiles",
}  # fmt: skip
TOP_KEYS = {"services", "secrets", "volumes", "networks", "name", "version", "configs"}
_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$")


class Port(Record):
    host: int
    container: int
    protocol: str = "tcp"
    host_ip: str = ""

    def spec(self) -> str:
        prefix = f"{self.host_ip}:" if self.host_ip else ""
        return f"{prefix}{self.host}:{self.container}/{self.protocol}"


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

    def digest(self) -> str:
        """A hash of its merged definition: a change means it must be re-created."""
        import hashlib
        import json

        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Model(Record):
    name: str  # project name: the containers' label value
    root: Path
    files: list[Path]
    services: dict[str, Service]
    secrets: dict[str, Path]
    data: dict[str, Any]  # the merged, interpolated document
    secret_values: set[str] = Factory(set)

    def order(self, wanted: list[str] | None = None) -> list[str]:
        """Services in start order (dependencies first), limited to `wanted` and what they need."""
        chosen = wanted if wanted else list(self.services)
        for name in chosen:
            if name not in self.services:
                known = ", ".join(self.services) or "none"
                raise ConfigError(f"unknown service {name!r}", f"services in {self.files[0].name}: {known}")
        done: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                raise ConfigError(f"services.{name}.depends_on: dependency cycle", "remove one depends_on edge")
            visiting.add(name)
            for dep in self.services[name].depends_on:
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
    from plugins.compose.yamlish import YMap

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
    from plugins.compose.yamlish import YMap

    if isinstance(base, dict) and isinstance(over, dict):
        out = YMap(getattr(base, "line", 0))
        out.lines = {**getattr(base, "lines", {}), **getattr(over, "lines", {})}
        for k, v in base.items():
            out[k] = v
        for k, v in over.items():
            if k == "environment" and k in out:
                out[k] = {**_env_dict(out[k], "", ""), **_env_dict(v, "", "")}
            elif k in out and k in APPENDED and isinstance(out[k], list) and isinstance(v, list):
                out[k] = out[k] + [x for x in v if x not in out[k]]
            elif k in out:
                out[k] = merge(out[k], v, k)
            else:
                out[k] = v
        return out
    return over


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


def _service(name: str, raw: Any, where: str, root: Path, secrets: dict[str, Path]) -> Service:
    base = f"services.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{base}: must be a mapping", "indent the service's keys under its name", where=where)
    lines = getattr(raw, "lines", {})
    file = where.rsplit(":", 1)[0]

    def at(k: str) -> str:
        return f"{file}:{lines[k]}" if k in lines else where

    for k in raw:
        if k not in SERVICE_KEYS:
            raise ConfigError(f"{base}.{k}: unknown key", f"known keys: {', '.join(sorted(SERVICE_KEYS))}", where=at(k))
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
    if not isinstance(volumes, list) or not all(isinstance(v, str) for v in volumes):
        raise ConfigError(
            f"{base}.volumes: must be a list of SOURCE:TARGET strings", "- ./data:/data", where=at("volumes")
        )
    deps = raw.get("depends_on") or []
    if isinstance(deps, dict):
        deps = list(deps)
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ConfigError(f"{base}.depends_on: must be a list of service names", "- db", where=at("depends_on"))
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
    return Service(
        name=name,
        image=_text(image),
        build=dict(build) if build is not None else None,
        command=_argv(raw.get("command"), at("command"), f"{base}.command"),
        entrypoint=_argv(raw.get("entrypoint"), at("entrypoint"), f"{base}.entrypoint"),
        environment=_env_dict(raw.get("environment"), at("environment"), f"{base}.environment"),
        ports=[_port(p, at("ports"), f"{base}.ports") for p in ports],
        volumes=[_volume(v, root) for v in volumes],
        depends_on=deps,
        health=_health(raw.get("healthcheck"), at("healthcheck"), f"{base}.healthcheck"),
        restart=restart,
        secrets=names,
        privileged=bool(raw.get("privileged", False)),
        network_mode=raw.get("network_mode"),
        labels={str(k): _text(v) for k, v in labels.items()},
        user=None if raw.get("user") is None else _text(raw.get("user")),
        working_dir=raw.get("working_dir"),
        raw=_plain(raw),
        line=where,
    )


def _volume(spec: str, root: Path) -> str:
    source, sep, rest = spec.partition(":")
    if sep and source.startswith((".", "~")):
        source = str((root / os.path.expanduser(source)).resolve())
    return source + sep + rest


CACHE = ("compose", "model.marshal")  # in the state dir (.help/): the last model read, keyed by what it came from
CACHE_FORMAT = 1
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
    key = _cache_key(root, profile, configured)
    cached = _from_cache(root, key)
    if cached is not None:
        return cached
    model, env, from_file = _parse(project, root, profile)
    _to_cache(root, key, model, env, from_file, env_file(project))
    return model


def _cache_path(root: Path) -> str:
    from helper.root import state_dir  # follows HELP_STATE_DIR

    return os.path.join(state_dir(str(root)), *CACHE)


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _candidates(root: Path, profile: str) -> list[str]:
    names = [*BASE_NAMES, f"compose.{profile}.yaml", f"compose.{profile}.yml"]
    return [os.path.join(root, n) for n in names]


def _cache_key(root: Path, profile: str, configured: str | None) -> tuple[object, ...]:
    from helper import __version__

    code = [os.path.join(os.path.dirname(__file__), n) for n in ("model.py", "yamlish.py")]
    files = tuple((p, _signature(p)) for p in (*_candidates(root, profile), *code))
    return (CACHE_FORMAT, __version__, str(root), profile, configured, files)


def _from_cache(root: Path, key: tuple[object, ...]) -> Model | None:
    import marshal

    try:
        with open(_cache_path(root), "rb") as handle:
            stored_key, entry = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    try:
        if stored_key != key or _signature(entry["env_file"]) != tuple_or_none(entry["env_sig"]):
            return None
        if any(os.environ.get(name) != value for name, value in entry["environ"].items()):
            return None
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
    except (KeyError, TypeError, ValueError):
        return None
    return model


def tuple_or_none(value: Any) -> tuple[int, ...] | None:
    return None if value is None else tuple(value)


def _to_cache(
    root: Path, key: tuple[object, ...], model: Model, env: _Seen, from_file: dict[str, str], dotenv_file: Path
) -> None:
    """Keep the model for the next load, unless a file it depends on is too fresh to trust its stat."""
    import marshal
    import time

    from helper.config_schema import is_secret

    now = time.time_ns()
    sigs = [sig for _, sig in key[5]] + [_signature(str(dotenv_file))]  # type: ignore[attr-defined]
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
    }
    try:
        payload = marshal.dumps((key, entry))  # type: ignore[arg-type]
        from helper.fsutil import atomic_write

        # 0600: the interpolated document and the .env's secret values are in it, as in the .env itself
        atomic_write(_cache_path(root), payload, mode=0o600, fsync=False)
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
            if k not in TOP_KEYS:
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
    for name, raw in services_doc.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ConfigError(
                f"services.{name}: not a valid service name", "letters, digits, _ . -", where=service_where[name]
            )
        model.services[name] = _service(name, raw, service_where[name], root, secrets)
    for name, service in model.services.items():
        for dep in service.depends_on:
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
