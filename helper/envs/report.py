"""`env report`: everything about the project's Python setup in one Markdown and one JSON file, secrets masked."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from helper.config_schema import is_secret
from helper.envs.detect import Detection
from helper.envs.health import Health
from helper.envs.keys import ENV_VARS

PREFIXES = (
    "PIP_",
    "UV_",
    "POETRY_",
    "PDM_",
    "CONDA",
    "MAMBA",
    "PIXI",
    "PYENV",
    "PYTHON",
    "HATCH_",
    "PIPENV_",
    "VIRTUAL_ENV",
    "HELP_",
)
TOOLS = ("uv", "poetry", "pdm", "hatch", "pipenv", "conda", "mamba", "micromamba", "pixi", "pyenv", "pip")
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@:\s]+)(:[^/@\s]*)?@")
MASK = "****"


def mask(name: str, value: str) -> str:
    """Hide secret-looking variables and the credentials inside URLs."""
    if is_secret(name.lower().replace("_", ".")) or re.search(r"secret|token|passw|credential|auth|key", name, re.I):
        return MASK if value else value
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{MASK}@", value)


def variables(environ: dict[str, str] | os._Environ[str] = os.environ) -> dict[str, str]:
    names = {n for n in environ if n in ENV_VARS or n.startswith(PREFIXES)}
    return {n: mask(n, environ[n]) for n in sorted(names)}


def build(project: Any, found: Detection, health: Health) -> dict[str, Any]:
    chosen = found.chosen
    return {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "project": {"name": project.name, "root": str(project.root), "profile": project.profile},
        "help_py": {"python": sys.executable, "version": platform.python_version(), "platform": platform.platform()},
        "chosen": chosen.to_dict() if chosen else None,
        "environments": [e.to_dict() for e in found.envs],
        "platform": found.platform,
        "health": health.to_dict(),
        "tools": {t: shutil.which(t) for t in TOOLS},
        "variables": variables(),
        "settings": {
            k: v for k, v in project.config.items() if k == "python" or k == "manager" or k.startswith("env.")
        },
    }


def markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# Python environment report: {data['project']['name']}",
        "",
        f"Generated {data['generated']} for `{data['project']['root']}`.",
        "",
    ]
    chosen = data["chosen"]
    lines += ["## Chosen environment", ""]
    if chosen:
        lines += [f"- interpreter: `{chosen['executable']}`", f"- kind: {chosen['kind']}, manager: {chosen['manager'] or '-'}, Python {chosen['version'] or '?'}",
                  f"- why: {chosen['reason']}", ""]  # fmt: skip
    else:
        lines += ["No usable environment was found.", ""]
    lines += ["## Health", "", "| status | check | detail | fix |", "|---|---|---|---|"]
    for f in data["health"]["findings"]:
        lines.append(f"| {f['status']} | {f['check']} | {_cell(f['detail'])} | {_cell(f['fix'] or '')} |")
    lines += [
        "",
        "## Environments found",
        "",
        "| | kind | name | version | manager | executable | score | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in data["environments"]:
        note = e["problem"] or ("missing" if not e["exists"] else ("active" if e["active"] else ""))
        lines.append(
            f"| {'*' if e['chosen'] else ''} | {e['kind']} | {_cell(e['name'])} | {e['version'] or '?'} | {e['manager'] or '-'} | `{e['executable'] or '-'}` | {e['confidence']:.2f} | {_cell(note)} |"
        )
    lines += ["", "## Platform", ""]
    if data["platform"]:
        lines += [
            f"- {k}: {v.get('runtime') or v.get('distro') or 'yes'} ({'; '.join(v['evidence'])})"
            for k, v in data["platform"].items()
        ]
    else:
        lines.append("- no container or WSL detected")
    lines += ["", "## Tools on PATH", ""] + [
        f"- {k}: `{v}`" if v else f"- {k}: not installed" for k, v in data["tools"].items()
    ]
    lines += ["", "## Variables (secrets masked)", ""] + [f"- `{k}={v}`" for k, v in data["variables"].items()]
    lines += [
        "",
        "## help.py",
        "",
        f"- Python {data['help_py']['version']} at `{data['help_py']['python']}` on {data['help_py']['platform']}",
    ]
    lines += [f"- setting `{k}` = `{v}`" for k, v in data["settings"].items()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write(directory: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    from helper.fsutil import atomic_write

    md, js = directory / "env-report.md", directory / "env-report.json"
    atomic_write(md, markdown(data), fsync=False)
    atomic_write(js, json.dumps(data, indent=2, default=str) + "\n", fsync=False)
    return md, js
