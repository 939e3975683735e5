"""A task's git worktree on its own branch under .help/agent/worktrees/<id>: create, diff, apply, discard."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from helper import proc
from helper.errors import HelpError

IDENTITY = {
    "GIT_AUTHOR_NAME": "help.py agent",
    "GIT_AUTHOR_EMAIL": "agent@help.py.invalid",
    "GIT_COMMITTER_NAME": "help.py agent",
    "GIT_COMMITTER_EMAIL": "agent@help.py.invalid",
}


# Sub-tasks run in threads on one worktree: git's index lock allows one git command at a time.
LOCK = threading.RLock()


def git(root: Path, *args: str, input_text: str | None = None, check: bool = True) -> proc.Result:
    with LOCK:
        return proc.run(["git", *args], cwd=root, timeout=120, input_text=input_text, check=check, extra_env=IDENTITY)


def worktree_path(root: Path, task_id: str) -> Path:
    return root / ".help" / "agent" / "worktrees" / task_id


def create(root: Path, task_id: str) -> tuple[Path, str, str]:
    """(worktree, branch, base commit) for a new task; the user's tree is not touched."""
    inside = git(root, "rev-parse", "--is-inside-work-tree", check=False)
    if not inside.ok:
        raise HelpError(f"{root} is not a git repository", "the agent works on a branch: run `git init` and commit")
    head = git(root, "rev-parse", "HEAD", check=False)
    if not head.ok:
        raise HelpError("the repository has no commit yet", "commit once, then run the agent")
    base = head.stdout.strip()
    path = worktree_path(root, task_id)
    branch = f"agent/{task_id}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        git(root, "worktree", "add", "--quiet", "-b", branch, str(path), base)
    return path, branch, base


def snapshot(worktree: Path, message: str) -> bool:
    """Commit everything in the worktree on its branch; False when there was nothing to commit."""
    git(worktree, "add", "-A")
    if git(worktree, "diff", "--cached", "--quiet", check=False).ok:
        return False
    git(worktree, "commit", "--quiet", "-m", message)
    return True


def diff(worktree: Path, base: str) -> str:
    """What the task changed against its base, committed or not."""
    git(worktree, "add", "-A")
    return git(worktree, "diff", "--cached", "--binary", base).stdout


def apply(root: Path, worktree: Path, base: str) -> list[str]:
    """Apply the task's change to the user's tree; the files changed."""
    patch = diff(worktree, base)
    if not patch.strip():
        raise HelpError("the task changed nothing", "nothing to apply")
    check = git(root, "apply", "--check", "--binary", "-", input_text=patch, check=False)
    if not check.ok:
        raise HelpError(
            f"the change does not apply to your tree: {check.stderr.strip().splitlines()[-1:]}",
            "commit or stash your own edits of those files, or `agent diff ID` and apply by hand",
        )
    git(root, "apply", "--binary", "-", input_text=patch)
    return git(worktree, "diff", "--cached", "--name-only", base).stdout.split()


def discard(root: Path, worktree: Path, branch: str) -> None:
    if worktree.exists():
        git(root, "worktree", "remove", "--force", str(worktree), check=False)
        shutil.rmtree(worktree, ignore_errors=True)
    git(root, "worktree", "prune", check=False)
    git(root, "branch", "-D", branch, check=False)
