"""`help.py test --quality`: ruff check, ruff format --check and mypy, each cached.

ruff's verdicts are cached per file (key: tool, its binary, its configuration,
the file's sha256), so only changed files are checked again. mypy reasons
across files, so its verdict is cached per whole set of file hashes. Tools are
taken from the test environment first, then PATH; mypy runs only when the
project configures it ([tool.mypy], mypy.ini, .mypy.ini or setup.cfg [mypy]).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helper import proc
from helper.cache import action_key
from helper.errors import HelpError
from helper.ui import console


@dataclass
class Outcome:
    tool: str
    files: int = 0
    cached: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None


def _tool(project: Any, name: str) -> str | None:
    from helper.testing.environment import location

    venv_bin = location(project)[0].parent / name
    return str(venv_bin) if venv_bin.exists() else shutil.which(name)


def _binary_id(path: str) -> str:
    from helper.statsig import stat_signature

    return f"{path}:{stat_signature(path)}"


def _config_text(project: Any, section: str, files: tuple[str, ...]) -> str:
    parts = [json.dumps(project.pyproject.get("tool", {}).get(section, {}), sort_keys=True)]
    for name in files:
        path = project.root / name
        if path.is_file():
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


def mypy_configured(project: Any) -> bool:
    if "mypy" in project.pyproject.get("tool", {}):
        return True
    if (project.root / "mypy.ini").is_file() or (project.root / ".mypy.ini").is_file():
        return True
    setup_cfg = project.root / "setup.cfg"
    return setup_cfg.is_file() and "[mypy" in setup_cfg.read_text(errors="replace")


def _per_file(project: Any, cache: Any, tool: str, cmd: list[str], hashes: dict[str, str], parse: Any) -> Outcome:
    """Run `cmd + files` on the files without a cached verdict; cache each file's verdict."""
    outcome = Outcome(tool, files=len(hashes))
    config = _config_text(project, "ruff", ("ruff.toml", ".ruff.toml"))
    keys = {rel: action_key("help-quality", tool, _binary_id(cmd[0]), config, sha) for rel, sha in hashes.items()}
    todo = []
    for rel, key in keys.items():
        verdict = cache.get_action(key)
        if verdict is None:
            todo.append(rel)
        else:
            outcome.cached += 1
            outcome.problems.extend(verdict["problems"])
    for start in range(0, len(todo), 500):
        chunk = todo[start : start + 500]
        result = proc.run([*cmd, *chunk], cwd=project.root, timeout=600)
        by_file = parse(result, chunk)
        for rel in chunk:
            problems = by_file.get(rel, [])
            outcome.problems.extend(problems)
            cache.put_action(keys[rel], {"problems": problems})
    return outcome


def _parse_ruff_check(result: proc.Result, chunk: list[str]) -> dict[str, list[str]]:
    try:
        items = json.loads(result.stdout or "[]")
    except ValueError:
        raise HelpError(
            f"ruff check failed: {(result.stderr or result.stdout).strip()[:300]}", "run `ruff check` to see why"
        ) from None
    found: dict[str, list[str]] = {}
    for item in items:
        rel = (
            os.path.relpath(item["filename"]).replace(os.sep, "/")
            if os.path.isabs(item["filename"])
            else item["filename"]
        )
        location = item.get("location") or {}
        found.setdefault(rel, []).append(
            f"{rel}:{location.get('row', 0)}:{location.get('column', 0)}: {item.get('code')} {item.get('message')}"
        )
    return found


def _parse_ruff_format(result: proc.Result, chunk: list[str]) -> dict[str, list[str]]:
    if result.returncode not in (0, 1):
        raise HelpError(
            f"ruff format --check failed: {(result.stderr or result.stdout).strip()[:300]}",
            "run `ruff format --check` to see why",
        )
    found: dict[str, list[str]] = {}
    for line in (result.stdout + "\n" + result.stderr).splitlines():
        if line.startswith("Would reformat: "):
            rel = line.removeprefix("Would reformat: ").strip()
            found.setdefault(rel, []).append(f"{rel}: would be reformatted (run `ruff format {rel}`)")
    return found


def run_quality(project: Any) -> list[dict[str, Any]]:
    """Each tool's verdict: files checked, how many from the cache, problems, or why it was skipped."""
    from helper import cache as cache_module
    from helper.fingerprint import for_project as fingerprinter
    from helper.fingerprint import list_files

    cwd = Path.cwd()
    os.chdir(project.root)  # ruff reports paths relative to the working directory
    try:
        fp = fingerprinter(project.root)
        files = [f for f in list_files(project.root) if f.endswith((".py", ".pyi"))]
        hashes = fp.files(files)
        fp.save()
        cache = cache_module.for_project(project)
        outcomes = []
        ruff = _tool(project, "ruff")
        if ruff:
            outcomes.append(
                _per_file(
                    project,
                    cache,
                    "ruff check",
                    [ruff, "check", "--output-format=json", "--no-cache", "--force-exclude"],
                    hashes,
                    _parse_ruff_check,
                )
            )
            outcomes.append(
                _per_file(
                    project,
                    cache,
                    "ruff format",
                    [ruff, "format", "--check", "--no-cache", "--force-exclude"],
                    hashes,
                    _parse_ruff_format,
                )
            )
        else:
            outcomes.append(
                Outcome(
                    "ruff",
                    skipped="ruff is not installed; add it to the dev dependencies: help.py install ruff --dev",
                )
            )
        if mypy_configured(project):
            mypy = _tool(project, "mypy")
            if mypy:
                outcomes.append(_mypy(project, cache, mypy, hashes))
            else:
                outcomes.append(
                    Outcome(
                        "mypy",
                        skipped="mypy is configured but not installed; `pip install mypy` into the test environment",
                    )
                )
    finally:
        os.chdir(cwd)
    return [
        {"tool": o.tool, "files": o.files, "cached": o.cached, "problems": o.problems, "skipped": o.skipped}
        for o in outcomes
    ]


def render(data: list[dict[str, Any]]) -> None:
    for o in data:
        if o["skipped"]:
            console.warn(f"{o['tool']}: skipped: {o['skipped']}")
            continue
        for problem in o["problems"]:
            console.echo(problem)
        cached = f", {o['cached']} from cache" if o["cached"] else ""
        verdict = f"{len(o['problems'])} problem(s)" if o["problems"] else "ok"
        console.echo(
            console.style(f"{o['tool']}: {o['files']} file(s){cached}: {verdict}", "red" if o["problems"] else "green")
        )


def failed(data: list[dict[str, Any]]) -> bool:
    return any(o["problems"] for o in data)


def _mypy(project: Any, cache: Any, mypy: str, hashes: dict[str, str]) -> Outcome:
    config = _config_text(project, "mypy", ("mypy.ini", ".mypy.ini", "setup.cfg"))
    key = action_key("help-quality", "mypy", _binary_id(mypy), config, sorted(hashes.items()))
    outcome = Outcome("mypy", files=len(hashes))
    verdict = cache.get_action(key)
    if verdict is not None:
        outcome.cached = len(hashes)
        outcome.problems = verdict["problems"]
        return outcome
    configured_files = project.pyproject.get("tool", {}).get("mypy", {}).get("files")
    result = proc.run(
        [mypy] if configured_files or not (project.root / "pyproject.toml").is_file() else [mypy, "."],
        cwd=project.root,
        timeout=1800,
    )
    if result.returncode not in (0, 1):
        raise HelpError(f"mypy failed: {(result.stderr or result.stdout).strip()[:300]}", "run mypy to see why")
    outcome.problems = [line for line in result.stdout.splitlines() if ": error:" in line]
    cache.put_action(key, {"problems": outcome.problems})
    return outcome
