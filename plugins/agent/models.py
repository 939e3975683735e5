"""Which model works a task: from its estimated complexity and the free (GPU or system) memory."""

from __future__ import annotations

import shutil

from helper import proc
from plugins.agent.client import ModelInfo

HEADROOM = 1.2  # a model needs about its size plus context in memory


def free_memory() -> tuple[int, str]:
    """(bytes free, where measured): the largest GPU's free memory via nvidia-smi, else MemAvailable."""
    if shutil.which("nvidia-smi"):
        out = proc.run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"], timeout=10)
        values = [int(v) for v in out.stdout.split() if v.strip().isdigit()]
        if out.ok and values:
            return max(values) * 1024 * 1024, "GPU (nvidia-smi)"
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "system memory (/proc/meminfo)"
    except OSError:
        pass
    return 0, "unknown"


def complexity(prompt: str) -> str:
    """'complex' for long or multi-part asks, else 'simple' (a cheap, explainable estimate)."""
    words = prompt.split()
    parts = sum(prompt.lower().count(w) for w in (" and ", "refactor", "redesign", "migrate", "across", "every"))
    return "complex" if len(words) > 40 or parts >= 2 else "simple"


def choose(
    installed: list[ModelInfo], configured: str | None, fallback: list[str], level: str, free: int, where: str
) -> tuple[list[str], str]:
    """(models to try in order, why the first was chosen)."""
    if configured:
        return [configured, *[f for f in fallback if f != configured]], "agent.model is set"
    if not installed:
        return list(fallback), "no model listed by the server: agent.fallback"
    by_size = sorted(installed, key=lambda m: m.size, reverse=True)
    fits = [m for m in by_size if not m.size or m.size * HEADROOM <= free] or by_size[-1:]
    pick = fits[0] if level == "complex" else fits[-1]
    rest = [m.name for m in by_size if m.size < pick.size or (m.size == pick.size and m.name != pick.name)]
    gib = free / 2**30
    reason = (
        f"{level} task: {'largest' if level == 'complex' else 'smallest'} model that fits "
        f"{gib:.1f} GiB free {where} ({pick.size / 2**30:.1f} GiB)"
    )
    chain = [pick.name, *[r for r in rest if r != pick.name]]
    return chain + [f for f in fallback if f not in chain], reason
