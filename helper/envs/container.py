"""Are we inside a container? /.dockerenv, /run/.containerenv, cgroups, Kubernetes variables."""

from __future__ import annotations

from typing import Any

from helper.envs.base import Context

KIND = "container"
PRIORITY = 100
RUNTIMES = ("docker", "kubepods", "containerd", "libpod", "lxc", "podman")


def facts(ctx: Context) -> dict[str, Any] | None:
    evidence: list[str] = []
    runtime = None
    if ctx.exists(ctx.sys("/.dockerenv")):
        evidence.append("/.dockerenv")
        runtime = "docker"
    containerenv = ctx.sys("/run/.containerenv")
    if ctx.exists(containerenv):
        evidence.append("/run/.containerenv")
        text = ctx.read_text(containerenv) or ""
        runtime = "podman" if 'engine="podman' in text or not text else runtime or "podman"
    cgroup = ctx.read_text(ctx.sys("/proc/1/cgroup")) or ""
    for word in RUNTIMES:
        if word in cgroup:
            evidence.append(f"/proc/1/cgroup mentions {word}")
            runtime = runtime or ("kubernetes" if word == "kubepods" else word)
            break
    if ctx.env("KUBERNETES_SERVICE_HOST"):
        evidence.append("KUBERNETES_SERVICE_HOST is set")
        runtime = "kubernetes"
    if ctx.env("container"):
        evidence.append(f"container={ctx.env('container')}")
        runtime = runtime or ctx.env("container")
    if not evidence:
        return None
    return {"kind": KIND, "runtime": runtime, "evidence": evidence}
