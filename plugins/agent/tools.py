"""The tools agents may call, their schemas, and validation: paths stay inside the worktree.

A call that is malformed (unknown tool, bad arguments) or names a path outside
the worktree is never executed: the model is answered with the error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from helper.fsutil import atomic_write
from plugins.agent.client import ToolCall
from plugins.agent.workspace import LOCK, git

# name -> (description, {argument: (json type, description)}, required arguments)
SPECS: dict[str, tuple[str, dict[str, tuple[str, str]], tuple[str, ...]]] = {
    "read_file": ("read a file of the project", {"path": ("string", "path relative to the project root")}, ("path",)),
    "search": ("search the project's files for a regular expression", {"pattern": ("string", "regex")}, ("pattern",)),
    "write_file": (
        "create or replace a file",
        {"path": ("string", "path relative to the project root"), "content": ("string", "the whole new content")},
        ("path", "content"),
    ),
    "write_patch": (
        "apply a unified diff (paths relative to the root)",
        {"patch": ("string", "unified diff")},
        ("patch",),
    ),
    "add_dependency": (
        "ask for a package the change needs (the integrator adds it with help.py install; never edit manifests)",
        {
            "requirement": ("string", "a PEP 508 requirement, e.g. 'requests>=2.31'"),
            "dev": ("boolean", "true for a development-only dependency"),
        },
        ("requirement",),
    ),
    "finish": ("say the work is done", {"summary": ("string", "what was changed")}, ()),
    "submit_plan": (
        "submit the plan: sub-tasks with the titles of those they depend on",
        {"subtasks": ("array", "[{title, description, files: [paths], depends: [titles]}]")},
        ("subtasks",),
    ),
    "review": (
        "give the verdict on the change",
        {"approve": ("boolean", "true to accept"), "comments": ("string", "what to change")},
        ("approve",),
    ),
}
TYPES = {"string": str, "array": list, "boolean": bool}
CODER = ("read_file", "search", "write_file", "write_patch", "add_dependency", "finish")
TESTER = ("read_file", "search", "write_file", "write_patch", "finish")
# Dependency manifests, build files and the settings help.py and the managers read outside the sandbox (where the
# environment goes, which index) change only through `help.py install`, never through the file tools.
MANIFESTS = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "poetry.lock",
    "uv.lock",
    "pdm.lock",
    "Pipfile",
    "Pipfile.lock",
    "environment.yml",
    "environment.yaml",
    "poetry.toml",  # the managers' own settings: where environments go, which interpreter, which index
    "pdm.toml",
    ".pdm-python",
    "uv.toml",
    "pip.conf",
    ".python-version",
)
REQUIREMENT = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,-]+\])?"  # name and extras
    r"(?:\s*(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+(?:\s*,\s*(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+)*)?$"
)


class ToolError(Exception):
    pass


def schemas(names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The tools in the function-calling format both Ollama and OpenAI servers take."""
    out = []
    for name in names:
        description, args, required = SPECS[name]
        properties = {key: {"type": kind, "description": text} for key, (kind, text) in args.items()}
        parameters = {"type": "object", "properties": properties, "required": list(required)}
        out.append(
            {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}
        )
    return out


def validate(call: ToolCall, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The call's arguments, or ToolError saying what is wrong with it."""
    if call.name not in allowed:
        raise ToolError(f"unknown tool '{call.name}'; available: {', '.join(allowed)}")
    if call.arguments is None:
        raise ToolError(f"malformed call of {call.name}: {call.error or 'arguments missing'}")
    _, args, required = SPECS[call.name]
    for key in required:
        if key not in call.arguments:
            raise ToolError(f"{call.name} needs the argument '{key}'")
    for key, value in call.arguments.items():
        if key not in args:
            raise ToolError(f"{call.name} has no argument '{key}'")
        if not isinstance(value, TYPES[args[key][0]]):
            raise ToolError(f"{call.name}: '{key}' must be a {args[key][0]}")
    return call.arguments


class Toolbox:
    """Executes validated file tools inside `root` (the task's worktree)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.written: list[str] = []
        self.dependencies: list[tuple[str, bool]] = []

    def inside(self, raw: str) -> Path:
        """`raw` resolved inside the root; ToolError for absolute paths, `..` escapes, symlinks out, .git."""
        if not raw or "\0" in raw:
            raise ToolError("empty or invalid path")
        if Path(raw).is_absolute() or raw.startswith("~"):
            raise ToolError(f"path {raw} is outside the project: give a path relative to its root")
        path = (self.root / raw).resolve()
        if path != self.root and self.root not in path.parents:
            raise ToolError(f"path {raw} is outside the project")
        relative = path.relative_to(self.root)
        if relative.parts and relative.parts[0] in (".git", ".help"):
            raise ToolError(f"path {raw} is inside {relative.parts[0]}/, which agents may not touch")
        return path

    def writable(self, raw: str) -> Path:
        """`raw` inside the root and not a dependency manifest (those change only through add_dependency)."""
        path = self.inside(raw)
        name = path.name
        if name in MANIFESTS or (name.startswith("requirements") and name.endswith((".txt", ".in"))):
            raise ToolError(f"{raw} is a dependency manifest: call add_dependency instead of editing it")
        relative = path.relative_to(self.root)
        if relative.parts[:1] == ("config",) and name.startswith("help") and name.endswith(".toml"):
            raise ToolError(f"{raw} is help.py's configuration, which agents may not change")
        return path

    def execute(self, name: str, args: dict[str, Any]) -> str:
        if name == "read_file":
            path = self.inside(args["path"])
            if not path.is_file():
                raise ToolError(f"no file {args['path']}")
            return path.read_text(errors="replace")[:20000]
        if name == "search":
            return self._search(args["pattern"])
        if name == "write_file":
            path = self.writable(args["path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, args["content"])
            self.written.append(str(path.relative_to(self.root)))
            return f"wrote {path.relative_to(self.root)} ({len(args['content'])} characters)"
        if name == "write_patch":
            return self._patch(args["patch"])
        if name == "add_dependency":
            requirement = str(args["requirement"]).strip()
            if not REQUIREMENT.match(requirement):
                raise ToolError(f"not a requirement help.py install takes: {requirement!r} (e.g. 'requests>=2.31')")
            self.dependencies.append((requirement, bool(args.get("dev", False))))
            return f"noted: the integrator adds {requirement} with help.py install"
        if name == "finish":
            return "ok"
        raise ToolError(f"tool {name} cannot be run here")

    def _search(self, pattern: str) -> str:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"bad pattern: {exc}") from None
        listed = git(self.root, "ls-files", "-co", "--exclude-standard", check=False)
        hits = []
        for name in listed.stdout.splitlines():
            path = self.root / name
            if not path.is_file() or path.stat().st_size > 1_000_000:
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if regex.search(line):
                    hits.append(f"{name}:{number}: {line.strip()[:200]}")
                    if len(hits) >= 100:
                        return "\n".join(hits)
        return "\n".join(hits) or "no match"

    def _patch(self, patch: str) -> str:
        for raw in re.findall(r"^(?:\+\+\+|---) (?:[ab]/)?(\S+)", patch, flags=re.M):
            if raw != "/dev/null":
                self.writable(raw)
        if not patch.endswith("\n"):
            patch += "\n"
        with LOCK:
            check = git(self.root, "apply", "--check", "-", input_text=patch, check=False)
            if not check.ok:
                raise ToolError(f"patch does not apply: {check.stderr.strip()[:500]}")
            git(self.root, "apply", "-", input_text=patch)
        return "patch applied"
