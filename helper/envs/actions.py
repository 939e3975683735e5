"""The `env` sub-commands: check, repair, create, report (each `fn(args, project) -> exit code`)."""

from __future__ import annotations

import argparse
from typing import Any

from helper.envs.detect import for_project
from helper.envs.health import Health
from helper.envs.health import check as run_checks
from helper.errors import HelpError
from helper.ui import console

MARKS = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}


def render_health(health: Health) -> None:
    env = health.env
    if env is not None:
        console.echo(
            f"environment: {env.executable or env.prefix}  ({env.kind}, manager {health.manager or env.manager or '-'})"
        )
    for finding in health.findings:
        label, colour = MARKS.get(finding.status, (finding.status, "bold"))
        console.echo(f"{console.style(f'{label:>4}', colour)}  {finding.check:<16} {finding.detail}")
        if finding.fix and finding.status != "ok":
            console.echo(f"{'':<22} fix: {finding.fix}")
    failed = sum(f.status == "fail" for f in health.findings)
    warned = sum(f.status == "warn" for f in health.findings)
    console.echo(f"\n{len(health.findings)} checks: {failed} failed, {warned} warnings")


def check(args: argparse.Namespace, project: Any) -> int:
    found = for_project(project, refresh=args.refresh)
    with console.progress("checking the environment"):
        health = run_checks(project, found, offline=args.offline)
    console.result(health.to_dict(), lambda _: render_health(health))
    return 0 if health.ok else 1


def plan_for(health: Health) -> list[str]:
    """The repair actions the findings call for, in the order they must run."""
    actions = {f.action for f in health.findings if f.status != "ok" and f.action}
    env = health.env
    if "create" in actions and env is not None and env.project and env.exists:
        actions.discard("create")  # the project has its env; other findings say what is wrong with it
    if "create" in actions or "recreate" in actions:
        actions.discard("install")  # a new env is checked again afterwards; installing into the old one is moot
    return [a for a in ("create", "recreate", "lock", "install") if a in actions]


def apply(action: str, project: Any, health: Health, found: Any) -> list[str]:
    from helper.envs import rebuild

    env = health.env
    if action == "create":
        return [rebuild.create(project, found, manager="auto", version=None, force=False)]
    if action == "recreate" and env is not None:
        return [rebuild.recreate(project, env, found, health.manager)]
    if action == "lock" and health.manager:
        done = [rebuild.lock(project, health.manager)]
        if env is not None and env.exists and env.project:
            done.append(rebuild.install(project, env, health.manager))
        return done
    if action == "install" and env is not None:
        return [rebuild.install(project, env, health.manager)]
    return []


def repair(args: argparse.Namespace, project: Any) -> int:
    from helper.fsutil import FileLock

    found = for_project(project, refresh=True)
    health = run_checks(project, found, offline=False)
    plan = plan_for(health)
    if not plan:
        console.result({"applied": [], "health": health.to_dict()}, lambda _: console.success("nothing to repair"))
        return 0 if health.ok else 1
    if args.dry_run:
        data = {"plan": plan, "health": health.to_dict()}
        console.result(data, lambda _: console.echo("would apply: " + ", ".join(plan)))
        return 0
    applied: list[str] = []
    done: set[str] = set()
    with FileLock(project.ensure_state_dir() / "env.lock", timeout=600), console.progress("repairing the environment"):
        # Two passes: a new or rebuilt env is checked again, and what it still lacks is installed.
        for _ in range(2):
            for action in plan:
                applied += apply(action, project, health, found)
                done.add(action)
            found = for_project(project, refresh=True)
            health = run_checks(project, found, offline=False)
            plan = [a for a in plan_for(health) if a not in done]
            if not plan:
                break

    def render(_: Any) -> None:
        for line in applied:
            console.success(line)
        render_health(health)

    console.result({"applied": applied, "health": health.to_dict()}, render)
    return 0 if health.ok else 1


def create(args: argparse.Namespace, project: Any) -> int:
    from helper.envs import rebuild
    from helper.fsutil import FileLock

    if not project.found:
        raise HelpError(
            f"no project at or above {project.root}", "run inside a project (pyproject.toml) or pass --project DIR"
        )
    found = for_project(project, refresh=True)
    with FileLock(project.ensure_state_dir() / "env.lock", timeout=600), console.progress("creating the environment"):
        done = rebuild.create(project, found, manager=args.manager, version=args.version, force=args.force)
    after = for_project(project, refresh=True)
    chosen = after.chosen
    data = {"created": done, "chosen": chosen.to_dict() if chosen else None}
    console.result(data, lambda _: console.success(f"{done}: {chosen.executable if chosen else '?'}"))
    return 0


def report(args: argparse.Namespace, project: Any) -> int:
    from pathlib import Path

    from helper.envs.report import build, write

    found = for_project(project, refresh=True)
    health = run_checks(project, found, offline=args.offline)
    data = build(project, found, health)
    out = Path(args.output) if args.output else project.root / project.config["env.report_dir"]
    md, js = write(out, data)
    console.result({"markdown": str(md), "json": str(js), "ok": health.ok},
                   lambda _: console.success(f"wrote {md} and {js}"))  # fmt: skip
    return 0
