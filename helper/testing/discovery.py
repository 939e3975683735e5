"""Where the tests are: pytest's configuration, the test files, conftest chains, components.

Read without starting pytest, so an unchanged tree can be answered from the
cache in the help.py process. Precedence follows pytest: pytest.ini, then
pyproject.toml's [tool.pytest.ini_options], then tox.ini [pytest], then
setup.cfg [tool:pytest].
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PYTHON_FILES = ["test_*.py", "*_test.py"]
DEFAULT_NORECURSEDIRS = ["*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}"]


@dataclass
class PytestConfig:
    """The parts of pytest's configuration selection needs."""

    source: str | None = None  # file it came from
    text: str = ""  # canonical text, hashed into the environment
    testpaths: list[str] = field(default_factory=list)
    python_files: list[str] = field(default_factory=lambda: list(DEFAULT_PYTHON_FILES))
    norecursedirs: list[str] = field(default_factory=lambda: list(DEFAULT_NORECURSEDIRS))
    addopts: list[str] = field(default_factory=list)
    rootdir: str = ""  # the ini file's folder relative to the project root ("" = the root itself)


def _split(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value).split() if value else []


def _from_table(source: str, table: dict[str, Any]) -> PytestConfig:
    config = PytestConfig(source=source, text=json.dumps(table, sort_keys=True, default=str))
    if table.get("testpaths"):
        config.testpaths = _split(table["testpaths"])
    if table.get("python_files"):
        config.python_files = _split(table["python_files"])
    if table.get("norecursedirs"):
        config.norecursedirs = _split(table["norecursedirs"])
    if table.get("addopts"):
        import shlex

        value = table["addopts"]
        try:
            config.addopts = [str(v) for v in value] if isinstance(value, list) else shlex.split(str(value))
        except ValueError:
            config.addopts = str(value).split()
    return config


def _ini_section(path: Path, section: str) -> dict[str, Any] | None:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return None
    if not parser.has_section(section):
        return None
    return dict(parser.items(section))


def _config_in(folder: Path, pyproject: dict[str, Any] | None) -> PytestConfig | None:
    """pytest's ini file in one folder, in pytest's order: pytest.ini, .pytest.ini, pyproject.toml, tox.ini, setup.cfg."""
    for name in ("pytest.ini", ".pytest.ini"):
        if (folder / name).is_file():
            return _from_table(name, _ini_section(folder / name, "pytest") or {})
    if pyproject is None and (folder / "pyproject.toml").is_file():
        import tomllib

        try:
            pyproject = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pyproject = {}
    table = (pyproject or {}).get("tool", {}).get("pytest", {}).get("ini_options")
    if isinstance(table, dict):
        return _from_table("pyproject.toml", table)
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if (folder / name).is_file():
            found = _ini_section(folder / name, section)
            if found is not None:
                return _from_table(name, found)
    return None


def pytest_config(root: Path, pyproject: dict[str, Any]) -> PytestConfig:
    """The configuration pytest finds when started in `root`: the first ini file in it or a folder above."""
    folder = root.resolve()
    config = _config_in(folder, pyproject)
    if config is not None:
        return config
    for parent in folder.parents:
        config = _config_in(parent, None)
        if config is not None:
            rel = os.path.relpath(parent, folder).replace(os.sep, "/")
            config.rootdir = rel
            config.source = f"{rel}/{config.source}"
            config.testpaths = [posixpath.normpath(f"{rel}/{p}") for p in config.testpaths]
            return config
    return PytestConfig()


def is_test_file(rel: str, patterns: list[str]) -> bool:
    name = posixpath.basename(rel)
    return rel.endswith(".py") and name != "conftest.py" and any(fnmatch.fnmatch(name, p) for p in patterns)


def under(rel: str, prefixes: list[str]) -> bool:
    """True when `rel` is one of `prefixes` or inside one of them."""
    for prefix in prefixes:
        clean = prefix.strip("/").removeprefix("./")
        if clean in ("", ".") or rel == clean or rel.startswith(clean + "/"):
            return True
    return False


def ignored(rel: str, paths: list[str], globs: list[str], root: Path) -> bool:
    """True when pytest's --ignore (`paths`, relative to the root) or --ignore-glob leave out `rel`.

    A glob without a "/" matches a name, one with it a whole path (made
    absolute, as pytest's fnmatch_ex does); any folder above the file counts.
    """
    if under(rel, paths):
        return True
    if not globs:
        return False
    parts = rel.split("/")
    for depth in range(1, len(parts) + 1):
        path = str(root.joinpath(*parts[:depth]))
        for pattern in globs:
            if os.sep not in pattern:
                if fnmatch.fnmatch(parts[depth - 1], pattern):
                    return True
            elif fnmatch.fnmatch(path, pattern if os.path.isabs(pattern) else f"*{os.sep}{pattern}"):
                return True
    return False


def test_files(files: list[str], config: PytestConfig) -> list[str]:
    """Project files pytest would collect as test modules."""
    found = [rel for rel in files if is_test_file(rel, config.python_files)]
    if config.testpaths:
        found = [rel for rel in found if under(rel, config.testpaths)]
    return found


def candidate_files(root: Path, config: PytestConfig, every_file: Callable[[], list[str]]) -> list[str]:
    """Files that may be tests: a walk of the configured testpaths (no git process), else every project file."""
    from helper.fingerprint import walk

    paths = [p.strip("/").removeprefix("./") for p in config.testpaths]
    if not paths or any(p in ("", ".") or ".." in p or any(c in p for c in "*?[") for p in paths):
        return every_file()
    found: list[str] = []
    for path in paths:
        base = root / path
        if base.is_file():
            found.append(path)
        elif base.is_dir():
            found.extend(f"{path}/{rel}".replace(os.sep, "/") for rel in walk(base))
    return found


def conftests(rel: str, files: set[str]) -> list[str]:
    """conftest.py files that apply to test file `rel` (its directory and every parent)."""
    chain = []
    directory = posixpath.dirname(rel)
    while True:
        candidate = posixpath.join(directory, "conftest.py") if directory else "conftest.py"
        if candidate in files:
            chain.append(candidate)
        if not directory:
            return chain
        directory = posixpath.dirname(directory)


def components(root: Path, configured: dict[str, Any], files: list[str]) -> dict[str, list[str]]:
    """Named Python components: from config, else found (packages, src/ packages, test subfolders).

    Components with their own runner (a table, helper.testing.components) are not Python's.
    """
    python = {name: list(paths) for name, paths in configured.items() if isinstance(paths, list)}
    if python:
        return python
    found: dict[str, list[str]] = {}
    for rel in files:
        parts = rel.split("/")
        if len(parts) >= 2 and parts[-1] == "__init__.py":
            if len(parts) == 2:
                found.setdefault(parts[0], [parts[0]])
            elif len(parts) == 3 and parts[0] == "src":
                found.setdefault(parts[1], [f"src/{parts[1]}"])
        if len(parts) >= 3 and parts[0] in ("tests", "test") and is_test_file(rel, DEFAULT_PYTHON_FILES):
            found.setdefault(parts[1], [f"{parts[0]}/{parts[1]}"])
    return dict(sorted(found.items()))


def normalise_arg(arg: str, root: Path, cwd: Path) -> str:
    """A pytest path argument (file, dir or node id) relative to the project root."""
    path_part, sep, rest = arg.partition("::")
    absolute = (cwd / path_part).resolve() if not os.path.isabs(path_part) else Path(path_part)
    try:
        rel = absolute.relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = path_part
    rel = "" if rel == "." else rel
    return rel + sep + rest
