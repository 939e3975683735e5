"""Store what a pytest run recorded: collections and dependency sets in the state, results in the cache.

Each result goes into the content-addressed cache under
(test id, hashes of its dependencies, environment), so it is found again
whenever the same code and environment come back -- after a branch switch,
or on another machine sharing the remote cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helper.testing.deps import recorded_deps, static_deps
from helper.testing.graph import ImportGraph
from helper.testing.select import collect_key, result_key

if TYPE_CHECKING:
    from helper.cache import Cache
    from helper.testing.deps import Hasher
    from helper.testing.runner import Records
    from helper.testing.state import State


def _prefix(rootdir: str | None, root: Any) -> str:
    """pytest's rootdir (kept relative to the project root) as a prefix of node-id paths."""
    return "" if not rootdir or rootdir == "." else rootdir.rstrip("/") + "/"


def store(
    records: Records,
    state: State,
    hasher: Hasher,
    cache: Cache,
    *,
    root: Path,
    env: str,
    listed: list[str],
    partial_files: set[str],
    sharded: bool,
) -> None:
    """Remember what `records` say: `listed` is every project file, `partial_files` those collected in part."""
    if records.rootdir:
        state.data["rootdir"] = os.path.relpath(records.rootdir, root).replace(os.sep, "/")
    prefix = _prefix(state.data.get("rootdir"), root)
    files = set(listed)
    graph = ImportGraph(
        [f for f in listed if f.endswith(".py")],
        lambda rel: (hasher.analysis(rel) or {}).get("imports", []),
    )

    noted: set[str] = set()

    def note(sid: str) -> None:
        """Remember each dependency's hash for `--explain`, once per set in a run."""
        if sid not in noted:
            noted.add(sid)
            for name in state.names(sid):
                state.seen[name] = hasher.hash(name)

    by_file: dict[str, list[str]] = {}
    for test in records.all_ids:
        by_file.setdefault(prefix + test.partition("::")[0], []).append(test)
    statics: dict[str, list[str]] = {}
    if records.collected:
        for rel in sorted(set(by_file) | set(records.modules) | records.collect_errors):
            names = sorted(static_deps(rel, graph, files, records.modules.get(rel, [])))
            sid = state.add_set(names)
            key = collect_key(env, hasher.key_of(names))
            variant: dict[str, Any] = {
                "collect": sid,
                "key": key,
                "ids": by_file.get(rel, []),
                "error": rel in records.collect_errors,
            }
            if rel in partial_files:
                # Node ids were asked for: pytest collected only those, so keep the other ids known.
                same = next(
                    (v for v in state.files.get(rel, []) if v["collect"] == sid and v["key"] == key),
                    None,
                )
                known = same["ids"] if same else []
                known_set = set(known)
                variant["ids"] = [*known, *(t for t in variant["ids"] if t not in known_set)]
                variant["partial"] = same is None or bool(same.get("partial"))
            state.remember_file(rel, variant)
            statics[rel] = names
            note(sid)

    # Tests of one file that ran the same code and read the same files share their dependency set.
    shared: dict[tuple[Any, ...], tuple[str, str]] = {}
    classes_seen = records.tracer == "instrument"
    # The run's results go into one pack: creating a file per test costs more than all the rest.
    with cache.batch():
        for test, entry in records.tests.items():
            rel = prefix + test.partition("::")[0]
            memo = (rel, entry.get("funcs"), tuple(entry.get("files", ())))
            found = shared.get(memo)
            if found is None:
                static = statics.get(rel)
                if static is None:
                    variants = state.files.get(rel) or []
                    static = state.names(variants[0]["collect"]) if variants else sorted(static_deps(rel, graph, files))
                if "funcs" in entry:
                    funcs = [records.units[i] for i in entry["funcs"]]
                    recorded = recorded_deps(hasher, funcs, entry.get("files", []), static, classes_seen=classes_seen)
                else:  # not recorded (e.g. no tracer slot free): every imported file counts whole
                    recorded = {name.partition("::")[0] for name in static if "::" in name}
                sid = state.add_set(recorded)
                found = shared[memo] = (sid, hasher.key_of(static + state.names(sid)))
            sid, deps_key = found
            outcome = str(entry.get("outcome", "error"))
            duration = float(entry.get("duration", 0.0))
            payload = {"outcome": outcome, "duration": round(duration, 6)}
            for field in ("path", "line", "message"):
                if field in entry:
                    payload[field] = entry[field]
            key = result_key(test, env, deps_key)
            before = state.tests.get(test) or {}
            unchanged = before.get("key") == key and before.get("outcome") == outcome and "message" not in payload
            if not (unchanged and cache.touch_action(key)):  # a passing result stored already is kept
                cache.put_action(key, payload, duration)
            state.remember_test(test, rel, sid, outcome, duration, key=key, keep_duration=sharded)
            note(sid)
