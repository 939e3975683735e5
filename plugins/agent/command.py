"""`help.py agent`: let local-model agents make a change in a worktree; inspect, apply or discard it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from helper.errors import HelpError, UsageError
from helper.ui import console

ACTIONS: tuple[str, ...] = ("run", "resume", "status", "log", "diff", "apply", "discard", "models", "pull")
ACTIONS += ("cancel", "retry", "rate", "stats", "ui")
ACTIONS += ("queue", "serve")

EXAMPLES = """examples:
  help.py agent "add a --since flag to history"   plan, code, review and test it on a branch
  help.py agent status [ID]                       tasks and their sub-tasks' states
  help.py agent log ID                            every step, tool call and sandbox result
  help.py agent diff ID                           the change, against the task's base
  help.py agent apply ID                          bring it into your tree (only if its tests pass)
  help.py agent discard ID                        remove its worktree and branch
  help.py agent resume ID                         continue a task that was stopped
  help.py agent models                            models on the server; agent pull NAME fetches one
  help.py agent cancel ID / retry ID              stop a working task / run a failed or cancelled one again
  help.py agent rate ID 1-5                       your verdict, part of the task's score
  help.py agent stats [--json]                    success rate, tokens, time per model and role; suggestions
  help.py agent ui                                live dashboard (needs textual)
  help.py agent queue "add a --since flag"        put a task on the queue (no words: the queue's state)
  help.py agent serve [--workers N]               work queued tasks until stopped (SIGTERM / Ctrl-C)
config: agent.server, agent.api (auto|ollama|openai), agent.model, agent.fallback, agent.parallel,
        agent.bandit (thompson|ucb1|off), agent.bandit_seed, agent.redis (queue in Redis), agent.lease,
        agent.archive_days, agent.log_max_bytes"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "agent", help="local-model coding agents", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("words", nargs="+", metavar="ACTION|TASK", help=f"one of {', '.join(ACTIONS)}, or the change")
    parser.add_argument("--model", help="model to use for this task (overrides agent.model)")
    parser.add_argument("--workers", type=int, help="serve: tasks worked on at once by this process (default 1)")
    parser.add_argument("--drain", action="store_true", help="serve: stop once the queue is empty")
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    words = list(args.words)
    action = words[0] if words[0] in ACTIONS else "run"
    rest = words[1:] if words[0] in ACTIONS else words
    root: Path = project.root
    if action in ("models", "pull"):
        return _models(project, rest) if action == "models" else _pull(project, rest)
    if action == "ui":
        return _ui(project)
    if action in ("queue", "serve"):
        from plugins.agent import serve

        return serve.queue_command(project, rest, args) if action == "queue" else serve.serve_command(project, args)
    from plugins.agent.store import Store

    project.ensure_state_dir()
    store = Store(root / ".help" / "agent.sqlite")
    try:
        if action == "run":
            if not rest:
                raise UsageError("say what to change", 'help.py agent "add a --since flag to history"')
            return _run(project, store, " ".join(rest), args.model)
        if action == "status":
            return _status(store, rest)
        if action == "stats":
            return _stats(store)
        if action == "rate":
            return _rate(store, rest)
        task_id = _one(rest, action)
        if action == "cancel":
            return _cancel(store, task_id)
        if action == "retry":
            return _retry(project, store, task_id, args.model)
        if action == "resume":
            return _resume(project, store, task_id, args.model)
        if action == "log":
            return _log(store, task_id)
        return _workspace(project, store, action, task_id)
    finally:
        store.close()


def _one(rest: list[str], action: str) -> str:
    if len(rest) != 1:
        raise UsageError(f"agent {action} takes one task ID", f"help.py agent {action} ID (see `help.py agent status`)")
    return rest[0]


def _client(project: Any) -> Any:
    from plugins.agent.client import connect

    return connect(
        str(project.get("agent.server")),
        str(project.get("agent.api")),
        timeout=float(project.get("agent.timeout")),
        attempts=int(project.get("agent.attempts")),
        client=str(project.get("agent.client")),
    )


def _engine(project: Any, store: Any, model: str | None, prompt: str) -> tuple[Any, str]:
    from plugins.agent import engine, models

    client = _client(project)
    installed = [] if (model or project.get("agent.model")) else client.models()
    free, where = models.free_memory()
    level = models.complexity(prompt)
    chain, reason = models.choose(
        installed, model or project.get("agent.model"), list(project.get("agent.fallback") or []), level, free, where
    )
    settings = engine.Settings(
        parallel=int(project.get("agent.parallel")),
        max_rounds=int(project.get("agent.max_rounds")),
        test_command=list(project.get("agent.test_command") or []),
        review_command=list(project.get("agent.review_command") or []),
        venv=_venv(project),
        context_ttl=float(project.get("agent.context_ttl")),
        bandit=str(project.get("agent.bandit")),
        seed=project.get("agent.bandit_seed"),
    )
    say = console.info if not console.json else (lambda text: None)
    return engine.Engine(project.root, store, client, chain, settings, say), reason


def _venv(project: Any) -> Path | None:
    """The environment `help.py test` runs in (the project's, helper.envs.project_env), when it exists."""
    from helper.errors import HelpError
    from helper.testing.environment import location

    try:
        python, _why = location(project)
    except HelpError:
        return None
    return python.parent.parent.resolve() if python.exists() else None


def _finish(store: Any, task_id: str, state: str) -> int:
    from plugins.agent.engine import summary

    data = summary(store, task_id)

    def render(d: dict[str, Any]) -> None:
        if state == "done":
            console.success(f"task {task_id} done on branch {d['branch']}: `help.py agent diff {task_id}`, then apply")
        else:
            console.error(f"task {task_id} {state}: {d.get('error') or ''}", f"help.py agent log {task_id}")

    console.result(data, render)
    return 0 if state == "done" else 1


def _run(project: Any, store: Any, prompt: str, model: str | None) -> int:
    engine, reason = _engine(project, store, model, prompt)
    task_id = engine.start(prompt, reason)
    return _finish(store, task_id, engine.run(task_id))


def _resume(project: Any, store: Any, task_id: str, model: str | None) -> int:
    task = store.task(task_id)
    if task is None:
        raise HelpError(f"no task {task_id}", "`help.py agent status` lists the tasks")
    engine, _ = _engine(project, store, model or task["model"], task["prompt"])
    store.note(task_id, None, "resumed", f"from state {task['state']}")
    return _finish(store, task_id, engine.resume(task_id))


def _status(store: Any, rest: list[str]) -> int:
    from plugins.agent.engine import summary

    if rest:
        data: Any = summary(store, _one(rest, "status"))

        def render(d: dict[str, Any]) -> None:
            console.echo(f"{d['id']}  {d['state']}  model {d['model']}  branch {d['branch']}")
            console.echo(f"  {d['prompt']}")
            for s in d["subtasks"]:
                after = f" after {', '.join(s['depends'])}" if s["depends"] else ""
                console.echo(f"  {s['seq'] + 1}. [{s['state']}] {s['title']}{after}")
            for v in d["violations"]:
                console.echo(f"  violation: {v}")

        console.result(data, render)
        return 0
    data = [{k: t[k] for k in ("id", "state", "model", "branch", "prompt")} for t in store.tasks()]
    console.result(
        data,
        lambda d: console.table(
            [[t["id"], t["state"], t["model"], t["prompt"][:50]] for t in d], ["id", "state", "model", "task"]
        ),
    )
    return 0


def _log(store: Any, task_id: str) -> int:
    if store.task(task_id) is None:
        raise HelpError(f"no task {task_id}", "`help.py agent status` lists the tasks")
    events = store.events(task_id)
    data = {"events": events, "tool_calls": store.tool_calls(task_id), "results": store.results(task_id)}

    def render(d: dict[str, Any]) -> None:
        for e in d["events"]:
            where = f"sub-task {e['subtask_id']}" if e["subtask_id"] else "task"
            move = f"{e['old']} -> {e['new']}" if e["kind"] != "note" else "note"
            console.echo(f"{where}: {move} [{e['outcome']}] {e['note'][:200]}")
        for c in d["tool_calls"]:
            console.echo(f"tool {c['name']} {'ok' if c['ok'] else 'REFUSED'}: {c['result'][:120]}")

    console.result(data, render)
    return 0


def _workspace(project: Any, store: Any, action: str, task_id: str) -> int:
    from plugins.agent import workspace

    task = store.task(task_id)
    if task is None:
        raise HelpError(f"no task {task_id}", "`help.py agent status` lists the tasks")
    worktree = Path(task["worktree"])
    if action == "discard":
        workspace.discard(project.root, worktree, task["branch"])
        if task["state"] in ("done", "failed", "cancelled"):
            store.move_task(task_id, "discarded")
            _rescore(store, task_id)
        console.result({"id": task_id, "discarded": True}, lambda d: console.success(f"task {task_id} discarded"))
        return 0
    if not worktree.exists():
        raise HelpError(f"task {task_id}'s worktree is gone", "it was discarded or applied")
    if action == "diff":
        change = workspace.diff(worktree, task["base"])
        console.result({"id": task_id, "diff": change}, lambda d: print(d["diff"], end=""))
        return 0
    # apply: only a finished task whose tests pass (in the sandbox) right now
    if task["state"] != "done":
        raise HelpError(f"task {task_id} is {task['state']}, not done", f"help.py agent resume {task_id}")
    engine, _ = _engine_for_checks(project, store)
    result, verdict = engine.test(task, None, "apply-check")
    if not result.ok:
        failing = ", ".join(t["id"] for t in verdict.failed[:5]) or f"exit {result.exit_code}"
        raise HelpError(f"task {task_id}'s tests fail ({failing}): not applied", f"help.py agent log {task_id}")
    files = workspace.apply(project.root, worktree, task["base"])
    store.move_task(task_id, "applied", ", ".join(files))
    _rescore(store, task_id)
    console.result({"id": task_id, "applied": files}, lambda d: console.success(f"applied: {', '.join(files)}"))
    return 0


def _engine_for_checks(project: Any, store: Any) -> tuple[Any, None]:
    from plugins.agent import engine

    settings = engine.Settings(test_command=list(project.get("agent.test_command") or []), venv=_venv(project))
    return engine.Engine(project.root, store, None, [], settings), None  # type: ignore[arg-type]


def _models(project: Any, rest: list[str]) -> int:
    client = _client(project)
    found = client.models()
    rows = []
    for m in found:
        if hasattr(client, "context_length"):
            try:
                m.context = client.context_length(m.name)
            except HelpError:
                m.context = None
        rows.append(
            {
                "name": m.name,
                "size": m.size,
                "family": m.family,
                "parameters": m.parameters,
                "context": m.context,
                "loaded": m.loaded,
                "client": client.implementation,  # who spoke to the server: "ollama" (the package) or "stdlib"
            }
        )

    def render(d: list[dict[str, Any]]) -> None:
        console.echo(f"{client.server} ({client.api} API) through {client.via}")
        console.table(
            [
                [
                    r["name"],
                    f"{r['size'] / 2**30:.1f} GiB",
                    r["family"],
                    r["context"] or "-",
                    "yes" if r["loaded"] else "",
                ]
                for r in d
            ],
            ["model", "size", "family", "context", "loaded"],
        )

    console.result(rows, render)
    return 0


def _pull(project: Any, rest: list[str]) -> int:
    name = _one(rest, "pull")
    client = _client(project)
    if not hasattr(client, "pull"):
        raise HelpError("this server's protocol has no pull", "pull the model with the server's own tool")
    with console.progress(f"pulling {name}", delay=0.0) as bar:

        def progress(status: str, done: int, total: int) -> None:
            bar.update(done=done if total else None, total=total or None, note=status)

        status = client.pull(name, progress)
    console.result({"model": name, "status": status}, lambda d: console.success(f"pulled {name}"))
    return 0


def _rescore(store: Any, task_id: str) -> None:
    from plugins.agent import scoring

    scoring.rescore(store, task_id)


def _cancel(store: Any, task_id: str) -> int:
    from plugins.agent import control

    state = control.cancel(store, task_id)
    console.result(
        {"id": task_id, "state": state},
        lambda d: console.success(f"task {task_id} cancelled: its worker stops before its next step"),
    )
    return 0


def _retry(project: Any, store: Any, task_id: str, model: str | None) -> int:
    from plugins.agent import control

    task = store.task(task_id)
    if task is None:
        raise HelpError(f"no task {task_id}", "`help.py agent status` lists the tasks")
    engine, _ = _engine(project, store, model or task["model"], task["prompt"])  # the server first: it may be down
    control.retry(store, task_id)
    return _finish(store, task_id, engine.run(task_id))


def _rate(store: Any, rest: list[str]) -> int:
    from plugins.agent import control

    if len(rest) != 2:
        raise UsageError("agent rate takes a task ID and a rating 1-5", "help.py agent rate ID 4")
    scored = control.rate(store, rest[0], rest[1])
    console.result(
        scored, lambda d: console.success(f"task {d['task_id']} rated {d['rating']}: score {d['score']:.2f}")
    )
    return 0


def _stats(store: Any) -> int:
    from plugins.agent import stats

    data = stats.collect(store)

    def render(d: dict[str, Any]) -> None:
        rows = [
            [
                r["model"],
                r["role"],
                f"{r['ok']}/{r['steps']}" + (f" ({r['success_rate']:.0%})" if r["success_rate"] is not None else ""),
                r["calls"],
                r["tokens"],
                f"{r['seconds']:.2f}",
                "-" if r["gpu_seconds"] is None else f"{r['gpu_seconds']:.2f}",
            ]
            for r in d["models"]
        ]
        console.table(rows, ["model", "role", "succeeded", "calls", "tokens", "seconds", "gpu-s"])
        for v in d["variants"]:
            console.echo(
                f"variant {v['role']}/{v['variant']}: mean score {v['mean_score']:.2f} over {v['tasks']} task(s)"
            )
        scored = d["scored"]
        if scored["tasks"]:
            console.echo(f"{scored['tasks']} scored task(s), mean score {scored['mean_score']:.2f}")
        for line in d["suggestions"] or ["no suggestion yet: each needs a few recorded steps of a model in a role"]:
            console.echo(f"suggestion: {line}")

    console.result(data, render)
    return 0


def _ui(project: Any) -> int:
    import importlib.util

    if importlib.util.find_spec("textual") is None:
        console.error("agent ui needs textual: pip install textual (or pip install 'help-py[textual]')")
        return 2
    from plugins.agent.dashboard import Dashboard

    project.ensure_state_dir()
    server, api, client = (str(project.get(f"agent.{key}")) for key in ("server", "api", "client"))
    Dashboard(project.root, server, api, client=client).run()
    return 0
