"""Release steps with rollback: bump the version, commit it, tag it.

A Transaction records an undo action for every step that succeeded; when a
later step fails (or Ctrl-C arrives) the undos run in reverse order, so the
tree, the index and the tags are as they were before the command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from helper import proc
from helper.errors import HelpError
from helper.ui import console

T = TypeVar("T")


class Transaction:
    def __init__(self) -> None:
        self.undos: list[tuple[str, Callable[[], None]]] = []
        self.steps: list[str] = []

    def step(self, name: str, do: Callable[[], T], undo: Callable[[], None] | None = None) -> T:
        """Run `do`; its `undo` is armed first, so even Ctrl-C right after `do` is covered.

        `undo` must be safe when `do` did nothing. A step that fails with an
        error did nothing to undo (each `do` cleans up after itself), so its
        undo is dropped; an interrupted one keeps it.
        """
        if undo is not None:
            self.undos.append((name, undo))
        try:
            result = do()
        except Exception:
            if undo is not None:
                self.undos.pop()
            raise
        self.steps.append(name)
        return result

    def rollback(self) -> tuple[list[str], list[str]]:
        """Undo the finished steps, last first: (undone step names, problems)."""
        undone, problems = [], []
        while self.undos:
            name, undo = self.undos.pop()
            try:
                undo()
                undone.append(name)
            except Exception as exc:  # keep undoing the others
                problems.append(f"{name}: {exc}")
        return undone, problems


def git(root: Path, *args: str, check: bool = True) -> proc.Result:
    result = proc.run(["git", "-C", str(root), *args], timeout=120)
    if check and not result.ok:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise HelpError(
            f"git {args[0]} failed: {detail[-1] if detail else 'exit ' + str(result.returncode)}",
            "fix the repository state and run again",
        )
    return result


def require_repo(root: Path) -> None:
    if not git(root, "rev-parse", "--git-dir", check=False).ok:
        raise HelpError(
            f"{root} is not a git repository, so it cannot be tagged", "run `git init` and commit, or drop --tag"
        )
    if not git(root, "rev-parse", "--verify", "-q", "HEAD", check=False).ok:
        raise HelpError("the repository has no commit to tag", "commit first, or drop --tag")


def dirty_files(root: Path) -> list[str]:
    out = git(root, "status", "--porcelain", "--untracked-files=no").stdout
    return [line[3:] for line in out.splitlines() if line.strip()]


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").stdout.strip()


def short_sha(root: Path) -> str | None:
    result = git(root, "rev-parse", "--short=12", "HEAD", check=False)
    return result.stdout.strip() if result.ok else None


def bump_step(tx: Transaction, root: Path, pyproject: dict[str, Any], part: str) -> tuple[str, str, list[Path]]:
    """Bump the version everywhere it lives: (old, new, files changed)."""
    from helper.building import version_files, versioning

    places = version_files.find(root, pyproject)
    old = places[0].version
    new = versioning.bump(old, part)
    originals = {place.path: place.path.read_bytes() for place in places}
    tx.step(f"bump {old} -> {new}", lambda: version_files.write(places, new), lambda: version_files.restore(originals))
    for place in places:
        console.verbose(f"{place.label}: {old} -> {new}")
    return old, new, sorted({p.path for p in places})


def commit_step(tx: Transaction, root: Path, files: list[Path], message: str) -> None:
    before = head(root)
    rels = [str(path.relative_to(root)) for path in files]

    def undo() -> None:
        git(root, "reset", "-q", "--soft", before)
        git(root, "reset", "-q", before, "--", *rels)

    tx.step("commit", lambda: git(root, "commit", "-q", "-m", message, "--", *rels), undo)


def tag_step(tx: Transaction, root: Path, tag: str, message: str) -> None:
    existed = git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False).ok

    def do() -> None:
        result = git(root, "tag", "-a", tag, "-m", message, check=False)
        if not result.ok:
            detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
            reason = detail[-1] if detail else f"exit {result.returncode}"
            raise HelpError(
                f"could not create tag {tag}: {reason}",
                "delete or rename the existing tag (build.tag_format), then run again",
            )

    def undo() -> None:
        if not existed:  # never delete a tag this run did not make
            git(root, "tag", "-d", tag, check=False)

    tx.step(f"tag {tag}", do, undo)
