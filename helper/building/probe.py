"""Try the project's build backend for the doctor: prepare the wheel's metadata in the build environment.

The doctor only vouches for what it tried: the backend is imported and its
prepare_metadata_for_build_wheel hook (build_wheel when it has none) run in
the isolated environment `build` would use, on a copy of the inputs, with the
same PATH and variables as a real build. No environment is created here.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helper.building import artifacts, buildsystem, isolation
from helper.errors import HelpError


@dataclass
class Probe:
    status: str  # ok | warn | fail
    detail: str
    hint: str | None = None


def try_backend(project: Any, system: buildsystem.BuildSystem, *, timeout: float = 30.0) -> Probe:
    from helper.building.backend import Backend

    env = isolation.existing(project, system.requires)
    wanted = ", ".join(system.requires) or "no requirements"
    if env is None:
        return Probe(
            "warn",
            f"{system.backend} ({wanted}): not tried, no build environment yet",
            "run `help.py build` once; the doctor then tries the backend in that environment",
        )
    root = project.root
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="help-probe-") as tmp:
        outdir = root / str(project.config["build.outdir"])
        files = artifacts.input_files(root, outdir)
        source = artifacts.copy_inputs(root, files, Path(tmp) / root.name, with_git=True)
        with Backend(env.python, source, system, timeout=timeout, isolated=True, scripts=env.scripts) as backend:
            try:
                needs = [r for r in backend.get_requires("wheel") if r not in env.requested]
                if needs:
                    return Probe(
                        "warn",
                        f"{system.backend}: not tried, it also needs {', '.join(needs)}",
                        "run `help.py build` once to install them into the build environment",
                    )
                meta = Path(tmp) / "meta"
                meta.mkdir()
                made = backend.call(
                    "prepare_metadata_for_build_wheel",
                    optional=True,
                    metadata_directory=str(meta),
                    config_settings=None,
                )
                made = made or backend.build("wheel", Path(tmp) / "out").name
            except HelpError as exc:
                return Probe("fail", f"{system.backend}: {exc.headline().splitlines()[0]}", exc.hint)
    return Probe("ok", f"{system.backend} made {made} in {time.monotonic() - started:.1f}s ({wanted})")
