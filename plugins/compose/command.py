"""`help.py compose`: up, down, restart, ps, logs, exec, config, build, pull, watch, events."""

from __future__ import annotations

import argparse
import time

from helper.errors import HelpError, UsageError
from helper.ui import console

TYPE_CHECKING = False  # typing costs start-up time (`compose ps` is a quick command); annotations are strings
if TYPE_CHECKING:
    from typing import Any

    from helper.checks import Check

PASSTHROUGH = True
LONG_RUNNING = True  # `compose watch` is in the journal even when it is killed

EXAMPLES = """examples:
  help.py compose up -d                 start every service (dependencies first)
  help.py compose up --monitor          start and keep them healthy in the foreground
  help.py compose ps --json             service, state, health, restarts, ports, uptime
  help.py compose logs -f web           follow a service's output
  help.py compose exec web -- sh        a shell in a service
  help.py compose config                the merged file, secrets masked
  help.py compose events --follow       restarts, health changes, breaker trips
  help.py compose vscode                tasks in .vscode/tasks.json (the user's kept)
  help.py compose kube                  Kubernetes YAML via podman kube generate"""

ACTIONS = (
    "up",
    "down",
    "restart",
    "ps",
    "logs",
    "exec",
    "config",
    "build",
    "pull",
    "watch",
    "events",
    "vscode",
    "kube",
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "compose", help="run the project's containers", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("services", nargs="*", metavar="SERVICE")
    parser.add_argument("-d", "--detach", action="store_true", help="up: return once started (the default)")
    parser.add_argument("--monitor", action="store_true", help="up: then watch health in the foreground")
    parser.add_argument("--wait", action="store_true", help="up: return once every service is running and healthy")
    parser.add_argument(
        "--timeout", type=float, default=120.0,
        help="up: give up waiting for a depends_on condition (or, with --wait, health) after this many seconds",
    )  # fmt: skip
    parser.add_argument("--volumes", action="store_true", help="down: also remove the project's named volumes")
    parser.add_argument("-o", "--output", help="kube: file to write (default: <project>-kube.yaml)")
    parser.add_argument("-f", "--follow", action="store_true", help="logs/events: keep following")
    return parser


def _setup(project: Any) -> tuple[Any, Any]:
    from plugins.compose import engine as eng
    from plugins.compose.model import load

    model = load(project)
    for warning in model.warnings:
        console.warn(warning)
    return eng.choose(str(project.get("compose.engine"))), model


def run(args: argparse.Namespace, project: Any) -> int:
    from plugins.compose import engine as eng
    from plugins.compose import events

    action = args.action
    if action == "config":
        return _config(project)
    if action == "events":
        return _events(project, args.follow)
    if action == "vscode":
        from plugins.compose.editors import vscode

        wrote = vscode(project.root)
        console.result(wrote, lambda d: console.echo(f"{d['file']}: {d['added']} tasks written, {d['kept']} kept"))
        return 0
    engine, model = _setup(project)
    names = model.order(args.services or None)  # the engine is probed only when a call to it fails
    if action in ("up", "watch"):
        from plugins.compose.model import check_secrets

        check_secrets(model, names)
        if action == "up":
            done = eng.up(
                engine, model, names, emit=lambda k, s, **f: events.append(model.root, k, s, **f), wait=args.timeout
            )
            if args.wait:
                _wait_healthy(engine, model, names, args.timeout)
            console.result(done, _show_up)
        if args.monitor or action == "watch":
            from plugins.compose.monitor import Watch

            return Watch(engine, model, project, names).run()
        return 0
    if action == "kube":
        from plugins.compose.editors import kube

        target = project.root / (args.output or f"{model.name}-kube.yaml")
        made = kube(engine, [eng.container_name(model, model.services[n]) for n in names], target)
        console.result(made, lambda d: console.echo(f"wrote {d['file']}"))
        return 0
    if action == "down":
        gone = eng.down(engine, model, args.services or None, volumes=args.volumes)
        console.result({"removed": gone}, lambda d: console.echo(f"removed: {', '.join(d['removed']) or 'nothing'}"))
        return 0
    if action == "restart":
        for name in names:
            engine.run("restart", "-t", "3", eng.container_name(model, model.services[name]), check=True)
            events.append(model.root, "restart", name, reason="requested")
        console.result({"restarted": names}, lambda d: console.echo("restarted: " + ", ".join(d["restarted"])))
        return 0
    if action == "ps":
        return _ps(engine, model, names, everything=not args.services)
    from helper import proc

    if action == "logs":
        argv = [engine.binary, "logs", *(["-f"] if args.follow else [])]
        return max(proc.passthrough([*argv, eng.container_name(model, model.services[n])]) for n in names)
    if action == "exec":
        if len(args.services) != 1:
            raise UsageError("exec needs exactly one service", "help.py compose exec web -- sh -c 'ls /'")
        command = list(args.passthrough) or ["sh"]
        return proc.passthrough([engine.binary, "exec", eng.container_name(model, model.services[names[-1]]), *command])
    if action == "build":
        for name in names:
            service = model.services[name]
            if service.build:
                context = str(model.root / str(service.build.get("context", ".")))
                argv = [engine.binary, "build", "-t", str(service.image), context]
                if service.build.get("dockerfile"):
                    argv[2:2] = ["-f", str(model.root / str(service.build["dockerfile"]))]
                if proc.passthrough(argv):
                    raise HelpError(f"services.{name}: build failed", "see the output above")
        return 0
    if action == "pull":
        for name in names:
            service = model.services[name]
            if not service.build and proc.passthrough([engine.binary, "pull", str(service.image)]):
                raise HelpError(f"services.{name}: cannot pull {service.image}", "check the image name and registry")
        return 0
    raise UsageError(f"unknown action {action}")


def _wait_healthy(engine: Any, model: Any, names: list[str], timeout: float) -> None:
    """Until every healthcheck passes: help.py runs it on podman (as the monitor does), docker's daemon on docker."""
    from plugins.compose import engine as eng
    from plugins.compose import events

    deadline = time.monotonic() + timeout
    pending = list(names)
    state = events.load_state(model.root)
    while pending:
        rows = {eng.labels_of(r).get(eng.SERVICE_LABEL, ""): r for r in engine.containers(model.name)}
        for name in list(pending):
            service = model.services[name]
            row = rows.get(name)
            if row is None or eng.state_of(row) != "running":
                if row is not None and row.get("ExitCode") == 0 and model.one_shot(name):
                    pending.remove(name)  # an init container that has done its job
                continue
            if service.health is not None:
                if not engine.health(eng.container_name(model, service), service):
                    continue
                entry = state.setdefault("services", {}).setdefault(name, {"restarts": 0, "breaker": "closed"})
                if entry.get("health") != "healthy":
                    entry["health"] = "healthy"
                    events.append(model.root, "health", name, health="healthy")
            pending.remove(name)
        if not pending:
            break
        if time.monotonic() > deadline:
            events.save_state(model.root, state)
            raise HelpError(
                f"not healthy after {timeout:g}s: {', '.join(pending)} (the others are up)",
                "see `help.py compose logs SERVICE`; stop them with `help.py compose down`",
            )
        time.sleep(0.1)
    events.save_state(model.root, state)


def _show_up(done: list[dict[str, str]]) -> None:
    for item in done:
        console.echo(f"{item['service']}: {item['action']} ({item['container']})")


def _config(project: Any) -> int:
    from plugins.compose.model import load, masked

    model = load(project)
    for warning in model.warnings:
        console.warn(warning)
    data = masked(model)
    import json

    console.result(data, lambda d: console.echo(json.dumps(d, indent=2)))
    return 0


def _ps(engine: Any, model: Any, names: list[str], everything: bool = False) -> int:
    from plugins.compose import engine as eng
    from plugins.compose import events, ps

    services = {
        name: (eng.container_name(model, service), service.health is not None, [p.spec() for p in service.ports])
        for name, service in model.services.items()
    }
    state = events.load_state(model.root).get("services", {})
    out = ps.rows(services, names, engine.containers(model.name), state, everything)
    console.result(out, ps.render)
    return 0


def _events(project: Any, follow: bool) -> int:
    import json
    from pathlib import Path

    from plugins.compose import events

    root = Path(project.root)
    seen = 0
    while True:
        rows = events.read(root)
        fresh, seen = rows[seen:], len(rows)
        if console.json and not follow:
            console.result(fresh)
        else:
            for e in fresh:
                if console.json:
                    print(json.dumps(e), flush=True)
                else:
                    stamp = time.strftime("%H:%M:%S", time.localtime(e["time"]))
                    extra = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("time", "kind", "service"))
                    console.echo(f"{stamp} {e['kind']:<16} {e.get('service', ''):<12} {extra}")
        if not follow:
            return 0
        time.sleep(0.5)


def checks(project: Any) -> list[Check]:
    """Rootless or rootful, the user-namespace mapping, risky settings in the compose file."""
    import getpass
    import os

    from helper.checks import Check

    result: list[Check] = []
    uid = os.getuid()
    result.append(Check("compose engine mode", "ok", "rootful (root)" if uid == 0 else "rootless"))
    if uid != 0:
        user = getpass.getuser()
        for path in ("/etc/subuid", "/etc/subgid"):
            try:
                lines = open(path, encoding="utf-8").read().splitlines()  # noqa: SIM115
            except OSError:
                lines = []
            if any(line.split(":")[0] in (user, str(uid)) for line in lines):
                result.append(Check(f"compose {path}", "ok", f"{user} has a mapping"))
            else:
                result.append(
                    Check(f"compose {path}", "warn", f"no entry for {user}: rootless containers cannot map users",
                          f"sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}")
                )  # fmt: skip
    try:
        from plugins.compose.model import load

        model = load(project)
    except HelpError:
        return result
    for name, service in model.services.items():
        if service.privileged:
            result.append(Check(f"compose {name}", "warn", "privileged container", "drop `privileged: true`"))
        if service.network_mode == "host":
            result.append(Check(f"compose {name}", "warn", "uses the host network", "publish ports instead"))
        for volume in service.volumes:
            if volume.split(":")[0].endswith(("docker.sock", "podman.sock")):
                result.append(Check(f"compose {name}", "warn", f"mounts the engine socket ({volume})",
                                    "the container can control the host's engine; remove the mount"))  # fmt: skip
    return result
