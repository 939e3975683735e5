"""The isolated build environment: a venv holding build-system.requires.

Environments live in the user cache (XDG_CACHE_HOME/help/build-envs/<key>),
keyed by the base interpreter, the requirements and the installer, and are
shared by every project needing the same ones. uv installs into
them when it is on PATH (fast), pip otherwise. A marker file written last says
the environment is complete; one without it (a killed install) is rebuilt.
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
from helper.cache import action_key
from helper.envs.layout import venv_python
from helper.errors import HelpError
from helper.fsutil import FileLock, atomic_write
from helper.ui import console

MARKER = "help-build-env.json"
LIST_SCRIPT = (
    "import json, importlib.metadata as m\n"
    "print(json.dumps(sorted({(d.metadata['Name'] or '').lower(): d.version for d in m.distributions()}.items())))"
)


@dataclass
class BuildEnv:
    """An interpreter to build with, and what is installed in it."""

    python: Path
    path: Path | None  # None: the current environment (--no-isolation)
    installer: str | None = None
    requested: list[str] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)
    timeout: float = 1800.0

    @property
    def isolated(self) -> bool:
        return self.path is not None

    @property
    def scripts(self) -> Path | None:
        """The environment's scripts directory, which hooks see first on PATH (a venv's only)."""
        if self.path is not None:
            return venv_python(self.path).parent
        scripts = Path(os.path.abspath(self.python)).parent
        return scripts if (scripts.parent / "pyvenv.cfg").is_file() else None

    def install(self, requirements: list[str]) -> bool:
        """Install `requirements` (skipping those this environment already got); True if it changed."""
        missing = [r for r in requirements if r not in self.requested]
        if not missing or not self.isolated:
            return False  # with --no-isolation the user's environment is theirs to fill
        assert self.path is not None
        with FileLock(self.path.parent / f"{self.path.name}.lock", timeout=self.timeout):
            _install(self, missing)
            self.requested = sorted(set(self.requested) | set(missing))
            self.packages = list_packages(self.python)
            _write_marker(self)
        return True


def choose_installer(setting: str) -> str:
    if setting == "uv" or (setting == "auto" and shutil.which("uv")):
        if not shutil.which("uv"):
            raise HelpError(
                "build.installer is uv but uv is not on PATH", 'pip install uv, or set build.installer = "pip"'
            )
        return "uv"
    return "pip"


def list_packages(python: Path) -> dict[str, str]:
    result = proc.run([str(python), "-c", LIST_SCRIPT], timeout=120)
    if not result.ok:
        raise proc.command_failed(result)
    return dict(json.loads(result.stdout))


def _install(env: BuildEnv, requirements: list[str]) -> None:
    if env.installer == "uv":
        cmd = ["uv", "pip", "install", "--python", str(env.python), *requirements]
    else:
        cmd = [
            str(env.python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-q",
            *requirements,
        ]
    console.verbose("installing build requirements: " + " ".join(requirements))
    result = proc.run(cmd, timeout=env.timeout)
    if not result.ok:
        tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-3:]
        raise HelpError(
            f"could not install the build requirements {', '.join(requirements)}: {' | '.join(tail) or 'no output'}",
            "check the names in [build-system] requires and your network or index settings",
        )


def _write_marker(env: BuildEnv) -> None:
    assert env.path is not None
    data = {"installer": env.installer, "requested": env.requested, "packages": env.packages}
    atomic_write(env.path / MARKER, json.dumps(data), fsync=False)


def _base_python(setting: str | None) -> str:
    if not setting:
        return sys.executable
    found = shutil.which(setting)
    if found is None and Path(setting).is_file():
        found = setting
    if found is None:
        raise HelpError(
            f"build.python {setting!r} is not an interpreter on PATH",
            "set build.python to a path or a name like python3.12",
        )
    return found


def user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "help"


def env_dir(project: Any, requires: list[str], installer: str, base: str) -> Path:
    key = action_key("build-env-v1", os.path.realpath(base), sorted(requires), installer)
    return user_cache() / "build-envs" / key[:20]


def existing(project: Any, requires: list[str]) -> BuildEnv | None:
    """The ready environment for `requires`, if one exists (no process is started)."""
    config = project.config
    try:
        installer = choose_installer(config["build.installer"])
        base = _base_python(config["build.python"])
    except HelpError:
        return None
    path = env_dir(project, requires, installer, base)
    try:
        data = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    python = venv_python(path)
    if not python.exists():
        return None
    return BuildEnv(
        python, path, installer, list(data["requested"]), dict(data["packages"]), float(config["build.timeout"])
    )


def ensure(project: Any, requires: list[str]) -> BuildEnv:
    """A ready isolated environment with `requires` installed, made if needed."""
    config = project.config
    installer = choose_installer(config["build.installer"])
    base = _base_python(config["build.python"])
    path = env_dir(project, requires, installer, base)
    path.parent.mkdir(parents=True, exist_ok=True)
    timeout = float(config["build.timeout"])
    with FileLock(path.parent / f"{path.name}.lock", timeout=timeout):
        found = existing(project, requires)
        if found is not None:
            return found
        shutil.rmtree(path, ignore_errors=True)  # a half-made environment from a killed run
        console.info(f"creating the build environment ({installer}): {', '.join(requires) or 'no requirements'}")
        if installer == "uv":
            cmd = ["uv", "venv", "-q", "--python", base, str(path)]
        else:
            cmd = [base, "-m", "venv", str(path)]
        result = proc.run(cmd, timeout=timeout)
        if not result.ok:
            raise HelpError(
                f"could not create the build environment {path}: {result.stderr.strip()[-300:]}",
                "check that the interpreter works, or pass --no-isolation",
            )
        env = BuildEnv(venv_python(path), path, installer, [], {}, timeout)
        if requires:
            _install(env, requires)
        env.requested = sorted(requires)
        env.packages = list_packages(env.python)
        _write_marker(env)
        return env


def current(project: Any) -> BuildEnv:
    """--no-isolation: build with build.python (default: the project's environment, else this interpreter)."""
    python = Path(_base_python(project.config["build.python"]))
    if not project.config["build.python"]:
        from helper.envs.project_env import project_environment

        env = project_environment(project)
        python = env.python if env.exists else python
    return BuildEnv(python, None, None, [], list_packages(python), float(project.config["build.timeout"]))
