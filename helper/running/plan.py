"""What `run` will do: the processes and steps in order, their environment, notes.

Sources, first found wins: `run.processes` in the configuration, the Procfile,
detection (when run.autodetect). Setup steps (run.setup, else alembic/Django
migrations when detected) run to completion before any process starts.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from helper.errors import HelpError
from helper.records import Factory, Record
from helper.running import autodetect, spec
from helper.running.spec import ProcessSpec

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any


class Plan(Record):
    source: str  # config | procfile | detected
    processes: list[ProcessSpec]
    env: dict[str, str]
    env_file: str | None
    host: str
    notes: list[str] = Factory(list)
    python: str = ""
    missing: list[str] = Factory(list)  # modules a detected command needs, not installed

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "env_file": self.env_file,
            "notes": self.notes,
            "python": self.python,
            "missing": self.missing,
            "processes": [{**p.to_dict(), "oneshot": p.oneshot} for p in spec.start_order(self.processes)],
        }


def project_python(project: Any) -> Path | None:
    """The project's environment's interpreter (helper.envs.project_env), when it exists."""
    from helper.envs.project_env import project_environment

    try:
        env = project_environment(project)
    except HelpError:
        return None
    return env.python if env.exists else None


def environment(project: Any, dotenv_values: dict[str, str], python_bin: str) -> dict[str, str]:
    """.env values, overridden by the real environment, with the project's venv first on PATH."""
    env = dict(dotenv_values)
    env.update(os.environ)
    env["PATH"] = python_bin + os.pathsep + env.get("PATH", "")
    env.setdefault("PORT", str(project.config["run.port"]))
    env.setdefault("HELP_PROFILE", project.profile)
    return env


def build(project: Any, dotenv_values: dict[str, str]) -> Plan:
    config = project.config
    root = project.root
    python = project_python(project) or autodetect.find_python(root, {**dotenv_values, **os.environ})
    env = environment(project, dotenv_values, str(python.parent))
    host = str(config["run.host"])
    try:
        port = int(env["PORT"])
    except ValueError:
        raise HelpError(
            f"PORT={env['PORT']!r} is not a number", "set PORT to a port number in .env or the environment"
        ) from None
    notes: list[str] = []
    setup: list[ProcessSpec] = [
        ProcessSpec(
            f"setup{i + 1}" if len(config["run.setup"]) > 1 else "setup",
            spec.split_command(cmd),
            oneshot=True,
            restart="no",
        )
        for i, cmd in enumerate(config["run.setup"])
    ]
    procfile = root / str(config["run.procfile"])
    if config["run.processes"]:
        source = "config"
        processes = spec.from_config(config["run.processes"], root, project.sources.get("run.processes"))
    elif procfile.is_file():
        source = "procfile"
        processes = spec.from_procfile(procfile)
    elif config["run.autodetect"]:
        source = "detected"
        detected_setup, processes = autodetect.server(root, python, host, port)
        if not config["run.setup"]:
            setup = detected_setup
            step = autodetect.alembic_step(root, python, env)
            if step is not None:
                if any(s.name == step.name for s in setup):
                    step.name = "alembic"
                setup.insert(0, step)
            elif (root / "alembic.ini").is_file():
                notes.append("database already at the alembic head revision: migration skipped")
        if not processes:
            raise HelpError(
                f"nothing to run in {root}: no run.processes, no {procfile.name}, no FastAPI/Starlette/Flask app or manage.py found",
                'add [tool.help.run.processes] web = { command = "..." } to pyproject.toml, or a Procfile',
            )
    else:
        raise HelpError(
            "nothing to run: run.processes is empty, there is no Procfile and run.autodetect is off",
            "configure [tool.help.run.processes]",
        )
    names = {p.name for p in processes}
    clash = [s.name for s in setup if s.name in names]
    if clash:
        raise HelpError(f"process name {clash[0]!r} is also a setup step", "rename the process")
    for previous, step in itertools.pairwise(setup):
        step.depends_on = [previous.name]
    if setup:
        for p in processes:
            p.depends_on = [setup[-1].name, *p.depends_on]
    env_file = None
    from helper.running.dotenv import env_path

    path = env_path(root, project.profile, config["run.env_file"])
    if path.is_file():
        env_file = str(path)
    wanted = sorted({m for p in [*setup, *processes] for m in p.requires})
    missing = [m for m in wanted if autodetect.installed(python, m) is False]
    return Plan(source, [*setup, *processes], env, env_file, host, notes, str(python), missing)
