"""`agent ui`: a Textual dashboard over the agent's store: tasks, each agent's step, a live log, memory, violations.

Imported only by `agent ui` once textual is known to be installed. It reads
.help/agent.sqlite on its own connection every second; cancel and retry go
through plugins.agent.control, the code path of `agent cancel` and `agent
retry` (a retried task runs in a `help.py agent retry ID` process of its own,
its output in .help/logs/agent-retry-ID.log).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Log, Static

from helper import proc
from helper.errors import HelpError
from plugins.agent import control, machine, scoring
from plugins.agent.store import Store

HELP = Path(__file__).resolve().parents[2] / "help.py"
COLUMNS = ("id", "state", "step", "model", "score", "task")


def current_steps(store: Store, task: dict[str, Any]) -> list[str]:
    """What each agent on the task is doing now: 'coder: fix add' per sub-task being worked on."""
    if task["state"] == "new":
        return ["planner"]
    if task["state"] == "integrating":
        return ["integrator"]
    steps = []
    for sub in store.subtasks(task["id"]):
        role = machine.ROLE.get(sub["state"])
        if role and task["state"] == "working":
            steps.append(f"{role}: {sub['title']}")
    return steps


def system_memory() -> str:
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("MemTotal", "MemAvailable"):
                    values[key] = int(rest.split()[0]) * 1024
    except OSError:
        return "memory: unknown"
    if len(values) < 2:
        return "memory: unknown"
    return f"memory: {values['MemAvailable'] / 2**30:.1f} of {values['MemTotal'] / 2**30:.1f} GiB free"


def server_report(server: str, api: str, client_choice: str = "auto") -> str:
    """The model server: reachable or not, its loaded models and their GPU memory, and the GPU's free memory."""
    from plugins.agent import models
    from plugins.agent.client import connect

    try:
        client = connect(server, api, timeout=3.0, attempts=1, client=client_choice)
        if hasattr(client, "ps"):
            loaded = [f"{m.get('name')} ({int(m.get('size_vram') or 0) / 2**30:.1f} GiB GPU)" for m in client.ps()]
            head = f"server {server}: up, loaded: {', '.join(loaded) or 'none'}"
        else:
            head = f"server {server}: up, {len(client.models())} model(s)"
    except HelpError as exc:
        head = f"server {server}: {exc.message}"
    free, where = models.free_memory()
    gpu = f"GPU free: {free / 2**30:.1f} GiB" if where.startswith("GPU") else "GPU: none found"
    return f"{head}\n{gpu}   {system_memory()}"


class Dashboard(App[None]):
    TITLE = "help.py agent"
    CSS = """
    #tasks { width: 3fr; }
    #side { width: 2fr; }
    #detail { height: auto; max-height: 50%; border: round $accent; padding: 0 1; }
    #log { border: round $accent; }
    #system { height: 3; padding: 0 1; }
    #violations { height: auto; max-height: 5; padding: 0 1; color: $warning; }
    """
    BINDINGS: ClassVar[list[Any]] = [
        Binding("c", "cancel_task", "Cancel"),
        Binding("r", "retry_task", "Retry"),
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
        Binding("g", "refresh_now", "Refresh"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, root: Path, server: str, api: str = "auto", interval: float = 1.0, client: str = "auto") -> None:
        super().__init__()
        self.root = root
        self.server = server
        self.api = api
        self.client = client
        self.interval = interval
        self.store = Store(root / ".help" / "agent.sqlite")
        self.selected: str | None = None
        self.last_event = 0
        self.retries: dict[str, Any] = {}  # task id -> the `agent retry` process started from the screen

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield DataTable(id="tasks", cursor_type="row", zebra_stripes=True)
            with Vertical(id="side"):
                yield Static("no task selected", id="detail")
                yield Log(id="log", max_lines=2000)
        yield Static("", id="violations")
        yield Static("model server: checking...", id="system")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#tasks", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        table.focus()
        self.refresh_tasks()
        self.set_interval(self.interval, self.refresh_tasks)
        self.poll_system()
        self.set_interval(5.0, self.poll_system)

    def on_unmount(self) -> None:
        self.store.close()

    # -- data -------------------------------------------------------------------
    def refresh_tasks(self) -> None:
        table = self.query_one("#tasks", DataTable)
        tasks = self.store.tasks()
        keep = self.selected
        if table.row_count:  # the row under the cursor now: a key pressed since the last refresh counts
            keep = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        table.clear()
        for task in tasks:
            score = scoring.score_row(self.store, task["id"])
            table.add_row(
                task["id"],
                task["state"],
                "; ".join(current_steps(self.store, task)) or "-",
                task["model"] or "-",
                f"{score['score']:.2f}" if score else "-",
                task["prompt"][:60],
                key=task["id"],
            )
        ids = [t["id"] for t in tasks]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        elif ids:
            table.move_cursor(row=0)
        self.show(ids[table.cursor_row] if ids else None)
        self.show_violations()

    def show(self, task_id: str | None) -> None:
        log = self.query_one("#log", Log)
        if task_id != self.selected:
            self.selected, self.last_event = task_id, 0
            log.clear()
        detail = self.query_one("#detail", Static)
        task = self.store.task(task_id) if task_id else None
        if task is None:
            detail.update("no task selected")
            return
        lines = [f"{task['id']}  [{task['state']}]  {task['prompt'][:80]}"]
        variants = self.store.db.execute("SELECT agent, variant FROM choices WHERE task_id = ?", (task["id"],))
        chosen = {r[0]: r[1] for r in variants}
        for sub in self.store.subtasks(task["id"]):
            role = machine.ROLE.get(sub["state"])
            doing = f" <- {role} ({chosen.get(role, 'base')})" if role and task["state"] == "working" else ""
            lines.append(f"{sub['seq'] + 1}. [{sub['state']}] {sub['title']}{doing}")
        if task.get("error"):
            lines.append(f"error: {task['error']}")
        detail.update("\n".join(lines))
        for event in self.store.events(task["id"]):
            if event["id"] <= self.last_event:
                continue
            self.last_event = event["id"]
            where = f"sub-task {event['subtask_id']}" if event["subtask_id"] else "task"
            move = f"{event['old']} -> {event['new']}" if event["kind"] != "note" else "note"
            log.write_line(f"{where}: {move} [{event['outcome']}] {event['note'][:160]}")

    def show_violations(self) -> None:
        rows = self.store.db.execute(
            "SELECT task_id, note FROM events WHERE outcome = 'violation' ORDER BY id DESC LIMIT 3"
        ).fetchall()
        text = "\n".join(f"violation in {r[0]}: {r[1][:150]}" for r in rows)
        self.query_one("#violations", Static).update(text or "sandbox violations: none")

    def poll_system(self) -> None:
        self.run_worker(self._system_report, thread=True, exclusive=True, group="system")

    def _system_report(self) -> None:
        text = server_report(self.server, self.api, self.client)
        self.call_from_thread(self.query_one("#system", Static).update, text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show(str(event.row_key.value))

    # -- actions ----------------------------------------------------------------
    def action_down(self) -> None:
        self.query_one("#tasks", DataTable).action_cursor_down()

    def action_up(self) -> None:
        self.query_one("#tasks", DataTable).action_cursor_up()

    def action_refresh_now(self) -> None:
        self.refresh_tasks()

    def action_cancel_task(self) -> None:
        if self.selected is None:
            return
        try:
            control.cancel(self.store, self.selected, "from the dashboard")
        except HelpError as exc:
            self.notify(f"{exc.message}", severity="warning")
            return
        self.notify(f"task {self.selected} cancelled")
        self.refresh_tasks()

    def action_retry_task(self) -> None:
        task = self.store.task(self.selected) if self.selected else None
        if task is None:
            return
        if task["state"] not in ("failed", "cancelled"):
            self.notify(f"task {task['id']} is {task['state']}: only a failed or cancelled task is retried")
            return
        logs = self.root / ".help" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"agent-retry-{task['id']}.log", "w") as out:
            self.retries[task["id"]] = proc.spawn(
                [sys.executable, str(HELP), "agent", "retry", task["id"]],
                cwd=self.root,
                stdout=out.fileno(),
                stderr=out.fileno(),
            )
        self.notify(f"task {task['id']} retried: help.py agent retry {task['id']}")
