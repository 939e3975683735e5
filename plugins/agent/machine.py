"""The agent's state machine: every state, transition and routing condition in one table.

A task is planned, its sub-tasks each go coding -> reviewing -> testing (sent
back to coding when the review or the tests fail, while rounds are left), then
the task is integrated (files placed by the project's conventions, dependencies
added with `help.py install`, the tests run on the branch). `advance` is the only way a state changes.
"""

from __future__ import annotations

from helper.errors import HelpError

# (kind, state, outcome) -> next state. The outcome is the routing condition a step reports.
TRANSITIONS: dict[tuple[str, str, str], str] = {
    ("task", "new", "planned"): "planned",
    ("task", "new", "error"): "failed",
    ("task", "planned", "started"): "working",
    ("task", "working", "all_passed"): "integrating",
    ("task", "working", "subtask_failed"): "failed",
    ("task", "integrating", "tests_pass"): "done",
    ("task", "integrating", "tests_fail"): "failed",
    ("task", "integrating", "install_failed"): "failed",  # help.py install could not add a dependency
    ("task", "done", "applied"): "applied",
    ("task", "done", "discarded"): "discarded",
    ("task", "failed", "discarded"): "discarded",
    ("task", "failed", "resumed"): "working",
    # cancelled by the user (`agent cancel`, the dashboard); `agent retry` takes it up again
    ("task", "new", "cancelled"): "cancelled",
    ("task", "planned", "cancelled"): "cancelled",
    ("task", "working", "cancelled"): "cancelled",
    ("task", "integrating", "cancelled"): "cancelled",
    ("task", "cancelled", "resumed"): "working",
    ("task", "cancelled", "retried"): "new",  # cancelled or failed before it had a plan
    ("task", "failed", "retried"): "new",
    ("task", "cancelled", "discarded"): "discarded",
    ("subtask", "pending", "ready"): "coding",  # every dependency passed
    ("subtask", "pending", "dependency_failed"): "failed",
    ("subtask", "coding", "patched"): "reviewing",
    ("subtask", "coding", "agent_failed"): "coding",  # reassigned (another attempt, maybe another model)
    ("subtask", "coding", "gave_up"): "failed",  # attempts used up
    ("subtask", "reviewing", "approved"): "testing",
    ("subtask", "reviewing", "changes_requested"): "coding",
    ("subtask", "reviewing", "rounds_exhausted"): "failed",
    ("subtask", "testing", "tests_pass"): "passed",
    ("subtask", "testing", "tests_fail"): "coding",
    ("subtask", "testing", "rounds_exhausted"): "failed",
    ("subtask", "failed", "resumed"): "coding",
}

FINAL = {"task": ("done", "failed", "applied", "discarded", "cancelled"), "subtask": ("passed", "failed")}
# Which role works a sub-task in each state.
ROLE = {"coding": "coder", "reviewing": "reviewer", "testing": "tester"}


class BadTransition(HelpError):
    pass


class Cancelled(BadTransition):
    """The task was cancelled while a step worked on it: the step's result is dropped."""


def advance(kind: str, state: str, outcome: str) -> str:
    """The state after `outcome` in `state`; BadTransition when the table has no such edge."""
    try:
        return TRANSITIONS[(kind, state, outcome)]
    except KeyError:
        if kind == "task" and state == "cancelled":
            raise Cancelled("the task was cancelled", "help.py agent retry ID takes it up again") from None
        allowed = sorted(o for (k, s, o) in TRANSITIONS if k == kind and s == state)
        raise BadTransition(
            f"{kind} in state '{state}' cannot take '{outcome}'", f"allowed: {', '.join(allowed) or 'none'}"
        ) from None


def is_final(kind: str, state: str) -> bool:
    return state in FINAL[kind]
