"""Call PEP 517 hooks in a subprocess of the build environment's interpreter.

One runner process serves the hooks of one source tree, so the backend is
imported once; whoever installs into the environment between two hooks calls
`restart()` so the next hook sees a fresh interpreter, as the PEP intends.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
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
        self,
        python: Path,
        source: Path,
        system: BuildSystem,
        *,
        timeout: float = 1800.0,
        isolated: bool = True,
        scripts: Path | None = None,
    ) -> None:
        self.python = python
        self.scripts = scripts
        self.source = source
        self.system = system
        self.timeout = timeout
        self.isolated = isolated
        self._proc: Any = None
        self._log: Any = None
        self._reader: Any = None
        self._requests = -1  # the write end of the request pipe while a runner is up
        self._seen = 0

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The user's PYTHONPATH would leak packages into an isolated build.
        if self.isolated:
            env.pop("PYTHONPATH", None)
            env.pop("PYTHONHOME", None)
        env["PYTHONNOUSERSITE"] = "1" if self.isolated else env.get("PYTHONNOUSERSITE", "")
        if self.scripts is not None:
            # Backends that shell out to a binary of their own package (uv_build's uv-build,
            # maturin, cmake, ninja) find it on PATH, as under `python -m build`.
            env["PATH"] = os.pathsep.join([str(self.scripts), *filter(None, [env.get("PATH")])])
        return env

    def _start(self) -> None:
        # Every resource is held by self as soon as it exists: close() lets go of all of them,
        # whenever a Ctrl-C lands.
        request_read, self._requests = os.pipe()
        self._responses, response_write = os.pipe()
        self._reader = os.fdopen(self._responses, "r", encoding="utf-8")
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 -- lives as long as the session; close() ends it
        self._seen = 0
        try:
            self._proc = subprocess.Popen(
                [str(self.python), str(RUNNER), str(request_read), str(response_write)],
                cwd=self.source,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                pass_fds=(request_read, response_write),
                start_new_session=True,
            )
        except OSError as exc:
            self.close()
            raise HelpError(
                f"cannot start {self.python}: {exc.strerror}",
                "recreate the build environment: delete it and build again",
            ) from None
        finally:
            os.close(request_read)
            os.close(response_write)

    def close(self, *, kill: bool = False) -> None:
        """End the runner: it exits when its request pipe closes; `kill` stops it at once.

        Safe to call again when a second Ctrl-C interrupted the first call: every resource is
        let go of before anything waits, so no descriptor is closed twice (its number may have
        been reused by then) and an interrupted wait leaves the group killed (proc.stop).
        """
        runner, self._proc = self._proc, None
        requests, self._requests = self._requests, -1
        reader, self._reader = self._reader, None
        log, self._log = self._log, None
        try:
            if requests >= 0:
                with contextlib.suppress(OSError):
                    os.close(requests)
            if runner is not None:
                if not kill:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        runner.wait(timeout=10)
                if runner.poll() is None or kill:
                    proc.stop(runner, grace=3)
        finally:
            for handle in (reader, log):
                if handle is not None:
                    with contextlib.suppress(OSError):
                        handle.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        # Leaving on an exception (Ctrl-C in between two hooks, say): no waiting for the runner.
        self.close(kill=kind is not None)

    def _output(self) -> str:
        """What the backend printed since the last call."""
        assert self._log is not None
        self._log.seek(self._seen)
        data = self._log.read()
        self._seen += len(data)
        return data.decode("utf-8", "replace")

    def _answer(self, hook: str) -> dict[str, Any] | None:
        """The runner's answer line, or None if it died; a timeout stops it."""
        import select

        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise HelpError(
                    f"{hook} timed out after {self.timeout:.0f}s", "raise build.timeout or check why the backend hangs"
                )
            ready, _, _ = select.select([self._responses], [], [], min(left, 1.0))
            if ready:
                line = self._reader.readline()
                if not line:
                    return None
                try:
                    return json.loads(line)
                except ValueError:
                    return None

    def call(self, hook: str, *, optional: bool = False, **kwargs: Any) -> Any:
        """The hook's return value; a missing hook is an error unless `optional` (then None)."""
        console.verbose(f"{self.system.backend}: {hook}")
        request = {
            "backend": self.system.backend,
            "backend_path": self.system.backend_path,
            "hook": hook,
            "kwargs": kwargs,
        }
        try:
            if self._proc is None:
                self._start()
            os.write(self._requests, (json.dumps(request) + "\n").encode())
            answer = self._answer(hook)
        except BrokenPipeError:
            answer = None
        except BaseException:  # Ctrl-C: never leave the runner behind
            self.close(kill=True)
            raise
        output = self._output()
        for line in output.splitlines():
            console.verbose(f"  {line}")
        if answer is None:
            code = self._proc.poll()
            self.close()
            tail = " | ".join(output.strip().splitlines()[-3:])
            raise HelpError(
                f"the build backend crashed in {hook} (exit {code}): {tail}", "run with -v to see its output"
            )
        if "error" in answer:
            lines = output.strip().splitlines()[-8:]
            detail = "\n  ".join(lines)
            message = answer["error"] + (f"\n  {detail}" if detail else "")
            raise HelpError(message, "run with -v to see the backend's whole output and fix the project")
        if answer.get("unsupported") and optional:
            return None
        if answer.get("unsupported") and not hook.startswith("get_requires_"):
            raise HelpError(
                f"the build backend {self.system.backend} has no {hook} hook",
                "use a backend that supports it, or build the other artifact only",
            )
        return answer.get("return")

    def restart(self) -> None:
        self.close()

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
        kwargs: dict[str, Any] = {f"{kind}_directory": str(outdir), "config_settings": config_settings}
        name = self.call(f"build_{kind}", **kwargs)
        if not isinstance(name, str) or not (outdir / name).is_file():
            raise HelpError(
                f"build_{kind} returned {name!r} but wrote no such file", "this is a bug in the build backend"
            )
        return outdir / name
