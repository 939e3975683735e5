"""The project's context for the prompts: file tree, key files and conventions, cached by fingerprint with a TTL.

Conventions are read from the project's files: layout (src/ or flat, the
package), where tests live and their framework, formatter and linter settings,
import style, dependencies. An entry is keyed by the fingerprint of every
project file (helper.fingerprint): any change makes a new key, so the old
context is never used again; an entry older than the TTL is rebuilt too.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helper.fingerprint import Fingerprinter, list_files
from helper.fsutil import atomic_write

KEY_FILES = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "requirements.txt",
    "requirements-dev.txt",
    "ruff.toml",
    ".ruff.toml",
    "mypy.ini",
    "pytest.ini",
    "tox.ini",
    ".flake8",
    ".editorconfig",
)
SAMPLED = 60  # Python files read for the import style
TREE_LIMIT = 300  # files listed in the prompt


@dataclass
class Conventions:
    layout: str = "flat"  # "src" or "flat"
    package: str | None = None  # the top-level package, when there is one
    tests_dir: str | None = None  # "tests", "test", or None (tests beside the code)
    framework: str = "pytest"
    formatter: str | None = None
    linters: list[str] = field(default_factory=list)
    line_length: int | None = None
    imports: str = "absolute"
    future_annotations: bool = False
    dependencies: list[str] = field(default_factory=list)
    manifest: str | None = None  # where dependencies are declared

    def place(self, rel: str) -> str:
        """Where a file the agents added belongs by these conventions (test files under tests/, modules in src/)."""
        path = Path(rel)
        if path.suffix != ".py" or len(path.parts) != 1:
            return rel
        if path.name.startswith("test_") or path.name.endswith("_test.py"):
            return f"{self.tests_dir}/{path.name}" if self.tests_dir else rel
        if path.name in ("conftest.py", "setup.py", "noxfile.py", "manage.py"):
            return rel
        if self.layout == "src" and self.package:
            return f"src/{self.package}/{path.name}"
        return rel


@dataclass
class ProjectContext:
    fingerprint: str
    files: list[str]
    key_files: dict[str, str]
    conventions: Conventions

    def text(self) -> str:
        c = self.conventions
        shown = self.files[:TREE_LIMIT]
        more = f" (+{len(self.files) - len(shown)} more)" if len(self.files) > len(shown) else ""
        where = f"src/{c.package}/" if c.layout == "src" and c.package else (c.package or "top-level modules")
        lines = [
            "files: " + ", ".join(shown) + more,
            f"layout: {c.layout} ({where}); tests: {c.tests_dir + '/' if c.tests_dir else 'beside the code'} "
            f"with {c.framework}",
            f"style: formatter {c.formatter or 'none found'}"
            + (f", line length {c.line_length}" if c.line_length else "")
            + f"; linters {', '.join(c.linters) or 'none found'}; {c.imports} imports"
            + ("; `from __future__ import annotations`" if c.future_annotations else ""),
            f"dependencies ({c.manifest or 'none declared'}): {', '.join(c.dependencies) or 'none'}",
        ]
        for name, text in self.key_files.items():
            lines.append(f"--- {name} ---\n{text}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "conventions": asdict(self.conventions)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectContext:
        return cls(data["fingerprint"], data["files"], data["key_files"], Conventions(**data["conventions"]))


def build(root: Path, files: list[str], fingerprint: str) -> ProjectContext:
    """Read the project's context from its files (no cache)."""
    key_files = {}
    for name in KEY_FILES:
        path = root / name
        if path.is_file():
            key_files[name] = path.read_text(errors="replace")[:1500]
    return ProjectContext(fingerprint, files, key_files, conventions(root, files))


def conventions(root: Path, files: list[str]) -> Conventions:
    c = Conventions()
    pyproject: dict[str, Any] = {}
    if (root / "pyproject.toml").is_file():
        try:
            pyproject = tomllib.loads((root / "pyproject.toml").read_text())
        except (tomllib.TOMLDecodeError, OSError):
            pyproject = {}
    tool = pyproject.get("tool", {})
    packages = sorted({Path(f).parts[1] for f in files if f.startswith("src/") and f.endswith("/__init__.py")})
    packages = [p for p in packages if (root / "src" / p / "__init__.py").is_file()]
    if packages:
        c.layout, c.package = "src", packages[0]
    else:
        top = sorted(Path(f).parts[0] for f in files if len(Path(f).parts) == 2 and f.endswith("/__init__.py"))
        top = [p for p in top if p not in ("tests", "test", "docs")]
        c.package = top[0] if top else None
    for folder in ("tests", "test"):
        if any(f.startswith(folder + "/") and Path(f).name.startswith("test") for f in files):
            c.tests_dir = folder
            break
    uses_pytest = (
        "pytest" in tool
        or any(Path(f).name in ("conftest.py", "pytest.ini") for f in files)
        or any("pytest" in d for d in _all_deps(pyproject))
    )
    sample = [f for f in files if f.endswith(".py")][:SAMPLED]
    texts = [(root / f).read_text(errors="replace") for f in sample if (root / f).is_file()]
    if not uses_pytest and any("import unittest" in t for t in texts):
        c.framework = "unittest"
    ruff = tool.get("ruff") or _toml(root / "ruff.toml") or _toml(root / ".ruff.toml")
    if ruff:
        c.linters.append("ruff")
        c.formatter = "ruff format"
        c.line_length = ruff.get("line-length")
    if "black" in tool:
        c.formatter = "black"
        c.line_length = tool["black"].get("line-length", c.line_length)
    if "mypy" in tool or "mypy.ini" in files:
        c.linters.append("mypy")
    if ".flake8" in files or "[flake8]" in _read(root / "setup.cfg"):
        c.linters.append("flake8")
    relative = sum(len(re.findall(r"^from \.", t, re.M)) for t in texts)
    absolute = sum(len(re.findall(r"^(?:from [A-Za-z_]|import )", t, re.M)) for t in texts)
    c.imports = "relative" if relative > absolute else "absolute"
    c.future_annotations = bool(texts) and sum("from __future__ import annotations" in t for t in texts) * 2 >= len(
        texts
    )
    c.dependencies, c.manifest = _dependencies(root, pyproject)
    return c


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text()) if path.is_file() else {}
    except (tomllib.TOMLDecodeError, OSError):
        return {}


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _all_deps(pyproject: dict[str, Any]) -> list[str]:
    project = pyproject.get("project", {})
    found = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        found += extra
    for group in pyproject.get("dependency-groups", {}).values():
        found += [g for g in group if isinstance(g, str)]
    return [str(d) for d in found]


def _dependencies(root: Path, pyproject: dict[str, Any]) -> tuple[list[str], str | None]:
    declared = pyproject.get("project", {}).get("dependencies")
    if declared is not None:
        return [str(d) for d in declared], "pyproject.toml [project]"
    poetry = pyproject.get("tool", {}).get("poetry", {}).get("dependencies")
    if poetry:
        return [f"{k} {v}" for k, v in poetry.items() if k != "python"], "pyproject.toml [tool.poetry]"
    if (root / "requirements.txt").is_file():
        lines = [line.split("#")[0].strip() for line in _read(root / "requirements.txt").splitlines()]
        return [line for line in lines if line and not line.startswith("-")], "requirements.txt"
    return [], None


class ContextCache:
    """Project contexts on disk under `folder`, keyed by the project's fingerprint, rebuilt after `ttl` seconds."""

    def __init__(self, folder: Path, ttl: float = 3600.0, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self.ttl = ttl
        self.clock = clock
        self.builds = 0  # contexts read from the project's files (not from the cache)
        self.lock = threading.Lock()

    def get(self, root: Path) -> ProjectContext:
        root = root.resolve()
        where = hashlib.sha256(str(root).encode()).hexdigest()[:16]
        with self.lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            files = list_files(root)
            fingerprints = Fingerprinter(root, self.folder / f"{where}.stat.json")
            digest, _ = fingerprints.tree(files)
            fingerprints.save()
            entry = self.folder / f"{where}.json"
            try:
                data = json.loads(entry.read_text())
                if data["context"]["fingerprint"] == digest and self.clock() - float(data["created"]) < self.ttl:
                    return ProjectContext.from_dict(data["context"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
            context = build(root, files, digest)
            self.builds += 1
            payload = {"created": self.clock(), "root": str(root), "context": context.to_dict()}
            atomic_write(entry, json.dumps(payload), fsync=False)
            return context
