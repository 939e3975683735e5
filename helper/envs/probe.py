"""Ask an environment's interpreter about itself: version, prefixes, marker values, distributions."""

from __future__ import annotations

import json
from typing import Any

from helper import proc

SCRIPT = r"""
import json, os, platform, sys
try:
    from importlib import metadata
    dists = {}
    for d in metadata.distributions():
        name = d.metadata["Name"]
        if name and name.lower() not in dists:
            dists[name.lower()] = [name, d.version]
    dists = list(dists.values())
except Exception:
    dists = None
print(json.dumps({
    "version": platform.python_version(),
    "executable": sys.executable,
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "markers": {
        "python_version": "%d.%d" % sys.version_info[:2],
        "python_full_version": platform.python_version(),
        "implementation_name": sys.implementation.name,
        "implementation_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "os_name": os.name,
        "sys_platform": sys.platform,
        "platform_system": platform.system(),
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "extra": "",
    },
    "dists": dists,
}))
"""


def probe(executable: str, timeout: float = 30.0) -> tuple[dict[str, Any] | None, str]:
    """(facts, "") when the interpreter runs, else (None, why not)."""
    try:
        result = proc.run([executable, "-I", "-c", SCRIPT], timeout=timeout)
    except Exception as exc:  # a missing or non-executable file is an answer, not a crash
        return None, str(exc)
    if result.timed_out:
        return None, f"did not answer within {timeout:g}s"
    if not result.ok:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return None, lines[-1] if lines else f"exit code {result.returncode}"
    try:
        return json.loads(result.stdout.strip().splitlines()[-1]), ""
    except (ValueError, IndexError):
        return None, "printed something that is not the expected JSON"
