"""Windows Subsystem for Linux: WSL_DISTRO_NAME, WSLInterop and a Microsoft kernel."""

from __future__ import annotations

from typing import Any

from helper.envs.base import Context

KIND = "wsl"
PRIORITY = 101


def facts(ctx: Context) -> dict[str, Any] | None:
    evidence: list[str] = []
    version = None
    if ctx.env("WSL_DISTRO_NAME"):
        evidence.append(f"WSL_DISTRO_NAME={ctx.env('WSL_DISTRO_NAME')}")
    for interop in ("/proc/sys/fs/binfmt_misc/WSLInterop", "/proc/sys/fs/binfmt_misc/WSLInterop-late"):
        if ctx.exists(ctx.sys(interop)):
            evidence.append(interop)
            break
    kernel = ctx.read_text(ctx.sys("/proc/sys/kernel/osrelease")) or ctx.read_text(ctx.sys("/proc/version")) or ""
    lowered = kernel.lower()
    if "microsoft" in lowered:
        evidence.append(f"kernel {kernel.split()[0] if kernel.split() else ''} is Microsoft's".replace("  ", " "))
        version = 2 if "wsl2" in lowered else 1
    if not evidence:
        return None
    return {
        "kind": KIND,
        "version": version,
        "distro": ctx.env("WSL_DISTRO_NAME"),
        "windows_mounts": ctx.is_dir(ctx.sys("/mnt/c")),
        "evidence": evidence,
    }
