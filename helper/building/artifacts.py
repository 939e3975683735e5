"""The artifact cache: built wheels and sdists stored by the hash of their inputs.

Key = the project's files (those git tracks or would track, minus build output),
the [build-system] table, every package of the build environment with its
version (so the backend's version too), the interpreter and what was asked
for. Artifacts are blobs in helper.cache; an action entry maps the key to
their file names and digests. Restoring verifies each blob's hash.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from helper import proc
from helper.cache import Cache, action_key
from helper.errors import HelpError
from helper.fingerprint import for_project as fingerprinter
from helper.fingerprint import list_files, sha256_file
from helper.fsutil import atomic_copy

KEY_VERSION = "build-artifacts-v1"
_SKIP_PARTS = {".help", ".git", "__pycache__", ".venv", ".tox", ".nox", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def input_files(root: Path, outdir: Path) -> list[str]:
    """The files that can reach an artifact: project files minus build output and state."""
    try:
        out_rel = outdir.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        out_rel = None
    kept = []
    for rel in list_files(root):
        parts = rel.split("/")
        if out_rel and (rel == out_rel or rel.startswith(out_rel + "/")):
            continue
        if parts[0] == "build" or any(p in _SKIP_PARTS or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        kept.append(rel)
    return kept


def tree_digest(root: Path, outdir: Path) -> tuple[str, list[str], int]:
    """(digest of the input files, their paths, how many files had to be read)."""
    fp = fingerprinter(root)
    digest, hashes = fp.tree(input_files(root, outdir))
    with contextlib.suppress(OSError):  # only a speed-up; a read-only tree still builds
        fp.save()
    return digest, sorted(hashes), fp.hashed


def copy_inputs(root: Path, files: list[str], target: Path, *, with_git: bool) -> Path:
    """A copy of exactly the files the key covers, so nothing else can reach an artifact.

    With `with_git` the copy also sees the repository (a symlink to .git), for
    backends that take the version from git tags.
    """
    for rel in files:
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(root / rel, dest)
        except OSError as exc:
            raise HelpError(
                f"cannot read {rel}: {exc.strerror}", "fix its permissions, or list it in .gitignore"
            ) from None
    if with_git and (root / ".git").exists():
        (target / ".git").symlink_to((root / ".git").resolve())
    return target


def git_state(root: Path) -> str | None:
    """HEAD and the nearest tag, for projects whose version may come from git."""
    if not (root / ".git").exists():
        return None
    result = proc.run(["git", "-C", str(root), "describe", "--tags", "--long", "--always"], timeout=30)
    return result.stdout.strip() if result.ok else None


def key(
    tree: str, system: dict[str, Any], packages: dict[str, str], python: str, targets: list[str], settings: Any
) -> str:
    return action_key(KEY_VERSION, tree, system, sorted(packages.items()), python, sorted(targets), settings)


def lookup(cache: Cache, key_: str, outdir: Path) -> list[dict[str, Any]] | None:
    """Restore the artifacts stored under `key_` into `outdir`; None when any is missing."""
    entry = cache.get_action(key_)
    if not isinstance(entry, dict) or not isinstance(entry.get("artifacts"), list):
        return None
    restored = []
    for item in entry["artifacts"]:
        target = outdir / item["name"]
        if target.is_file() and target.stat().st_size == item["size"] and sha256_file(target) == item["sha256"]:
            restored.append({**item, "path": str(target)})
            continue
        blob = cache.blob_path(item["sha256"])
        if blob is None:
            return None
        atomic_copy(blob, target)
        os.chmod(target, 0o644)
        restored.append({**item, "path": str(target)})
    return restored


def version_of(items: list[dict[str, Any]]) -> str | None:
    """The version the artifacts' file names carry (the wheel's first: its name part never holds a dash)."""
    names = sorted((item["name"] for item in items), key=lambda n: not n.endswith(".whl"))
    for name in names:
        if name.endswith(".whl") and name.count("-") >= 4:
            return str(name.split("-")[1])
        for suffix in (".tar.gz", ".zip"):
            if name.endswith(suffix) and "-" in name:
                return str(name[: -len(suffix)].rsplit("-", 1)[1])
    return None


def describe(path: Path) -> dict[str, Any]:
    return {"name": path.name, "sha256": sha256_file(path), "size": path.stat().st_size}


def store(cache: Cache, key_: str, artifacts: list[Path], duration: float) -> list[dict[str, Any]]:
    items = []
    for path in artifacts:
        digest = cache.put_file(path)
        items.append({"name": path.name, "sha256": digest, "size": path.stat().st_size})
    cache.put_action(key_, {"artifacts": items}, duration)
    return items
