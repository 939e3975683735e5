"""Selection: which tests must run, which results can come from the cache, and why.

Pure decisions over the state, current hashes and a result lookup; no I/O of
its own. A test runs when it is new, when it failed or errored last time, or
when no cached result matches (test id, hashes of its dependencies,
environment) -- i.e. a dependency or the environment changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from helper.records import Factory, Frozen
from helper.testing.deps import Hasher
from helper.testing.state import State

PASSLIKE = {"passed", "skipped", "xfailed", "xpassed"}
KEY_VERSION = 2


class Decision(NamedTuple):
    """One known test: run it (and why), or answer it with `result` from the cache."""

    test: str
    file: str
    run: bool
    reason: str
    result: dict[str, Any] | None = None  # the cached result when not run
    kept: bool = False  # `result` is the one the state kept (no cache read): still a cache hit


class Plan(Frozen):
    """Every known test's decision, and the test files pytest must collect (new, changed, failed)."""

    decisions: tuple[Decision, ...] = ()
    collect: dict[str, str] = Factory(dict)  # test file -> why pytest must collect it

    @property
    def to_run(self) -> list[Decision]:
        return [d for d in self.decisions if d.run]

    @property
    def cached(self) -> list[Decision]:
        return [d for d in self.decisions if not d.run and d.result is not None]

    @property
    def unaffected(self) -> list[Decision]:
        return [d for d in self.decisions if not d.run and d.result is None]

    def needs_pytest(self) -> bool:
        return bool(self.collect or self.to_run)


def result_key(test: str, env: str, deps_key: str) -> str:
    """The cache key of a test's result: (test id, hashes of its dependencies, environment)."""
    return hashlib.sha256(
        f"help-test-result\0{KEY_VERSION}\0{test}\0{env}\0{deps_key}".encode("utf-8", "surrogateescape")
    ).hexdigest()


def collect_key(env: str, deps_key: str) -> str:
    return hashlib.sha256(f"help-test-collect\0{KEY_VERSION}\0{env}\0{deps_key}".encode()).hexdigest()


def _short(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def make_plan(
    *,
    test_files: Sequence[str],
    state: State,
    hasher: Hasher,
    env: str,
    env_changed: Sequence[str],
    lookup: Callable[[str], dict[str, Any] | None],
    wanted: Callable[[str], bool] | None = None,
    run_all: bool = False,
    changed_files: set[str] | None = None,
    partial_ok: bool = False,
) -> Plan:
    """Decide every known test of `test_files` (`wanted`: of those it keeps); `partial_ok`: only named node ids are wanted."""
    decisions: list[Decision] = []
    collect: dict[str, str] = {}
    for rel in test_files:
        variants = state.files.get(rel, [])
        base = None
        for variant in variants:
            if (
                not variant.get("error")
                and (partial_ok or not variant.get("partial"))
                and collect_key(env, hasher.key_of(state.names(variant["collect"]))) == variant["key"]
            ):
                base = variant
                break
        if base is None:
            if not variants:
                collect[rel] = "new test file"
            elif variants[0].get("error"):
                collect[rel] = "collection failed last time"
            elif variants[0].get("partial"):
                collect[rel] = "only some of its tests were collected last time"
            else:
                changed = hasher.changed(state.names(variants[0]["collect"]), state.seen)
                collect[rel] = (
                    f"changed: {_short(changed)}"
                    if changed
                    else "environment changed"
                    if env_changed
                    else "tests may have changed"
                )
            if not variants:
                continue
            base = variants[0]
        static = state.names(base["collect"])
        for test in base.get("ids", []):
            if wanted is None or wanted(test):
                decisions.append(
                    _decide(
                        test,
                        rel,
                        static,
                        state,
                        hasher,
                        env,
                        env_changed,
                        lookup,
                        run_all,
                        changed_files,
                    )
                )
    return Plan(tuple(decisions), collect)


def _decide(
    test: str,
    rel: str,
    static: list[str],
    state: State,
    hasher: Hasher,
    env: str,
    env_changed: Sequence[str],
    lookup: Callable[[str], dict[str, Any] | None],
    run_all: bool,
    changed_files: set[str] | None,
) -> Decision:
    entry = state.tests.get(test)
    if entry is None or not entry.get("variants"):
        return Decision(test, rel, True, "new test")
    if run_all:
        return Decision(test, rel, True, "--all")
    latest = [*static, *state.names(entry["variants"][0])]
    if changed_files is not None:
        touched = sorted({n.partition("::")[0] for n in latest} & changed_files)
        if touched:
            return Decision(test, rel, True, f"depends on changed {_short(touched)}")
        return Decision(test, rel, False, "not affected by the changes")
    result = None
    kept = False
    for n, sid in enumerate(entry["variants"]):
        key = result_key(test, env, hasher.key_of(static + state.names(sid)))
        if n == 0 and key == entry.get("key"):
            # The last result, kept in the state: no cache read on the no-change path.
            result = {
                "outcome": entry.get("outcome"),
                "duration": entry.get("duration", 0.0),
            }
            kept = True
            break
        result = lookup(key)
        if result is not None:
            break
    if result is not None and result.get("outcome") in PASSLIKE:
        return Decision(test, rel, False, f"unchanged, cached {result['outcome']}", result, kept)
    if result is not None:
        return Decision(
            test,
            rel,
            True,
            f"{'errored' if result.get('outcome') == 'error' else 'failed'} last time",
        )
    changed = hasher.changed(latest, state.seen)
    if changed:
        return Decision(test, rel, True, f"changed: {_short(changed)}")
    if env_changed:
        return Decision(test, rel, True, f"environment changed: {_short(env_changed)}")
    return Decision(test, rel, True, "no cached result")
