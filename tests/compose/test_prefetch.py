"""The `compose ps` prefetch starts the configured engine's `ps`: `compose.engine = docker` starts no podman
(and `podman` no docker), on the fast start path and in the full CLI. The engines on PATH are wrappers that
log each call and hand it to the real binary."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import age, run_help, write

WRAPPER = """#!/bin/sh
echo "$*" >> {log}
{real}
"""


def wrap(folder: Path, name: str) -> Path:
    log = folder / f"{name}.log"
    real = shutil.which(name)
    script = folder / name
    script.write_text(WRAPPER.format(log=log, real=f'exec {real} "$@"' if real else "exit 1"))
    script.chmod(0o755)
    return log


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(("engine", "other"), [("docker", "podman"), ("podman", "docker")])
def test_prefetch_starts_only_the_configured_engine(tmp_path: Path, engine: str, other: str, fast: bool) -> None:
    project = tmp_path / "proj"
    write(
        project / "pyproject.toml",
        f"[project]\nname = 'demo'\nversion = '0'\n[tool.help.compose]\nengine = '{engine}'\n",
    )
    write(project / "compose.yaml", "name: pre\nservices:\n  app:\n    image: busybox\n")
    age(project)  # fresh files are not cached (their mtime may still change)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    logs = {name: wrap(bin_dir, name) for name in (engine, other)}
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    config = run_help("compose", "config", cwd=project, env=env)  # caches the configuration, the model, the index
    assert config.returncode == 0, config.stderr
    for log in logs.values():
        log.unlink(missing_ok=True)
    run_help("compose", "ps", cwd=project, env={**env, **({} if fast else {"HELP_NO_FAST": "1"})}, timeout=120)
    assert not logs[other].exists(), logs[other].read_text()  # the other engine was never started
    calls = logs[engine].read_text().splitlines()
    assert "ps -a --filter label=help.compose.project=pre --format " in "\n".join(calls), calls
