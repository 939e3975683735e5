"""Which files pytest's collection would leave out, read without starting pytest.

Mirrors `_pytest.main.pytest_ignore_collect`: `__pycache__`, `collect_ignore`
and `collect_ignore_glob` of the nearest conftest.py defining them (paths
relative to that conftest), `--ignore` / `--ignore-glob` (relative to the
invocation folder), virtualenvs (a `pyvenv.cfg` or `conda-meta/history`, unless
`--collect-in-virtualenv`) and `norecursedirs` for folders. The paths pytest
starts from (testpaths or the invocation folder) and their parents are never
checked, as pytest does not check them.

What cannot be read statically (a conftest defining `pytest_ignore_collect`, a
`collect_ignore` that is not a literal list, a plugin loaded with `-p`) is
reported in `dynamic`: the caller then trusts only what a real collection
reported.
"""

from __future__ import annotations

import ast
import contextlib
import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from helper.testing.discovery import PytestConfig

_IGNORE_NAMES = ("collect_ignore", "collect_ignore_glob")


@dataclass
class ConftestRules:
    """What one conftest.py says about collection."""

    collect_ignore: list[str] | None = None
    collect_ignore_glob: list[str] | None = None
    dynamic: str | None = None


def read_conftest(path: Path) -> ConftestRules:
    """`collect_ignore` / `collect_ignore_glob` when they are literal lists; else why they are not."""
    rules = ConftestRules()
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        rules.dynamic = f"{path.name} cannot be parsed"
        return rules
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "pytest_ignore_collect":
            rules.dynamic = f"{path} defines pytest_ignore_collect"
            return rules
    values: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in _IGNORE_NAMES:
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    rules.dynamic = f"{path}:{node.lineno}: {name} is computed"
                    return rules
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                    rules.dynamic = f"{path}:{node.lineno}: {name} is not a list of strings"
                    return rules
                values[name] = list(value)
    # Any other use (append, +=, assignment inside an `if`) changes the list at run time.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and node.id in _IGNORE_NAMES
            and not isinstance(node.ctx, ast.Load)
            and not any(isinstance(top, ast.Assign) and node in top.targets for top in tree.body)
        ):
            rules.dynamic = f"{path}:{node.lineno}: {node.id} is changed at run time"
            return rules
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in _IGNORE_NAMES:
            rules.dynamic = f"{path}:{node.lineno}: {node.value.id}.{node.attr} changes it at run time"
            return rules
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id in _IGNORE_NAMES:
            rules.dynamic = f"{path}:{node.lineno}: {node.target.id} is changed at run time"
            return rules
    rules.collect_ignore = values.get("collect_ignore")
    rules.collect_ignore_glob = values.get("collect_ignore_glob")
    return rules


def options(args: Iterable[str]) -> dict[str, list[str]]:
    """The collection options in pytest arguments (addopts, PYTEST_ADDOPTS, the command line)."""
    found: dict[str, list[str]] = {"--ignore": [], "--ignore-glob": [], "-p": [], "--collect-in-virtualenv": []}
    pending = None
    for arg in args:
        if pending:
            found[pending].append(arg)
            pending = None
            continue
        if arg == "--collect-in-virtualenv":
            found[arg].append("")
            continue
        if arg == "-p":
            pending = "-p"
            continue
        if arg.startswith("-p") and not arg.startswith("--"):
            found["-p"].append(arg[2:])
            continue
        key, equals, value = arg.partition("=")
        if key in ("--ignore", "--ignore-glob"):
            if equals:
                found[key].append(value)
            else:
                pending = key
    return found


@dataclass
class Rules:
    """pytest's ignore rules for one project, applied to project-relative paths."""

    root: Path
    config: PytestConfig
    args: list[str] = field(default_factory=list)
    starts: list[str] = field(default_factory=list)  # paths collection starts from, relative to the root
    dynamic: str | None = None

    def __post_init__(self) -> None:
        given = options([*self.config.addopts, *_env_addopts(), *self.args])
        self._root = str(self.root.resolve())
        self._ignore = {os.path.normpath(os.path.join(self._root, p)) for p in given["--ignore"]}
        self._ignore_glob = [os.path.join(self._root, p) for p in given["--ignore-glob"]]
        self._in_venv_ok = bool(given["--collect-in-virtualenv"])
        plugins = [p for p in given["-p"] if not p.startswith("no:")]
        if plugins and self.dynamic is None:
            self.dynamic = f"-p {plugins[0]} loads a plugin that may change collection"
        if not self.starts:
            self.starts = [p.strip("/").removeprefix("./") for p in self.config.testpaths] or [""]
        self._conftests: dict[str, ConftestRules | None] = {}
        self._verdicts: dict[str, bool] = {}

    def digest(self) -> str:
        """A digest of every conftest.py read so far (the rules that may be run-time ones)."""
        import hashlib

        h = hashlib.sha256()
        for folder in sorted(self._conftests):
            if self._conftests[folder] is not None:
                path = self.root / folder / "conftest.py"
                h.update(folder.encode() + b"\0")
                with contextlib.suppress(OSError):
                    h.update(path.read_bytes())
        return h.hexdigest()

    def _exempt(self, rel: str) -> bool:
        """A start path or a parent of one: pytest does not check it."""
        for start in self.starts:
            if start in ("", ".") and rel == "":
                return True
            if start == rel or start.startswith(rel + "/") or rel == "":
                return True
        return False

    def _conftest(self, folder: str) -> ConftestRules | None:
        if folder not in self._conftests:
            path = self.root / folder / "conftest.py" if folder else self.root / "conftest.py"
            rules = read_conftest(path) if path.is_file() else None
            if rules is not None and rules.dynamic and self.dynamic is None:
                self.dynamic = rules.dynamic
            self._conftests[folder] = rules
        return self._conftests[folder]

    def _nearest(self, folder: str, name: str) -> tuple[str, list[str]] | None:
        """The nearest conftest (in `folder` or above) defining `name`, and its value."""
        while True:
            rules = self._conftest(folder)
            value = getattr(rules, name) if rules is not None else None
            if value is not None:
                return folder, value
            if not folder:
                return None
            folder = folder.rpartition("/")[0]

    def _ignored(self, rel: str, is_dir: bool) -> bool:
        name = rel.rpartition("/")[2]
        if name == "__pycache__":
            return True
        path = os.path.join(self._root, rel)
        parent = rel.rpartition("/")[0]
        paths = set(self._ignore)
        found = self._nearest(parent, "collect_ignore")
        if found:
            base = os.path.join(self._root, found[0])
            paths.update(os.path.normpath(os.path.join(base, p)) for p in found[1])
        if path in paths:
            return True
        globs = list(self._ignore_glob)
        found = self._nearest(parent, "collect_ignore_glob")
        if found:
            base = os.path.join(self._root, found[0])
            globs += [os.path.join(base, p) for p in found[1]]
        if any(fnmatch.fnmatch(path, g) for g in globs):
            return True
        if is_dir:
            if not self._in_venv_ok and (
                os.path.isfile(os.path.join(path, "pyvenv.cfg"))
                or os.path.isfile(os.path.join(path, "conda-meta", "history"))
            ):
                return True
            return any(_fnmatch_ex(p, path, name) for p in self.config.norecursedirs)
        return False

    def keeps(self, rel: str) -> bool:
        """True when pytest, recursing from its start paths, would reach file `rel`."""
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in self._verdicts:
                self._verdicts[folder] = self._exempt(folder) or not self._ignored(folder, True)
            if not self._verdicts[folder]:
                return False
        if rel in self.starts:
            return True
        return not self._ignored(rel, False)


def _fnmatch_ex(pattern: str, path: str, name: str) -> bool:
    """pytest's fnmatch_ex: a pattern without a separator matches the name, else the path's end."""
    if os.sep not in pattern:
        return fnmatch.fnmatch(name, pattern)
    if not os.path.isabs(pattern):
        pattern = f"*{os.sep}{pattern}"
    return fnmatch.fnmatch(path, pattern)


def _env_addopts() -> list[str]:
    import shlex

    try:
        return shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    except ValueError:
        return []
