"""`build image`: build the Containerfile/Dockerfile with podman or docker.

The image is tagged NAME:VERSION and NAME:GITSHA. An engine counts only if it
can actually build (`info` answers): a docker client without its daemon is
reported as such, with what to do.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from helper import proc
from helper.errors import HelpError
from helper.ui import console

FILES = ("Containerfile", "Dockerfile")


def find_file(project: Any) -> Path:
    configured = project.config["build.containerfile"]
    if configured:
        path = project.root / configured
        if not path.is_file():
            raise HelpError(f"build.containerfile {configured!r} does not exist", "fix the path in the configuration")
        return path
    for name in FILES:
        if (project.root / name).is_file():
            return project.root / name
    raise HelpError(f"no Containerfile or Dockerfile in {project.root}", "write one, or set build.containerfile")


def choose_engine(setting: str, timeout: float = 30.0) -> str:
    """The first engine that is installed and answers `info`; a clear error otherwise."""
    names = ("podman", "docker") if setting == "auto" else (setting,)
    problems = []
    for name in names:
        path = shutil.which(name)
        if path is None:
            problems.append(f"{name} is not installed")
            continue
        result = proc.run([path, "info"], timeout=timeout)
        if result.ok:
            return path
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        problems.append(f"{name} cannot build ({detail[-1][:160] if detail else 'exit ' + str(result.returncode)})")
    raise HelpError(
        "no container engine can build here: " + "; ".join(problems),
        "install podman (apt-get install podman), or start the docker daemon",
    )


def image_name(project: Any) -> str:
    name = project.config["build.image"] or project.name
    return re.sub(r"[^a-z0-9._/-]+", "-", name.lower()).strip("-.") or "app"


def _tag(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:128]


def _version(project: Any) -> str | None:
    from helper.building.buildsystem import identity

    version = identity(project.pyproject)[1]
    if version:
        return version
    try:
        from helper.building.version_files import find

        return find(project.root, project.pyproject)[0].version
    except HelpError:
        return None


def build_image(project: Any) -> dict[str, Any]:
    from helper.building.release import short_sha

    containerfile = find_file(project)
    timeout = float(project.config["build.timeout"])
    engine = choose_engine(project.config["build.engine"])
    name = image_name(project)
    tags = [f"{name}:{_tag(v)}" for v in (_version(project), short_sha(project.root)) if v]
    if not tags:
        tags = [f"{name}:latest"]
    cmd = [engine, "build", "-f", str(containerfile)]
    for tag in tags:
        cmd += ["-t", tag]
    cmd.append(str(project.root))
    console.verbose("running " + " ".join(cmd))
    with console.progress(f"building image {tags[0]}"):
        result = proc.stream(cmd, console.verbose, cwd=project.root, timeout=timeout)
    if not result.ok:
        tail = result.stdout.strip().splitlines()[-4:]
        raise HelpError(
            f"{Path(engine).name} build failed: {' | '.join(tail) or 'no output'}",
            "run with -v to see the whole build output",
        )
    return {"engine": Path(engine).name, "tags": tags, "containerfile": str(containerfile)}
