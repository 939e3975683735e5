"""Run pytest with the recorder and read back what every process recorded.

The recorder, the shard balancer and the subprocess recorder (as
sitecustomize.py) are copied into .help/pytest/ (only when they differ) and
that directory alone is put on PYTHONPATH, so nothing else of help.py can
shadow a module of the project under test.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helper import proc
from helper.fsutil import atomic_write

PLUGIN_MODULE = "helpy_recorder"
INPYTEST = Path(__file__).resolve().parent / "inpytest"  # the modules that run inside pytest


def prepare_plugin(state_dir: Path) -> Path:
    target = state_dir / "pytest"
    copies = (
        (INPYTEST / "recorder.py", f"{PLUGIN_MODULE}.py"),
        (INPYTEST / "shard.py", "helpy_shard.py"),
        (INPYTEST / "instrument.py", "helpy_instrument.py"),
        (INPYTEST / "units.py", "helpy_units.py"),
        (INPYTEST / "opens.py", "helpy_opens.py"),
        (INPYTEST / "subprocess_recorder.py", "sitecustomize.py"),
    )
    for source, name in copies:
        data = source.read_bytes()
        dest = target / name
        try:
            same = dest.read_bytes() == data
        except OSError:
            same = False
        if not same:
            atomic_write(dest, data, fsync=False)
    return target


@dataclass
class Records:
    """Everything the pytest processes (controller and xdist workers) recorded."""

    rootdir: str | None = None
    collected: bool = False
    all_ids: list[str] = field(default_factory=list)
    in_scope: set[str] = field(default_factory=set)
    modules: dict[str, list[str]] = field(default_factory=dict)
    collect_errors: set[str] = field(default_factory=set)
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracer: str | None = None
    # Every (file, qualname) recorded; a test entry's "funcs" is a tuple of indexes into it.
    units: list[tuple[str, str]] = field(default_factory=list)


def read_records(directory: Path) -> Records:
    merged = Records()
    seen_ids: set[str] = set()
    unit_index: dict[tuple[str, str], int] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        merged.rootdir = merged.rootdir or data.get("rootdir")
        merged.tracer = merged.tracer or data.get("tracer")
        if data.get("collected"):
            merged.collected = True
            merged.in_scope.update(data.get("in_scope", []))
            for test in data.get("all_ids", []):
                if test not in seen_ids:
                    seen_ids.add(test)
                    merged.all_ids.append(test)
            merged.modules.update(data.get("modules", {}))
            merged.collect_errors.update(data.get("collect_errors", []))
        # Each process numbers its units itself: renumber them into the merged list.
        renumber = []
        for rel, qualname in data.get("units", []):
            pair = (rel, qualname)
            at = unit_index.get(pair)
            if at is None:
                at = unit_index[pair] = len(merged.units)
                merged.units.append(pair)
            renumber.append(at)
        for test, entry in data.get("tests", {}).items():
            if "funcs" in entry:
                entry["funcs"] = tuple(sorted(renumber[i] for i in entry["funcs"]))
            if test not in merged.tests or "funcs" in entry:
                merged.tests[test] = entry
    return merged


def command(python: Path, args: list[str]) -> list[str]:
    return [str(python), "-m", "pytest", "-p", PLUGIN_MODULE, *args]


def run(cmd: list[str], *, cwd: Path, plugin_dir: Path, control: Path, to_stderr: bool = False) -> int:
    """Run pytest (`cmd`, started by the environment's interpreter) with the environment's bin/ first on PATH.

    As `help.py run`, `uv run` and an activated venv have it: tests that start the project's
    console scripts or tools installed beside pytest (mypy, a CLI under test) find them.
    """
    env = dict(os.environ)
    scripts = os.path.dirname(cmd[0])
    home = os.path.dirname(scripts)
    if os.path.exists(os.path.join(home, "pyvenv.cfg")) or os.path.isdir(os.path.join(home, "conda-meta")):
        # An environment's own folder only: /usr/bin first would shadow what the user put before it.
        env["PATH"] = scripts + os.pathsep + env.get("PATH", os.defpath)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(plugin_dir), env.get("PYTHONPATH", "")) if p)
    env["HELPY_TEST_CONTROL"] = str(control)
    return proc.passthrough(cmd, cwd=cwd, env=env, stdout=sys.stderr.fileno() if to_stderr else None)


def write_control(path: Path, control: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(control), fsync=False)


def cleanup(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
