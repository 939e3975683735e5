"""`help.py test` as a pipeline of small steps.

    load environment -> fingerprint -> scope -> select -> run (pytest + recorder)
    -> store results -> report

Each step takes the shared Context and returns None to go on or an exit code
to stop. When nothing needs to run, no pytest process is started at all: the
answer comes from the cache in this process.
"""

from __future__ import annotations

import argparse
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helper import proc
from helper.errors import HelpError, UsageError
from helper.ui import console


@dataclass
class Context:
    project: Any
    args: argparse.Namespace
    started: float = field(default_factory=time.monotonic)
    python: Path | None = None
    venv: Path | None = None
    files_listed: list[str] | None = None
    user_paths: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    fast_ok: bool = True
    env: str = ""
    env_changed: list[str] = field(default_factory=list)
    test_files: list[str] = field(default_factory=list)
    wanted: Callable[[str], bool] = lambda test: True
    shard: tuple[int, int] | None = None
    partial_files: set[str] = field(default_factory=set)  # files of node-id arguments (collected in part)
    node_ids_only: bool = False
    plan: Any = None
    records: Any = None
    pytest_code: int | None = None
    ran_pytest: bool = False
    # set by steps
    fp: Any = None
    store: Any = None
    state: Any = None
    hasher: Any = None
    cache: Any = None
    pytest_config: Any = None
    pytest_args: list[str] = field(default_factory=list)
    collect_whole: str | None = None  # why pytest must collect from its own start paths (not named files)
    collect_digest: str = ""  # of the conftest.py files whose rules could not be read


# -- steps -----------------------------------------------------------------------
def load_environment(ctx: Context) -> int | None:
    from helper.testing import envhash
    from helper.testing.environment import ensure

    kept = _egg_info_snapshot(ctx.project.root)
    try:
        ctx.python = ensure(ctx.project, sync=not getattr(ctx.args, "no_sync", False))
    finally:
        _restore(kept)
    ctx.venv = ctx.python.parent.parent
    if not envhash.has_distribution(ctx.venv, "pytest"):
        raise HelpError(
            f"pytest is not installed in {ctx.venv}: it is not among the project's dependencies",
            "add it to the dev dependencies: help.py install pytest --dev",
        )
    return None


def fingerprint(ctx: Context) -> int | None:
    from helper import cache as cache_module
    from helper.fingerprint import Fingerprinter
    from helper.testing import checksums, envhash
    from helper.testing.deps import Hasher
    from helper.testing.discovery import pytest_config
    from helper.testing.state import State

    project = ctx.project
    state_dir = project.ensure_state_dir()
    ctx.fp = Fingerprinter(project.root, state_dir / "fingerprints.json")
    ctx.store = checksums.Store(state_dir / "test-checksums.json")
    ctx.state = State(state_dir / "test-state.json")
    ctx.cache = cache_module.for_project(project)
    if not ctx.state.tests and ctx.cache.remote is not None:
        ctx.state.load_shared(ctx.cache, project.name)
    ctx.hasher = Hasher(project.root, ctx.fp, ctx.store)
    ctx.pytest_config = pytest_config(project.root, project.pyproject)
    ctx.pytest_args = [*project.config["test.pytest_args"], *ctx.args.passthrough]
    ctx.user_paths, ctx.options, ctx.fast_ok = envhash.split_args(ctx.pytest_args)
    assert ctx.venv is not None
    parts = envhash.parts(
        venv=ctx.venv,
        root=project.root,
        pytest_text=ctx.pytest_config.text,
        depends=project.config["test.depends"],
        env_vars=project.config["test.env_vars"],
        options=ctx.options,
        environ=os.environ,
    )
    ctx.env = envhash.combine(parts)
    previous = ctx.state.data.get("env_parts") or {}
    if previous:
        ctx.env_changed = sorted(k for k in set(parts) | set(previous) if parts.get(k) != previous.get(k))
    ctx.state.data["env_parts"] = parts
    return None


def scope(ctx: Context) -> int | None:
    from helper.testing import collection, discovery
    from helper.testing.inpytest import shard

    root = ctx.project.root
    known = [rel for rel in ctx.state.files if (root / rel).is_file()]
    candidates = discovery.candidate_files(root, ctx.pytest_config, lambda: all_files(ctx))
    found = set(discovery.test_files(candidates, ctx.pytest_config)) | set(known)
    rules = collection.Rules(root, ctx.pytest_config, args=ctx.pytest_args)
    ctx.test_files = sorted(rel for rel in found if rules.keeps(rel))
    if rules.dynamic:
        # Not readable statically: trust the last real collection, and let pytest collect by its own rules.
        ctx.collect_whole = rules.dynamic
        console.verbose(f"collection: {rules.dynamic}; using the last collection's files")
        left_out = ctx.state.data.get("left_out") or {}
        if left_out.get("rules") == rules.digest():
            skip = set(left_out.get("files") or [])
            ctx.test_files = [rel for rel in ctx.test_files if rel not in skip]
        ctx.collect_digest = rules.digest()
    if ctx.user_paths:
        cwd = Path.cwd()
        targets = [discovery.normalise_arg(a, root, cwd) for a in ctx.user_paths]
        file_targets = [t.partition("::")[0] for t in targets]
        ctx.partial_files = {t.partition("::")[0] for t in targets if "::" in t}
        ctx.node_ids_only = all("::" in t for t in targets)
        ctx.test_files = [rel for rel in ctx.test_files if discovery.under(rel, file_targets)]
        prefix = _rootprefix(ctx)
        ctx.wanted = lambda test: any(
            _file_of(test, prefix) == t or discovery.under(_file_of(test, prefix), [t])
            if "::" not in t
            else (prefix + test).startswith(t)
            for t in targets
        )
    _apply_exclusions(ctx)
    if ctx.args.component:
        parts = discovery.components(root, ctx.project.config["test.components"], all_files(ctx))
        if ctx.args.component not in parts:
            raise UsageError(
                f"unknown component {ctx.args.component!r}",
                f"components: {', '.join(parts) or 'none found'}; define them under [tool.help.test.components]",
            )
        paths = parts[ctx.args.component]
        state = ctx.state
        prefix = _rootprefix(ctx)
        inner = ctx.wanted

        def in_component(test: str) -> bool:
            if not inner(test):
                return False
            if discovery.under(_file_of(test, prefix), paths):
                return True
            entry = state.tests.get(test) or {}
            names = state.names(entry["variants"][0]) if entry.get("variants") else []
            return any(discovery.under(n.partition("::")[0], paths) for n in names)

        ctx.wanted = in_component
        ctx.test_files = [rel for rel in ctx.test_files if rel in state.files or discovery.under(rel, paths)]
    if ctx.args.shard:
        try:
            ctx.shard = shard.parse(ctx.args.shard)
        except ValueError:
            raise UsageError(
                f"--shard {ctx.args.shard}: expected K/N with 1 <= K <= N",
                "e.g. --shard 1/4",
            ) from None
    return None


def _apply_exclusions(ctx: Context) -> None:
    """pytest's --ignore, --ignore-glob and --deselect, applied here too: no pytest run to learn what is left."""
    from helper.testing import discovery, envhash

    given = envhash.exclusions(ctx.pytest_args)
    if not any(given.values()):
        return
    root, cwd, prefix = ctx.project.root, Path.cwd(), _rootprefix(ctx)
    paths = [discovery.normalise_arg(a, root, cwd) for a in given["--ignore"]]
    globs = given["--ignore-glob"]
    deselected = tuple(discovery.normalise_arg(a, root, cwd) for a in given["--deselect"])
    ctx.test_files = [rel for rel in ctx.test_files if not discovery.ignored(rel, paths, globs, root)]
    inner = ctx.wanted

    def kept(test: str) -> bool:
        if not inner(test) or (prefix + test).startswith(deselected):
            return False
        return not discovery.ignored(_file_of(test, prefix), paths, globs, root)

    ctx.wanted = kept


def select(ctx: Context) -> int | None:
    from helper.testing import select as selection

    changed = None
    if ctx.args.changed is not None:
        changed = _changed_files(ctx.project.root, ctx.args.changed)
    ctx.plan = selection.make_plan(
        test_files=ctx.test_files,
        state=ctx.state,
        hasher=ctx.hasher,
        env=ctx.env,
        env_changed=ctx.env_changed,
        lookup=ctx.cache.get_action,
        wanted=ctx.wanted,
        run_all=ctx.args.all or ctx.args.cov,
        changed_files=changed,
        partial_ok=ctx.node_ids_only,
    )
    if ctx.args.explain:
        from helper.testing.report import render_explain

        render_explain(ctx.plan)
    return None


def run_tests(ctx: Context) -> int | None:
    from helper.testing import runner
    from helper.testing.inpytest import shard
    from helper.testing.warm import Warmer

    plan = ctx.plan
    if ctx.shard and not plan.collect and ctx.fast_ok:
        index, total = ctx.shard
        assignment = shard.assign([d.test for d in plan.decisions], ctx.state.durations(), total)
        plan.decisions = [d for d in plan.decisions if assignment.get(d.test) == index]
    known_any = bool(plan.decisions)
    if ctx.fast_ok and known_any and not plan.needs_pytest():
        return None  # everything answered from the cache
    if ctx.args.changed is not None and not plan.needs_pytest() and known_any:
        return None
    assert ctx.python is not None
    state_dir = ctx.project.ensure_state_dir()
    plugin_dir = runner.prepare_plugin(state_dir)
    run_dir = state_dir / "run" / f"test-{os.getpid()}"
    runner.cleanup(run_dir)
    run_dir.mkdir(parents=True)
    not_run = [d.test for d in plan.decisions if not d.run]
    control = {
        "root": str(ctx.project.root),
        "exclude": [str(ctx.venv), str(state_dir), str(ctx.project.root / ".git")],
        "deselect": not_run,
        "record_dir": str(run_dir),
        "subprocess_dir": str(run_dir / "sub"),
        "shard": list(ctx.shard) if ctx.shard else None,
        "durations": ctx.state.durations() if ctx.shard else {},
        "tracer": os.environ.get("HELPY_TEST_TRACER") or None,
        "code_cache": str(plugin_dir / "code"),
    }
    runner.write_control(run_dir / "control.json", control)
    args = list(ctx.pytest_args)
    if ctx.collect_whole and not ctx.user_paths and not ctx.args.component:
        pass  # pytest applies the rules that cannot be read here; the recorder deselects what need not run
    elif not ctx.user_paths and not ctx.args.component and ctx.state.data.get("rootdir") is not None:
        wanted_files = sorted({d.file for d in plan.to_run} | set(plan.collect))
        if len(wanted_files) < len(ctx.test_files):
            # Collect only the files with something to run; node ids stay rooted where they were.
            args += [
                f"--rootdir={ctx.project.root / ctx.state.data['rootdir']}",
                *_collect_args(wanted_files, ctx.pytest_config.python_files),
            ]
    elif ctx.args.component and not ctx.user_paths:
        wanted_files = sorted({d.file for d in plan.to_run} | set(plan.collect))
        if not wanted_files:
            return None
        args += _collect_args(wanted_files, ctx.pytest_config.python_files)
    args += _coverage_args(ctx)
    cmd = runner.command(ctx.python, args)
    console.verbose("running " + " ".join(cmd))
    _setup(ctx)
    warmer = Warmer(ctx.hasher, lambda: all_files(ctx)).start()
    try:
        ctx.pytest_code = runner.run(
            cmd,
            cwd=ctx.project.root,
            plugin_dir=plugin_dir,
            control=run_dir / "control.json",
            to_stderr=console.json,
        )
        ctx.ran_pytest = True
    finally:
        warmer.stop()
        _teardown(ctx)
    ctx.records = runner.read_records(run_dir)
    runner.cleanup(run_dir)
    return None


def store_results(ctx: Context) -> int | None:
    from helper.testing.store import store

    try:
        if ctx.records is not None:
            store(
                ctx.records,
                ctx.state,
                ctx.hasher,
                ctx.cache,
                root=ctx.project.root,
                env=ctx.env,
                listed=all_files(ctx),
                partial_files=ctx.partial_files,
                sharded=bool(ctx.shard),
            )
            if ctx.collect_whole and ctx.records.collected:
                # Files the unreadable rules left out: not new next time, until those rules change.
                left = sorted(rel for rel in ctx.test_files if rel not in ctx.state.files)
                ctx.state.data["left_out"] = {"rules": ctx.collect_digest, "files": left}
        if ctx.records is not None or ctx.state.data.get("env") != ctx.env or ctx.env_changed:
            ctx.state.data["env"] = ctx.env
            ctx.state.save()
        if ctx.records is not None and ctx.cache.remote is not None:
            ctx.state.share(ctx.cache, ctx.project.name)
        ctx.store.save()
        ctx.fp.save()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # The tests ran; failing to remember them must not change the verdict.
        console.warn(f"test results were not cached ({exc.__class__.__name__}: {exc}); the next run will repeat them")
        if console.debug:
            raise
    return None


def report(ctx: Context) -> int | None:
    from helper.testing import components
    from helper.testing import report as reports

    plan = ctx.plan
    records = ctx.records
    ran: dict[str, dict[str, Any]] = {}
    if records is not None:
        ran = {t: e for t, e in records.tests.items()}
        if records.collected:
            plan.decisions = [d for d in plan.decisions if d.run or d.test in records.in_scope or not ctx.shard]
    reasons = {d.test: d.reason for d in plan.decisions}
    table = reports.rows(plan, ran, reasons)
    outside = components.for_whole_run(ctx.project, ctx.args, ctx.user_paths)  # components with their own runner
    table = sorted(table + outside.rows, key=lambda r: r["id"])
    code = _exit_code(ctx, table) or (1 if outside.failed else 0)
    elapsed = time.monotonic() - ctx.started
    info = reports.summary(table, plan, code, elapsed)
    info["pytest_started"] = ctx.ran_pytest
    if outside.info:
        info["components"] = outside.info
    quality = None
    if ctx.args.quality:
        from helper.testing import quality as quality_checks

        quality = quality_checks.run_quality(ctx.project)
        info["quality"] = quality
        if quality_checks.failed(quality):
            code = code or 1
            info["exit_code"] = code
    if ctx.args.junit:
        reports.junit(Path(ctx.args.junit), table, elapsed)
    if reports.in_github_actions():
        for line in reports.github_annotations(table):
            print(line, flush=True)
    if console.json:
        console.result({**info, "tests": table})
    else:
        reports.render_summary(info)
        if quality is not None:
            quality_checks.render(quality)
    if code == 0 and not ctx.ran_pytest and not outside.ran:
        _offer_replay(ctx, outside.watch)
    return code


def _offer_replay(ctx: Context, watch: list[Path]) -> None:
    """An all-from-cache answer depends only on files and variables: let it be replayed (helper.replay).

    Not for runs that write elsewhere or ask someone else: --junit, --quality, --changed (git), --cov,
    GitHub annotations.
    """
    args = ctx.args
    if args.junit or args.quality or args.changed is not None or args.cov:
        return
    from helper import replay
    from helper.config_cache import config_inputs
    from helper.testing.report import in_github_actions

    if in_github_actions():
        return
    root = ctx.project.root
    rels = {*ctx.hasher.seen(), *ctx.test_files, *ctx.state.files}
    import glob

    for pattern in ctx.project.config["test.depends"]:  # hashed apart from the selection (envhash)
        rels.update(os.path.relpath(p, root) for p in glob.glob(str(root / pattern), recursive=True))
    folders = {""}
    for rel in rels:
        parent = os.path.dirname(rel)
        while parent not in folders:
            folders.add(parent)
            parent = os.path.dirname(parent)
    paths = [root / rel for rel in (*rels, *folders)] + watch
    paths += [root / name for name in (".gitignore", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")]
    paths += config_inputs(root)
    assert ctx.venv is not None and ctx.python is not None
    from helper.envs.layout import site_packages

    paths += [ctx.python, ctx.venv, *site_packages(ctx.venv)]
    state_dir = ctx.project.state_dir
    paths.append(state_dir / "cache" / "ac")  # gone after `cache clean` (stats.json beside it changes every run)
    own = [state_dir / "test-state.json", state_dir / "test-env.json"]
    replay.offer(paths, own=own, variables=ctx.project.config["test.env_vars"])


STEPS: list[Callable[[Context], int | None]] = [
    load_environment,
    fingerprint,
    scope,
    select,
    run_tests,
    store_results,
    report,
]


def execute(project: Any, args: argparse.Namespace) -> int:
    from helper.testing import components

    if components.owns(project, args):  # --component NAME with its own runner: no pytest
        return components.execute(project, args)
    ctx = Context(project=project, args=args)
    for step in STEPS:
        started = time.perf_counter()
        code = step(ctx)
        console.verbose(f"step {step.__name__}: {(time.perf_counter() - started) * 1000:.1f} ms")
        if code is not None:
            return code
    return 0


# -- helpers ---------------------------------------------------------------------
def _egg_info_snapshot(root: Path) -> dict[Path, bytes]:
    """The files of the project's existing *.egg-info folders (an sdist's are often tracked).

    An editable install runs setuptools' egg_info in the source tree, which
    rewrites them (SOURCES.txt); `help.py test` must leave tracked files as they were.
    """
    found: dict[Path, bytes] = {}
    for folder in [*root.glob("*.egg-info"), *root.glob("src/*.egg-info")]:
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            if path.is_file():
                try:
                    found[path] = path.read_bytes()
                except OSError:
                    continue
    return found


def _restore(snapshot: dict[Path, bytes]) -> None:
    from helper.fsutil import atomic_write

    for path, data in snapshot.items():
        try:
            if path.read_bytes() == data:
                continue
        except OSError:
            pass
        atomic_write(path, data)


def all_files(ctx: Context) -> list[str]:
    """Every project file (git's view when there is a repository); listed once, on demand."""
    if ctx.files_listed is None:
        from helper.fingerprint import list_files

        ctx.files_listed = list_files(ctx.project.root)
    return ctx.files_listed


def _collect_args(files: list[str], python_files: list[str]) -> list[str]:
    """Paths that make pytest collect `files` as a full run would.

    Only test modules (by `python_files`) are named themselves. Any other file a
    conftest.py turns into test items (example or data files) would be collected
    differently if named on the command line: a `.py` one imported as a test
    module, a `.txt` one run as a doctest. Its folder is named instead, so the
    usual rules apply and the recorder deselects what need not run.
    """
    from helper.testing.discovery import is_test_file, under

    folders = sorted({f.rpartition("/")[0] or "." for f in files if not is_test_file(f, python_files)})
    return folders + [f for f in files if not under(f, folders)]


def _rootprefix(ctx: Context) -> str:
    rootdir = ctx.state.data.get("rootdir")
    return "" if not rootdir or rootdir == "." else rootdir.rstrip("/") + "/"


def _file_of(test: str, prefix: str) -> str:
    return prefix + test.partition("::")[0]


def _exit_code(ctx: Context, table: list[dict[str, Any]]) -> int:
    failed = any(r["outcome"] in ("failed", "error") for r in table)
    if not ctx.ran_pytest:
        return 1 if failed else 0
    code = int(ctx.pytest_code or 0)
    cached = any(r["cached"] for r in table)
    if code == 5:
        if cached or ctx.plan.unaffected:
            return 0
        console.warn("pytest collected no tests")
    return code


def _changed_files(root: Path, ref: str) -> set[str]:
    def git(*args: str) -> list[str]:
        result = proc.run(["git", "-C", str(root), *args], timeout=60)
        if not result.ok:
            raise HelpError(
                f"--changed {ref}: git {' '.join(args)} failed: {result.stderr.strip()}",
                "pass a commit, branch or tag git knows",
            )
        return [line for line in result.stdout.splitlines() if line]

    return set(git("diff", "--name-only", ref, "--")) | set(git("ls-files", "--others", "--exclude-standard"))


def _coverage_args(ctx: Context) -> list[str]:
    if not ctx.args.cov:
        return []
    from helper.testing import envhash

    assert ctx.venv is not None
    if not envhash.has_distribution(ctx.venv, "pytest_cov"):
        raise HelpError(
            f"--cov needs pytest-cov in {ctx.venv}",
            f"{ctx.python} -m pip install pytest-cov",
        )
    return ["--cov", "--cov-report=term-missing"]


def _commands(ctx: Context, key: str) -> list[list[str]]:
    found = []
    for line in ctx.project.config[key]:
        try:
            found.append(shlex.split(line))
        except ValueError as exc:
            raise HelpError(
                f"{key}: cannot parse {line!r}: {exc}",
                "quote the command as a shell would",
                where=ctx.project.sources.get(key),
            ) from None
    return [c for c in found if c]


def _setup(ctx: Context) -> None:
    for cmd in _commands(ctx, "test.setup"):
        console.info("setup: " + shlex.join(cmd))
        code = proc.passthrough(cmd, cwd=ctx.project.root, stdout=2 if console.json else None)
        if code != 0:
            _teardown(ctx)
            raise HelpError(
                f"test setup `{shlex.join(cmd)}` failed with exit code {code}",
                "fix the command in test.setup; no test was run",
            )


def _teardown(ctx: Context) -> None:
    for cmd in _commands(ctx, "test.teardown"):
        console.info("teardown: " + shlex.join(cmd))
        try:
            code = proc.passthrough(cmd, cwd=ctx.project.root, stdout=2 if console.json else None)
        except HelpError as exc:
            console.warn(f"teardown `{shlex.join(cmd)}`: {exc.message}")
            continue
        if code != 0:
            console.warn(f"teardown `{shlex.join(cmd)}` failed with exit code {code}")
