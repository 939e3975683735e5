"""Call PEP 517 hooks in a subprocess of the build environment's interpreter."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from helper import proc
from helper.building.buildsystem import BuildSystem
from helper.errors import HelpError
from helper.ui import console

RUNNER = Path(__file__).with_name("_hook_runner.py")


class Backend:
    """The project's build backend, reached through `python _hook_runner.py`."""

    def __init__(
        self, python: Path, source: Path, system: BuildSystem, *, timeout: float = 1800.0, isolated: bool = True
    ) -> None:
        self.python = python
        self.source = source
        self.system = system
        self.timeout = timeout
        self.isolated = isolated

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The user's PYTHONPATH would leak packages into an isolated build.
        if self.isolated:
            env.pop("PYTHONPATH", None)
            env.pop("PYTHONHOME", None)
        env["PYTHONNOUSERSITE"] = "1" if self.isolated else env.get("PYTHONNOUSERSITE", "")
        return env

    def call(self, hook: str, **kwargs: Any) -> Any:
        with tempfile.TemporaryDirectory(prefix="help-hook-") as tmp:
            request = Path(tmp) / "in.json"
            response = Path(tmp) / "out.json"
            request.write_text(
                json.dumps({"backend": self.system.backend, "backend_path": self.system.backend_path, "kwargs": kwargs})
            )
            console.verbose(f"{self.system.backend}: {hook}")
            result = proc.run(
                [str(self.python), str(RUNNER), hook, str(request), str(response)],
                cwd=self.source,
                env=self._env(),
                timeout=self.timeout,
            )
            for line in (result.stdout + result.stderr).splitlines():
                console.verbose(f"  {line}")
            try:
                answer = json.loads(response.read_text())
            except (OSError, ValueError):
                answer = None
        if result.timed_out:
            raise HelpError(
                f"{hook} timed out after {self.timeout:.0f}s", "raise build.timeout or check why the backend hangs"
            )
        if answer is None:
            tail = " | ".join((result.stderr.strip() or result.stdout.strip()).splitlines()[-3:])
            raise HelpError(
                f"the build backend crashed in {hook} (exit {result.returncode}): {tail}",
                "run with -v to see its output",
            )
        if "error" in answer:
            output = (result.stderr.strip() or result.stdout.strip()).splitlines()[-8:]
            detail = "\n  ".join(output)
            message = answer["error"] + (f"\n  {detail}" if detail else "")
            raise HelpError(message, "run with -v to see the backend's whole output and fix the project")
        if answer.get("unsupported") and not hook.startswith("get_requires_"):
            raise HelpError(
                f"the build backend {self.system.backend} has no {hook} hook",
                "use a backend that supports it, or build the other artifact only",
            )
        return answer.get("return")

    def get_requires(self, kind: str, config_settings: dict[str, Any] | None = None) -> list[str]:
        value = self.call(f"get_requires_for_build_{kind}", config_settings=config_settings)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise HelpError(
                f"get_requires_for_build_{kind} returned {value!r}, not a list of strings",
                "this is a bug in the build backend",
            )
        return value

    def build(self, kind: str, outdir: Path, config_settings: dict[str, Any] | None = None) -> Path:
        """Run build_sdist/build_wheel into `outdir` and return the artifact's path."""
        outdir.mkdir(parents=True, exist_ok=True)
        name = self.call(f"build_{kind}", **{f"{kind}_directory": str(outdir), "config_settings": config_settings})
        if not isinstance(name, str) or not (outdir / name).is_file():
            raise HelpError(
                f"build_{kind} returned {name!r} but wrote no such file", "this is a bug in the build backend"
            )
        return outdir / name
