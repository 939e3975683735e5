"""Runs a task through the state machine: plan, then per sub-task code -> review -> test, then integrate.

Every step's outcome is written to the store before the next step starts, so
`resume` picks up at the state the store holds. Independent sub-tasks run in
threads; a failing model call is retried (client), then the next smaller
model is tried; a sub-task whose agent failed is reassigned.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helper.errors import HelpError
from plugins.agent import integrator, machine, prompts, sandboxing, testrun, tools, workspace
from plugins.agent.client import Client, ModelError, ModelNotFound, OutOfMemory, Reply, ServerTimeout
from plugins.agent.context import ContextCache
from plugins.agent.store import Store

HELP_ROOT = Path(__file__).resolve().parents[2]  # where help.py lives: read-only inside the sandbox
ATTEMPTS = 2  # agents tried on one sub-task step before it fails
MAX_STEPS = 8  # model turns of one agent step


@dataclass
class Settings:
    parallel: int = 2
    max_rounds: int = 2
    test_command: list[str] = field(default_factory=list)
    review_command: list[str] = field(default_factory=list)
    sandbox_timeout: float = 300.0
    context_ttl: float = 3600.0  # seconds a project context is reused while the project's files are unchanged
    venv: Path | None = None  # the project's test environment, read-only inside the sandbox
    bandit: str = "thompson"  # how each role's prompt variant is chosen (bandit.POLICIES)
    seed: int | None = None  # the bandit's random seed (None: fresh each run)


Say = Callable[[str], None]


class Engine:
    def __init__(
        self,
        root: Path,
        store: Store,
        client: Client,
        models: list[str],
        settings: Settings | None = None,
        say: Say | None = None,
    ) -> None:
        self.root = root.resolve()
        self.store = store
        self.client = client
        self.models = list(models)
        self.settings = settings or Settings()
        self.say = say or (lambda text: None)
        self.lock = threading.Lock()
        self.model_calls = 0
        self.model_time = 0.0
        self.contexts = ContextCache(self.root / ".help" / "agent" / "context", self.settings.context_ttl)
        from plugins.agent.learn import Learner

        self.learner = Learner(store, self.settings.bandit, self.settings.seed, client)

    def context(self, worktree: Path) -> str:
        """The project's context for a prompt: layout, conventions, key files (cached by fingerprint)."""
        return self.contexts.get(worktree).text()

    # -- model calls with fallback -------------------------------------------
    def chat(
        self, task_id: str, sub: int | None, agent: str, messages: list[dict[str, Any]], names: tuple[str, ...]
    ) -> Reply:
        while True:
            if self.store.cancelled(task_id):
                raise machine.Cancelled(f"task {task_id} was cancelled", f"help.py agent retry {task_id}")
            with self.lock:
                if not self.models:
                    raise HelpError("no model left to try", "pull a smaller model, or set agent.model / agent.fallback")
                model = self.models[0]
            started = time.monotonic()
            try:
                reply = self.client.chat(model, messages, tools.schemas(names) if names else None)
            except (OutOfMemory, ServerTimeout, ModelNotFound) as exc:
                self.learner.call(task_id, sub, agent, model, False, 0, time.monotonic() - started, 0.0)
                with self.lock:
                    if self.models and self.models[0] == model:
                        self.models.pop(0)
                    following = self.models[0] if self.models else None
                self.store.note(task_id, sub, "fallback", f"{model}: {exc.message} -> {following or 'no model left'}")
                self.say(f"  {model} failed ({type(exc).__name__}); trying {following or 'nothing'}")
                if following is None:
                    raise
                self.store.update_task(task_id, model=following, model_reason=f"fallback after {type(exc).__name__}")
                continue
            finally:
                with self.lock:
                    self.model_calls += 1
                    self.model_time += time.monotonic() - started
            self.learner.call(
                task_id, sub, agent, model, True, reply.tokens, time.monotonic() - started, reply.duration
            )
            self.say(f"  [{agent}] {model}: {reply.tokens} tokens, {reply.tokens_per_second:.0f} tok/s")
            return reply

    def converse(
        self,
        task_id: str,
        sub: int | None,
        agent: str,
        messages: list[dict[str, Any]],
        names: tuple[str, ...],
        box: tools.Toolbox | None,
    ) -> tuple[Reply, list[tuple[str, dict[str, Any]]]]:
        """Model turns until it stops calling tools or calls finish/submit_plan/review; the final calls kept."""
        self.learner.adapt(task_id, agent, messages)
        for message in messages:
            self.store.add_message(task_id, sub, agent, message)
        final: list[tuple[str, dict[str, Any]]] = []
        reply = Reply("")
        for _ in range(MAX_STEPS):
            reply = self.chat(task_id, sub, agent, messages, names)
            assistant: dict[str, Any] = {"role": "assistant", "content": reply.content}
            if reply.tool_calls:
                assistant["tool_calls"] = [
                    {
                        "id": c.id,
                        "function": {"name": c.name, "arguments": c.arguments if c.arguments is not None else c.raw},
                    }
                    for c in reply.tool_calls
                ]
            messages.append(assistant)
            self.store.add_message(task_id, sub, agent, assistant)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                try:
                    args = tools.validate(call, names)
                    if call.name in ("finish", "submit_plan", "review"):
                        final.append((call.name, args))
                        result, ok = "ok", True
                    elif box is None:
                        raise tools.ToolError(f"{call.name} is not available to the {agent}")
                    else:
                        result, ok = box.execute(call.name, args), True
                except tools.ToolError as exc:
                    result, ok = f"error: {exc}", False
                self.store.add_tool_call(task_id, sub, call.name, call.raw, ok, result[:4000])
                if not ok:
                    self.say(f"  [{agent}] refused {call.name}: {result}")
                tool_message = {"role": "tool", "content": result, "tool_call_id": call.id}
                messages.append(tool_message)
                self.store.add_message(task_id, sub, agent, tool_message)
            if final:
                break
        return reply, final

    # -- the task ----------------------------------------------------------------
    def start(self, prompt: str, model_reason: str) -> str:
        task_id = self.store.new_task(prompt)
        worktree, branch, base = workspace.create(self.root, task_id)
        self.store.update_task(
            task_id,
            branch=branch,
            worktree=str(worktree),
            base=base,
            model=self.models[0] if self.models else None,
            model_reason=model_reason,
        )
        self.store.note(task_id, None, "model", f"{self.models[0] if self.models else '-'}: {model_reason}")
        self.say(f"task {task_id} on branch {branch}; model {self.models[0] if self.models else '-'} ({model_reason})")
        return task_id

    def run(self, task_id: str) -> str:
        """Drive the task until a final state; returns it."""
        if not sandboxing.available():
            raise sandboxing.NO_SANDBOX
        while True:
            task = self.store.task(task_id)
            if task is None:
                raise HelpError(f"no task {task_id}", "`help.py agent status` lists the tasks")
            state = task["state"]
            if machine.is_final("task", state):
                self.learner.finished(task_id)
                return str(state)
            self.say(f"task {task_id}: {state}")
            try:
                if state == "new":
                    self.plan(task)
                elif state == "planned":
                    self.store.move_task(task_id, "started")
                elif state == "working":
                    self.work(task)
                elif state == "integrating":
                    self.integrate(task)
            except machine.Cancelled:
                self.say(f"task {task_id}: cancelled")

    def resume(self, task_id: str) -> str:
        task = self.store.task(task_id)
        if task is None:
            raise HelpError(f"no task {task_id}", "`help.py agent status` lists the tasks")
        if task["state"] == "failed" and self.store.subtasks(task_id):
            for sub in self.store.subtasks(task_id):
                if sub["state"] == "failed":
                    self.store.move_subtask(sub["id"], "resumed", attempts=0, rounds=0)
            self.store.move_task(task_id, "resumed")
        return self.run(task_id)

    def plan(self, task: dict[str, Any]) -> None:
        worktree = Path(task["worktree"])
        messages = prompts.planner(task["prompt"], self.context(worktree))
        try:
            reply, final = self.converse(
                task["id"], None, "planner", messages, ("read_file", "search", "submit_plan"), tools.Toolbox(worktree)
            )
        except ModelError as exc:
            self.store.update_task(task["id"], error=exc.message)
            self.store.move_task(task["id"], "error", exc.message)
            return
        plan = prompts.parse_plan(final, reply.content, task["prompt"])
        self.store.add_subtasks(task["id"], plan)
        self.store.move_task(task["id"], "planned", f"{len(plan)} sub-task(s)")

    def work(self, task: dict[str, Any]) -> None:
        task_id = task["id"]
        running: dict[int, Future[None]] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.settings.parallel), thread_name_prefix="agent") as pool:
            while True:
                subs = self.store.subtasks(task_id)
                by_title = {s["title"]: s for s in subs}
                for sub in subs:
                    if sub["id"] in running or machine.is_final("subtask", sub["state"]):
                        continue
                    deps = [by_title[d] for d in sub["depends"] if d in by_title]
                    if any(d["state"] == "failed" for d in deps):
                        self.store.move_subtask(sub["id"], "dependency_failed")
                        continue
                    if all(d["state"] == "passed" for d in deps):
                        running[sub["id"]] = pool.submit(self.run_subtask, task, sub["id"])
                if not running:
                    break
                done, _ = wait(list(running.values()), return_when=FIRST_COMPLETED)
                for sub_id, future in list(running.items()):
                    if future in done:
                        del running[sub_id]
                        future.result()
        subs = self.store.subtasks(task_id)
        if all(s["state"] == "passed" for s in subs):
            self.store.move_task(task_id, "all_passed")
        else:
            failed = [s["title"] for s in subs if s["state"] != "passed"]
            why = "; ".join(f"{s['title']}: {s['error']}" for s in subs if s["state"] != "passed" and s["error"])
            self.store.update_task(task_id, error=f"sub-task(s) failed: {why or ', '.join(failed)}")
            self.store.move_task(task_id, "subtask_failed", ", ".join(failed))

    def run_subtask(self, task: dict[str, Any], sub_id: int) -> None:
        while True:
            sub = self.store.subtask(sub_id)
            state = sub["state"]
            if machine.is_final("subtask", state):
                return
            if state == "pending":
                self.store.move_subtask(sub_id, "ready")
                continue
            role = machine.ROLE[state]
            self.say(f"  sub-task {sub['seq'] + 1} '{sub['title']}': {role}")
            try:
                outcome, note, fields = getattr(self, role)(task, sub)
            except ModelError as exc:
                attempts = sub["attempts"] + 1
                if attempts >= ATTEMPTS:
                    outcome, note, fields = ("gave_up" if state == "coding" else "rounds_exhausted"), exc.message, {}
                else:
                    outcome, note, fields = "agent_failed", f"reassigned: {exc.message}", {}
                if state != "coding" and outcome == "agent_failed":
                    self.store.update_subtask(sub_id, attempts=attempts)
                    continue
                fields = {"attempts": attempts, "error": exc.message}
            self.store.move_subtask(sub_id, outcome, note, **fields)

    # -- roles ---------------------------------------------------------------------
    def coder(self, task: dict[str, Any], sub: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        box = tools.Toolbox(Path(task["worktree"]))
        messages = prompts.coder(task["prompt"], sub, self.context(box.root))
        _, final = self.converse(task["id"], sub["id"], "coder", messages, tools.CODER, box)
        failed = self.integrate_files(task, sub["id"])
        if failed:
            return "gave_up", failed, {"error": failed}
        summary = next((a.get("summary", "") for n, a in final if n == "finish"), "")
        return "patched", summary or f"wrote {', '.join(box.written) or 'nothing'}", {}

    def reviewer(self, task: dict[str, Any], sub: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        worktree = Path(task["worktree"])
        check = self.static_checks(task, sub["id"])
        change = workspace.diff(worktree, task["base"])
        messages = prompts.reviewer(task["prompt"], sub, change, check)
        _, final = self.converse(
            task["id"], sub["id"], "reviewer", messages, ("read_file", "search", "review"), tools.Toolbox(worktree)
        )
        verdict = next((a for n, a in final if n == "review"), {"approve": True, "comments": ""})
        approve = bool(verdict.get("approve")) and check.ok
        comments = str(verdict.get("comments", ""))
        if not check.ok:
            comments = f"static checks failed:\n{(check.stdout + check.stderr)[-3000:]}\n{comments}"
        if approve:
            return "approved", comments or "approved", {"feedback": ""}
        rounds = sub["rounds"] + 1
        if rounds > self.settings.max_rounds:
            error = f"the reviewer sent it back {rounds} time(s) (agent.max_rounds = {self.settings.max_rounds})"
            return "rounds_exhausted", comments[:500], {"rounds": rounds, "error": f"{error}: {comments[:1000]}"}
        return "changes_requested", comments[:500], {"rounds": rounds, "feedback": comments}

    def tester(self, task: dict[str, Any], sub: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        box = tools.Toolbox(Path(task["worktree"]))
        messages = prompts.tester(task["prompt"], sub, self.context(box.root))
        self.converse(task["id"], sub["id"], "tester", messages, tools.TESTER, box)
        self.integrate_files(task, sub["id"])
        result, verdict = self.test(task, sub["id"], "tests")
        if result.ok:
            return "tests_pass", f"tests pass ({result.duration:.1f}s)", {"feedback": ""}
        rounds = sub["rounds"] + 1
        output = verdict.describe() if verdict.parsed else (result.stdout + result.stderr)[-3000:]
        if result.violations:
            output = "sandbox violations: " + "; ".join(result.violations) + "\n" + output
        if rounds > self.settings.max_rounds:
            error = f"the tests still fail after {rounds} round(s) (agent.max_rounds = {self.settings.max_rounds})"
            return "rounds_exhausted", output[-500:], {"rounds": rounds, "error": f"{error}:\n{output[-1000:]}"}
        return "tests_fail", output[-500:], {"rounds": rounds, "feedback": f"the tests failed:\n{output}"}

    def integrate_files(self, task: dict[str, Any], sub: int | None) -> str | None:
        """The integrator's part of a step: added files moved by the project's conventions, asked-for
        dependencies added with `help.py install` (in the sandbox, with the network for the package index);
        the error when an install failed."""
        worktree = Path(task["worktree"])
        conventions = self.contexts.get(worktree).conventions
        for old, new in integrator.place(worktree, task["base"], conventions):
            self.store.note(task["id"], sub, "placed", f"{old} -> {new} (the project's conventions)")
            self.say(f"  [integrator] moved {old} -> {new}")
        done = {e["note"].split(":", 1)[0] for e in self.store.events(task["id"]) if e["outcome"] == "dependency"}
        for requirement, dev in integrator.requested(self.store.tool_calls(task["id"])):
            if requirement in done:
                continue
            self.say(f"  [integrator] help.py install {requirement}{' --dev' if dev else ''}")
            job = integrator.install(worktree, requirement, dev)
            result = self.sandboxed(task, sub, "install", job.command, **job.options)
            if not result.ok:
                lines = result.stderr.strip().splitlines()
                why = next((x[len("error: ") :] for x in lines if x.startswith("error: ")), None)
                why = why or (lines or [f"exit {result.exit_code}"])[-1]
                if result.violations:
                    why = f"{why} (sandbox: {'; '.join(result.violations)})"
                return f"help.py install {requirement} failed: {why}"
            self.store.note(task["id"], sub, "dependency", f"{requirement}: help.py install{' --dev' if dev else ''}")
        return None

    def integrate(self, task: dict[str, Any]) -> None:
        failed = self.integrate_files(task, None)
        if failed:
            self.store.update_task(task["id"], error=failed)
            self.store.move_task(task["id"], "install_failed", failed)
            return
        worktree = Path(task["worktree"])
        workspace.snapshot(worktree, f"agent task {task['id']}: {task['prompt'][:60]}")
        result, verdict = self.test(task, None, "integration")
        if result.ok:
            self.store.move_task(task["id"], "tests_pass", "branch committed, tests pass")
        else:
            self.store.update_task(task["id"], error="the tests fail on the integrated branch")
            self.store.move_task(task["id"], "tests_fail", verdict.describe()[-500:])

    def static_checks(self, task: dict[str, Any], sub: int) -> sandboxing.Outcome:
        """ruff and mypy as `help.py test --quality` runs them, in the sandbox; ok when they find no problem."""
        if self.settings.review_command:
            return self.sandboxed(task, sub, "quality", self.settings.review_command)
        result, verdict = self.test(task, sub, "quality", quality=True)
        problems = verdict.problems()
        ok = verdict.parsed and not problems and not result.violations and not result.limit_hit
        text = "\n".join(problems) if problems else verdict.describe_quality()
        if not verdict.parsed:
            text = (result.stdout + result.stderr)[-3000:]
        return sandboxing.Outcome(
            0 if ok else 1, text + "\n", "", result.duration, result.backend, result.violations, result.limit_hit
        )

    def test(
        self, task: dict[str, Any], sub: int | None, kind: str, quality: bool = False
    ) -> tuple[sandboxing.Outcome, testrun.Verdict]:
        """The worktree's tests in the sandbox: `help.py test` (environment prepared out here), or agent.test_command."""
        if self.settings.test_command and not quality:
            result = self.sandboxed(task, sub, kind, self.settings.test_command)
            return result, testrun.Verdict(result.exit_code)
        runs = self.root / ".help" / "agent" / "runs"
        prepared = testrun.prepare(self.root, Path(task["worktree"]), runs, quality=quality)
        self.store.note(task["id"], sub, "environment", f"{kind}: help.py test with {prepared.python}")
        try:
            result = self.sandboxed(
                task,
                sub,
                kind,
                prepared.command,
                env=prepared.env,
                readonly=prepared.readonly,
                writable=[prepared.state],
                summarise=lambda outcome: _summary(
                    testrun.verdict(outcome.exit_code, outcome.stdout, outcome.stderr), quality
                ),
            )
        finally:
            testrun.finish(prepared)
        verdict = testrun.verdict(result.exit_code, result.stdout, result.stderr)
        if quality:
            return result, verdict
        if not verdict.parsed and result.ok:  # no summary is no pass
            result.exit_code = result.exit_code or 1
        return result, verdict

    def sandboxed(
        self,
        task: dict[str, Any],
        sub: int | None,
        kind: str,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        readonly: list[Path] | None = None,
        writable: list[Path] | None = None,
        summarise: Callable[[sandboxing.Outcome], str] | None = None,
        network: bool = False,
        timeout: float | None = None,
        limits: dict[str, int] | None = None,
    ) -> sandboxing.Outcome:
        """Run `command` in the task's worktree through the sandbox, recording the result and any violation."""
        worktree = Path(task["worktree"])
        # the user's tree read-only (its .git too), the worktree inside it the one writable path
        shown = [HELP_ROOT, self.root, *([self.settings.venv] if self.settings.venv else []), *(readonly or [])]
        result = sandboxing.run(
            command,
            worktree,
            readonly=list(dict.fromkeys(shown)),
            writable=writable,
            timeout=timeout or self.settings.sandbox_timeout,
            env=env,
            network=network,
            limits=limits,
        )
        output = result.stdout + result.stderr
        if summarise is not None:
            output = summarise(result) + "\n" + result.stderr
        self.store.add_result(
            task["id"],
            sub,
            kind,
            result.ok,
            result.exit_code,
            output,
            result.violations,
            result.duration,
        )
        for violation in result.violations:
            self.store.note(task["id"], sub, "violation", f"{kind}: {violation}")
            self.say(f"  sandbox stopped: {violation}")
        return result


def _summary(verdict: testrun.Verdict, quality: bool) -> str:
    """What a sandboxed `help.py test` run is recorded as: the static checks' verdict, or the tests'."""
    if quality and verdict.parsed:
        return "\n".join([verdict.describe_quality(), *verdict.problems()])
    return verdict.describe()


def summary(store: Store, task_id: str) -> dict[str, Any]:
    task = store.task(task_id)
    if task is None:
        raise HelpError(f"no task {task_id}", "`help.py agent status` lists the tasks")
    subs = store.subtasks(task_id)
    results = store.results(task_id)
    return {
        **task,
        "subtasks": [
            {k: s[k] for k in ("seq", "title", "state", "depends", "attempts", "rounds", "error")} for s in subs
        ],
        "violations": [v for r in results for v in r["violations"]],
        "tool_calls": len(store.tool_calls(task_id)),
        "results": [{k: r[k] for k in ("kind", "ok", "exit_code", "duration")} for r in results],
    }


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
