"""The core's doctor checks: Python, project root, plugins, cache, journal."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from helper.checks import Check


def checks(project: Any) -> list[Check]:
    found = [python_check(), root_check(project), *plugin_checks(project)]
    if project.found:
        found += [cache_check(project), journal_check(project)]
    return found


def python_check() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", "ok", f"Python {version} at {sys.executable}")


def root_check(project: Any) -> Check:
    from helper.root import find_root

    if not project.found and find_root(str(project.root)) == os.path.realpath(project.root):
        return Check("project", "warn", f"{project.root}: its configuration does not load", "fix the config finding")
    if not project.found:
        return Check(
            "project",
            "warn",
            f"no pyproject.toml, .git or config/help.toml at or above {project.root}",
            "run inside a project or pass --project DIR",
        )
    return Check("project", "ok", f"{project.name} at {project.root}")


def plugin_checks(project: Any) -> list[Check]:
    from helper.plugins import discover, problems, status

    disabled = project.config.get("plugins.disabled") or []
    result = [
        Check(f"plugin {p.name}", "fail", p.headline(), "fix the plugin, or uninstall it; `help.py plugins` lists it")
        for p in problems()
    ]
    for plugin in discover():
        state = status(plugin, disabled)
        if state.available:
            result.append(Check(f"plugin {plugin.name}", "ok", state.reason))
        else:
            result.append(Check(f"plugin {plugin.name}", "warn", f"unavailable: {state.reason}", plugin.install_hint))
    return result


def cache_check(project: Any) -> Check:
    from helper.cache import STALE_TMP_SECONDS, for_project

    cache = for_project(project)
    try:
        cache.dir.mkdir(parents=True, exist_ok=True)
        probe = cache.dir / f".doctor-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return Check(
            "cache", "fail", f"{cache.dir} is not writable: {exc.strerror}", f"fix the permissions of {cache.dir}"
        )
    stats = cache.stats()
    now = time.time()
    stale = sum(1 for p in cache.dir.rglob(".*.tmp") if now - p.stat().st_mtime > STALE_TMP_SECONDS)
    detail = f"{stats['entries']} entries, {stats['bytes'] // 1024} KiB, {stats['corrupt_evicted']} corrupt entries evicted so far"
    if stats["bytes"] > stats["max_bytes"]:
        return Check("cache", "warn", detail + " (over cache.max_size)", "help.py cache gc")
    if stale:
        return Check("cache", "warn", detail + f"; {stale} temp files left by killed writers", "help.py cache gc")
    return Check("cache", "ok", detail)


def journal_check(project: Any) -> Check:
    from helper.journal import recorded

    path = project.state_dir / "journal.sqlite"
    if not recorded(project.state_dir):
        return Check("journal", "ok", "no runs recorded yet")
    try:
        from helper.journal import Journal

        journal = Journal(path)
        verdict = journal.check()
        count = journal.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        journal.close()
    except Exception as exc:
        return Check("journal", "fail", f"{path}: {exc}", f"move {path} aside; a new journal is started")
    if verdict != "ok":
        return Check(
            "journal", "fail", f"{path}: integrity check says {verdict}", f"move {path} aside; a new journal is started"
        )
    return Check("journal", "ok", f"{count} runs recorded")
