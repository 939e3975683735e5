"""Run the detectors, merge what they find, score it and choose the project's environment.

Pipeline: context -> run detectors (parallel, per-detector timeout) -> merge
duplicates -> apply configuration -> rank -> choose -> cache. The cache entry
holds the stat signature of every path the detectors read and the values of
the variables that steer them, so a hit costs a few stat calls and no
interpreter start.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helper.envs.base import Context, Env, short_version
from helper.envs.keys import CACHE_NAME, base_inputs, still_valid


@dataclass
class Detection:
    """Everything found, the chosen environment and the platform it runs on."""

    envs: list[Env]
    platform: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cached: bool = False
    seconds: float = 0.0
    # Every path the answer was read from, with its stat signature; None when the answer is not reusable.
    seen: dict[str, Any] | None = None

    @property
    def chosen(self) -> Env | None:
        return next((e for e in self.envs if e.chosen), None)

    def project_envs(self) -> list[Env]:
        return [e for e in self.envs if e.project]

    def to_dict(self) -> dict[str, Any]:
        chosen = self.chosen
        return {
            "chosen": chosen.to_dict() if chosen else None,
            "environments": [e.to_dict() for e in self.envs],
            "platform": self.platform,
            "errors": self.errors,
            "cached": self.cached,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Detection:
        return cls(envs=[Env.from_dict(e) for e in data["environments"]], platform=data.get("platform") or {},
                   errors=list(data.get("errors") or []))  # fmt: skip


def cache_inputs(project: Path, environ: Mapping[str, str], root: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    settings = {k: v for k, v in config.items() if k == "python" or k.startswith("env.")}
    return {"base": base_inputs(str(project), environ, str(root)), "config": settings}


def load_cached(path: Path, inputs: dict[str, Any]) -> Detection | None:
    """The cached detection when its inputs and every recorded path's signature are unchanged."""
    try:
        with open(path, encoding="utf-8") as handle:
            entry = json.load(handle)
        if entry.get("inputs") != inputs or not still_valid(entry):
            return None
        found = Detection.from_dict(entry["result"])
        found.seen = entry["seen"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    found.cached = True
    return found


def save_cache(path: Path, inputs: dict[str, Any], seen: dict[str, Any], found: Detection) -> None:
    from helper.fsutil import atomic_write

    entry = {"inputs": inputs, "seen": seen, "result": found.to_dict()}
    with contextlib.suppress(OSError):  # a read-only project still detects; it just does not remember
        atomic_write(path, json.dumps(entry), fsync=False)


def run_detectors(ctx: Context, timeout: float, disabled: set[str]) -> tuple[list[Env], list[str]]:
    """Every detector in its own thread; one slower than `timeout` is reported and skipped."""
    from helper.envs.all import DETECTORS

    results: dict[str, list[Env]] = {}
    errors: list[str] = []

    def work(module: Any) -> None:
        try:
            results[module.KIND] = module.detect(ctx)
        except Exception as exc:  # one broken detector must not hide the others
            errors.append(f"{module.KIND}: {exc.__class__.__name__}: {exc}")

    wanted = [m for m in DETECTORS if m.KIND not in disabled]
    threads = [threading.Thread(target=work, args=(m,), daemon=True, name=f"env-{m.KIND}") for m in wanted]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for module, thread in zip(wanted, threads, strict=True):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            errors.append(f"{module.KIND}: no answer within {timeout:g}s; skipped")
    envs = [env for module in wanted for env in results.get(module.KIND, [])]
    return envs, errors


def _key(env: Env) -> str:
    if env.kind == "system" and env.manager != "pyenv":
        return "exe:" + os.path.realpath(env.executable or "")
    if env.prefix:
        return "prefix:" + os.path.realpath(env.prefix)
    return f"{env.kind}:{env.name}"


def merge(envs: list[Env]) -> list[Env]:
    """One entry per environment: the most confident detector's view, keeping `active`."""
    best: dict[str, Env] = {}
    for env in envs:
        key = _key(env)
        other = best.get(key)
        if other is None:
            best[key] = env
            continue
        winner, loser = (env, other) if env.confidence > other.confidence else (other, env)
        if loser.active and not winner.active:
            winner.active = True
            winner.reason += " (and activated in this shell)"
        best[key] = winner
    return list(best.values())


def apply_config(envs: list[Env], ctx: Context) -> list[Env]:
    """The `python` setting: a path picks that interpreter; a version prefers matching envs."""
    wanted = ctx.config.get("python")
    if not wanted:
        return envs
    if "/" in str(wanted) or os.sep in str(wanted):
        exe = ctx.project / wanted if not os.path.isabs(wanted) else Path(wanted)
        for env in envs:
            if env.executable and os.path.abspath(env.executable) == os.path.abspath(exe):
                env.confidence, env.reason = 1.0, f"set by the `python` setting; {env.reason}"
                return envs
        from helper.envs.base import venv_env

        made = venv_env(ctx, exe.parent.parent, kind="venv", project=str(ctx.project)) if ctx.exists(exe) else None
        env = made or Env(kind="configured", name=exe.name, prefix=str(exe.parent.parent), executable=str(exe),
                      version=short_version(exe.name), project=str(ctx.project), exists=ctx.exists(exe),
                      problem=None if ctx.exists(exe) else f"{exe} does not exist")  # fmt: skip
        env.executable, env.confidence, env.reason = str(exe), 1.0, "set by the `python` setting"
        envs.append(env)
        return envs
    for env in envs:
        if env.version and (env.version == wanted or env.version.startswith(wanted + ".")):
            env.confidence = min(1.0, env.confidence + 0.05)
        elif env.version:
            env.confidence = max(0.0, env.confidence - 0.3)
            env.reason += f" (the `python` setting asks for {wanted})"
    return envs


def rank(envs: list[Env]) -> list[Env]:
    """Best first: usable ones, then confidence, then the detector's priority."""
    from helper.envs.all import DETECTORS

    order = {m.KIND: m.PRIORITY for m in DETECTORS}
    envs.sort(key=lambda e: (not (e.exists and not e.problem), -round(e.confidence, 4), order.get(e.kind, 99)))
    for env in envs:
        env.chosen = False
    usable = next((e for e in envs if e.exists and not e.problem and e.executable), None)
    if usable is not None:
        usable.chosen = True
    return envs


def detect(
    project: Path,
    *,
    environ: Mapping[str, str] | None = None,
    root: Path = Path("/"),
    config: Mapping[str, Any] | None = None,
    pyproject: dict[str, Any] | None = None,
    cache_dir: Path | None = None,
    refresh: bool = False,
    config_files: tuple[Path, ...] = (),
) -> Detection:
    """Find the project's environments; cached in `cache_dir` when given."""
    started = time.monotonic()
    environ = os.environ if environ is None else environ
    config = config or {}
    inputs = cache_inputs(project, environ, root, config)
    cache_path = cache_dir / CACHE_NAME if cache_dir is not None else None
    if cache_path is not None and not refresh:
        hit = load_cached(cache_path, inputs)
        if hit is not None:
            hit.seconds = time.monotonic() - started
            return hit
    ctx = Context(project=project, environ=environ, root=root, config=config, pyproject=pyproject)
    for path in config_files:
        ctx.exists(path)  # the configuration came from these: editing one invalidates the entry
    disabled = set(config.get("env.disabled") or [])
    envs, errors = run_detectors(ctx, float(config.get("env.timeout") or 2.0), disabled)
    envs = rank(apply_config(merge(envs), ctx))
    platform: dict[str, Any] = {}
    from helper.envs.all import PLATFORMS

    for module in PLATFORMS:
        if module.KIND not in disabled:
            facts = module.facts(ctx)
            if facts:
                platform[module.KIND] = facts
    found = Detection(envs=envs, platform=platform, errors=errors, seconds=time.monotonic() - started)
    if not errors:
        found.seen = dict(ctx.seen)
        if cache_path is not None:
            save_cache(cache_path, inputs, found.seen, found)
    return found


def for_project(project: Any, *, refresh: bool = False, environ: Mapping[str, str] | None = None) -> Detection:
    """Detection for a loaded Project, cached in its .help/ when it has a root."""
    cache_dir = project.ensure_state_dir() if project.found else None
    pyproject = project.pyproject if (project.root / "pyproject.toml").is_file() else {}
    config_dir = project.root / "config"
    files = (project.root / "pyproject.toml", config_dir / "help.toml", config_dir / f"help.{project.profile}.toml")
    found = detect(project.root, environ=environ, config=project.config, pyproject=pyproject, cache_dir=cache_dir,
                   refresh=refresh, config_files=files)  # fmt: skip
    return align(found, project)


def align(found: Detection, project: Any) -> Detection:
    """Mark as chosen the project's environment (helper.envs.project_env), the one every command uses.

    Detection lists what is there; which of it is the project's is the resolver's answer, so `env`,
    `env check` and `env report` name the interpreter `env --python`, `test` and `run` use. When the
    project's environment does not exist yet, nothing is chosen.
    """
    from helper.envs.project_env import project_environment
    from helper.errors import HelpError

    try:
        env = project_environment(project)
    except HelpError:
        return found
    prefix, python = os.path.realpath(env.prefix), os.path.realpath(env.python)
    match = None
    for candidate in found.envs:
        candidate.chosen = False
        same_prefix = candidate.prefix and os.path.realpath(candidate.prefix) == prefix
        if match is None and (same_prefix or os.path.realpath(candidate.executable or "/-") == python):
            match = candidate
    if not env.exists:
        return found
    if match is None:
        match = Env(kind=env.manager, name=env.prefix.name, prefix=str(env.prefix), executable=str(env.python),
                    manager=env.manager, project=str(project.root), confidence=1.0, reason=env.reason)  # fmt: skip
        found.envs.insert(0, match)
    else:
        match.reason = f"{env.reason}; {match.reason}" if match.reason else env.reason
        found.envs.remove(match)
        found.envs.insert(0, match)
    match.chosen, match.executable = True, str(env.python)
    return found
