"""`help.py run`: the whole dev environment in one command, and a clean stop.

The pipeline: .env from its template -> what to run (config, Procfile or
detection) -> setup steps (migrations) -> service checks -> supervise until
Ctrl-C / SIGTERM / `run stop`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from helper.errors import HelpError
from helper.ui import console

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

LONG_RUNNING = True

EXAMPLES = """examples:
  help.py run                         start everything (.env, migrations, server with reload, workers)
  help.py run --profile test          the same with .env.test from the template's test profile
  help.py run env                     only create/update .env from config/env.template or .env.example
  help.py run plan --json             what would run, in which order, without starting anything
  help.py run --status                from another terminal: what is running (pids, uptime)
  help.py run stop                    from another terminal: stop it all (SIGTERM, grace, SIGKILL)

processes come from [tool.help.run.processes] in pyproject.toml, else a Procfile,
else detection: FastAPI/Starlette (uvicorn --reload), Flask, Django; alembic.ini
adds `alembic upgrade head` first. A crashing process is restarted with backoff
and given up after run.restart_limit crashes in a row.

exit codes: 0 stopped cleanly, 1 a process or step failed (named), 2 configuration error"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "run",
        help="start the dev environment: .env, migrations, server, workers",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", nargs="?", choices=("start", "stop", "status", "env", "plan"), default="start")
    parser.add_argument("--status", action="store_true", help="same as `run status`")
    parser.add_argument(
        "--grace", type=float, default=None, help="seconds between SIGTERM and SIGKILL (default: run.grace)"
    )
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    action = "status" if args.status else args.action
    grace = args.grace if args.grace is not None else float(project.config["run.grace"])
    if action == "status":
        return _status(project)
    if action == "stop":
        return _stop(project, grace)
    env_result = _dotenv(project, announce=action != "env")
    if action == "env":
        data = {
            "file": str(env_result.path),
            "template": str(env_result.template) if env_result.template else None,
            "added": env_result.added,
        }

        def render(d: dict[str, Any]) -> None:
            if d["template"] is None:
                console.info("no env template (config/env.template or .env.example): nothing to do")
            elif d["added"]:
                console.success(f"{Path(d['file']).name}: added {', '.join(d['added'])}")
            else:
                console.success(f"{Path(d['file']).name} is up to date")

        console.result(data, render)
        return 0
    from helper.running import plan as planning

    the_plan = planning.build(project, env_result.values)
    if action == "plan":
        console.result(the_plan.to_dict(), lambda d: _render_plan(d))
        return 0
    return _start(project, the_plan, grace)


def _dotenv(project: Any, announce: bool) -> Any:
    from helper.running import dotenv

    template = dotenv.find_template(project.root, project.profile, project.config["run.env_template"])
    target = dotenv.env_path(project.root, project.profile, project.config["run.env_file"])
    result = dotenv.ensure(
        project.root, project.profile, template=template, target=target, lock_dir=project.ensure_state_dir()
    )
    if result.added and announce:
        console.info(
            f"{target.name}: added {', '.join(result.added)} from {template.name if template else '?'} (values not shown)"
        )
    if result.written and (project.root / ".git").exists():
        _warn_if_tracked(project.root, target)
    return result


def _warn_if_tracked(root: Path, target: Path) -> None:
    """Secrets must not reach git: warn when the env file is not git-ignored."""
    from helper import proc

    check = proc.run(["git", "-C", str(root), "check-ignore", "-q", str(target)], timeout=10)
    if check.returncode == 1:
        console.warn(f"{target.name} holds secrets but is not git-ignored; add `{target.name}` to .gitignore")


def _render_plan(d: dict[str, Any]) -> None:
    console.echo(f"source: {d['source']}   env: {d['env_file'] or '-'}")
    for note in d["notes"]:
        console.echo(f"  {note}")
    rows = [
        (
            p["name"],
            "step" if p["oneshot"] else "process",
            ", ".join(p["depends_on"]) or "-",
            p["ready"] or "-",
            p["command"],
        )
        for p in d["processes"]
    ]
    console.table(rows, ("name", "kind", "after", "ready when", "command"))


def _run_dir(project: Any) -> Path:
    run_dir = project.ensure_state_dir() / "run"
    run_dir.mkdir(exist_ok=True)
    return run_dir


def _start(project: Any, the_plan: Any, grace: float) -> int:
    from helper.fsutil import FileLock
    from helper.running import state
    from helper.running.supervisor import Settings, Supervisor

    if the_plan.missing:
        python = Path(the_plan.python)
        where = python.parent.parent if (python.parent.parent / "pyvenv.cfg").is_file() else python
        raise HelpError(
            f"{', '.join(the_plan.missing)} {'is' if len(the_plan.missing) == 1 else 'are'} not installed in {where}",
            f"{python} -m pip install {' '.join(the_plan.missing)}  (or add {'it' if len(the_plan.missing) == 1 else 'them'} to the project's dependencies)",
        )
    run_dir = _run_dir(project)
    lock = FileLock(run_dir / "run.lock", timeout=0)
    try:
        lock.acquire()
    except HelpError:
        info = state.read(run_dir / state.SUPERVISOR)
        pid = f" (pid {info['pid']})" if info else ""
        raise HelpError(
            f"help.py run is already running in {project.root}{pid}",
            "see it with `help.py run --status`; stop it with `help.py run stop`",
        ) from None
    try:
        leftover = [p for p in state.status(run_dir)["processes"] if p["alive"]]
        if leftover:
            names = ", ".join(f"{p['name']} (pid {p['pid']})" for p in leftover)
            raise HelpError(
                f"processes of an earlier run are still alive: {names}",
                "stop them with `help.py run stop`, then run again",
            )
        if project.config["run.check_services"]:
            from helper.running.autodetect import check_services

            the_plan.notes += check_services(project.root, the_plan.env)
        for note in the_plan.notes:
            console.info(note)
        config = project.config
        settings = Settings(
            root=project.root,
            run_dir=run_dir,
            env=the_plan.env,
            grace=grace,
            ready_timeout=float(config["run.ready_timeout"]),
            restart_limit=int(config["run.restart_limit"]),
            restart_window=float(config["run.restart_window"]),
            reload_interval=float(config["run.reload_interval"]),
            color=console.color_err if console.json else console.color_out,
            host=the_plan.host,
            profile=project.profile,
        )
        import sys

        supervisor = Supervisor(the_plan.processes, settings, stream=sys.stderr if console.json else sys.stdout)
        outcome = supervisor.run()
    finally:
        lock.release()
    data = {
        "reason": outcome.reason,
        "exit_code": outcome.code,
        "failed": outcome.failed,
        "killed": outcome.killed,
        "processes": outcome.processes,
    }

    def render(d: dict[str, Any]) -> None:
        for name, why in d["failed"].items():
            console.error(f"{name}: {why}")
        if d["killed"]:
            console.warn(f"killed after the grace period: {', '.join(d['killed'])}")
        if not d["failed"]:
            console.info("all processes stopped")

    console.result(data, render)
    if outcome.failed:
        first = next(iter(outcome.failed))
        console.info(f"hint: see {first}'s output above; `help.py run plan` shows its command")
    return outcome.code


def _status(project: Any) -> int:
    from helper.running import state

    run_dir = project.state_dir / "run"
    data = state.status(run_dir)

    def render(d: dict[str, Any]) -> None:
        if not d["running"] and not d["processes"]:
            console.echo("not running")
            return
        sup = d["supervisor"]
        console.echo(
            f"help.py run: pid {sup['pid']}, up {sup['uptime']:.0f}s, profile {sup['profile']}"
            if sup
            else "help.py run is not running (stale processes below)"
        )
        rows = [
            (
                p["name"],
                p["pid"],
                "running" if p["alive"] else "dead",
                f"{p['uptime']:.0f}s" if p["uptime"] is not None else "-",
                p["restarts"],
                p["command"],
            )
            for p in d["processes"]
        ]
        console.table(rows, ("name", "pid", "state", "up", "restarts", "command"))

    console.result(data, render)
    return 0 if data["running"] or not data["processes"] else 1


def _stop(project: Any, grace: float) -> int:
    from helper.running import state

    run_dir = project.state_dir / "run"
    before = state.status(run_dir)
    if not before["running"] and not any(p["alive"] for p in before["processes"]):
        for path in run_dir.glob("*.pid") if run_dir.is_dir() else []:
            state.remove(path)
        console.result({"stopped": False, "was_running": False}, lambda d: console.echo("not running"))
        return 0
    result = state.stop_all(run_dir, grace)
    after = state.status(run_dir)
    left = [p for p in after["processes"] if p["alive"]]
    data = {"stopped": not left and not after["running"], "was_running": True, **result}

    def render(d: dict[str, Any]) -> None:
        if d["stopped"]:
            extra = f" (and orphans: {', '.join(d['orphans_stopped'])})" if d["orphans_stopped"] else ""
            console.success(f"stopped{extra}")
        else:
            console.error(
                "some processes are still alive",
                "rerun `help.py run stop`, or kill them by pid (`help.py run --status`)",
            )

    console.result(data, render)
    return 0 if data["stopped"] else 1
