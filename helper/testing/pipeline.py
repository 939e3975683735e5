"""`help.py test` as a pipeline of small steps, each given the typed results it needs of those before it.

    load_environment -> Environment      the project's venv, synced
    open_stores      -> Stores           state, result cache, file hashes of earlier runs
    fingerprint      -> Inputs           pytest's configuration and arguments, environment hash
    scope            -> Scope            test files and which test ids this run asks for
    select           -> Plan             what runs, what comes from the cache, and why
    run_tests        -> Run              pytest with the recorder, when something must run
    store_results                        what pytest recorded, into the state and the cache
    run_components   -> Outcome          components with their own runner (node, npm ...)
    report           -> exit code        summary, --json, --junit, annotations
    offer_replay                         an all-from-cache answer, replayable while its inputs stay

The steps are defined below in that order (STEPS lists them) and `execute`
calls them in it; the records defined here and the Plan are frozen
(helper.records.Frozen: no dataclass to build at import), so a step can be
called alone with constructed inputs. When nothing needs to run, no pytest process is
started at all: the answer comes from the cache in this process.
"""

from __future__ import annotations

import argparse
import os
import shlex
import time
from functools import wraps
from pathlib import Path

from helper import proc
from helper.errors import HelpError, UsageError
from helper.records import Frozen, replace
from helper.ui import console

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ParamSpec, TypeVar

    from helper.cache import Cache
    from helper.fingerprint import Fingerprinter
    from helper.project import Project
    from helper.testing.checksums import Store as ChecksumStore
    from helper.testing.components import Outcome
    from helper.testing.deps import Hasher
    from helper.testing.discovery import PytestConfig
    from helper.testing.runner import Records
    from helper.testing.select import Plan
    from helper.testing.state import State

    P = ParamSpec("P")
    T = TypeVar("T")


# -- what the steps hand on ------------------------------------------------------
class Environment(Frozen):
    """The project's environment, synced unless --no-sync: pytest runs under its interpreter."""

    python: Path
    venv: Path


class ProjectFiles:
    """Every project file (git's view when there is a repository): listed once, when first asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listed: list[str] | None = None

    def __call__(self) -> list[str]:
        if self._listed is None:
            from helper.fingerprint import list_files

            self._listed = list_files(self.root)
        return self._listed


class Stores(Frozen):
    """What earlier runs left in .help/, read once; store_results saves them again."""

    fingerprints: Fingerprinter  # file hashes by stat signature
    checksums: ChecksumStore  # each module's analysis
    state: State  # collections, dependency sets, last results
    cache: Cache  # results by key, local and remote
    hasher: Hasher  # hashes of files and units, over the two above
    files: ProjectFiles


class Inputs(Frozen):
    """What this run is asked and in what environment: pytest's configuration and arguments, hashed."""

    pytest_config: PytestConfig
    pytest_args: tuple[str, ...]  # test.pytest_args, then what the command line passes through
    user_paths: tuple[str, ...]  # the paths and node ids among them
    fast_ok: bool  # no option among them that needs pytest started even with nothing to run
    env: str  # hash of the environment: Python, packages, pytest's configuration, options, variables
    env_changed: tuple[str, ...] = ()  # the parts of it that changed since the last run


class Wanted(Frozen):
    """Which known tests the run asks for, as one predicate on test ids (relative to pytest's rootdir).

    Paths and node ids named on the command line, pytest's --ignore, --ignore-glob
    and --deselect (applied here too: no pytest run to learn what is left), and
    --component's paths, either holding the test's file or code it ran last time.
    Every path is relative to the project root; `prefix` is pytest's rootdir there.
    """

    root: Path
    prefix: str = ""
    targets: tuple[str, ...] | None = None  # None: every test
    ignored: tuple[str, ...] = ()
    ignored_globs: tuple[str, ...] = ()
    deselected: tuple[str, ...] = ()
    component: tuple[str, ...] | None = None  # None: no --component
    state: State | None = None  # what each test ran last time, for `component`

    @property
    def narrows(self) -> bool:
        """False when every test is wanted."""
        return not (
            self.targets is None
            and self.component is None
            and not (self.ignored or self.ignored_globs or self.deselected)
        )

    def __call__(self, test: str) -> bool:
        from helper.testing import discovery

        file = self.prefix + test.partition("::")[0]
        if self.targets is not None and not any(
            file == t or discovery.under(file, [t]) if "::" not in t else (self.prefix + test).startswith(t)
            for t in self.targets
        ):
            return False
        if self.deselected and (self.prefix + test).startswith(self.deselected):
            return False
        if (self.ignored or self.ignored_globs) and discovery.ignored(
            file, list(self.ignored), list(self.ignored_globs), self.root
        ):
            return False
        if self.component is None:
            return True
        paths = list(self.component)
        if discovery.under(file, paths):
            return True
        if self.state is None:
            return False
        entry = self.state.tests.get(test) or {}
        names = self.state.names(entry["variants"][0]) if entry.get("variants") else []
        return any(discovery.under(n.partition("::")[0], paths) for n in names)


class Scope(Frozen):
    """The test modules this run may collect and the test ids it asks for."""

    test_files: tuple[str, ...]  # project-relative
    wanted: Wanted
    partial_files: frozenset[str] = frozenset()  # files of node-id arguments (collected in part)
    node_ids_only: bool = False  # every argument is a node id
    shard: tuple[int, int] | None = None  # --shard K/N as (K, N)
    collect_whole: str | None = None  # why pytest must collect from its own start paths (not named files)
    collect_digest: str = ""  # of the conftest.py files whose rules could not be read


class Run(Frozen):
    """What the run step did: the plan it carried out (this shard's share) and what pytest recorded."""

    plan: Plan
    records: Records | None = None  # None: no pytest process was started
    pytest_code: int | None = None

    @property
    def ran_pytest(self) -> bool:
        return self.pytest_code is not None


STEPS: list[Callable[..., object]] = []


def _step(function: Callable[P, T]) -> Callable[P, T]:
    """A step of the pipeline: listed in STEPS in the order defined, its time shown under -v."""

    @wraps(function)
    def timed(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        result = function(*args, **kwargs)
        console.verbose(f"step {function.__name__}: {(time.perf_counter() - started) * 1000:.1f} ms")
        return result

    STEPS.append(timed)
    return timed


# -- steps -----------------------------------------------------------------------
@_step
def load_environment(project: Project, args: argparse.Namespace) -> Environment:
    from helper.testing import envhash
    from helper.testing.environment import ensure

    kept = _egg_info_snapshot(project.root)
    try:
        python = ensure(project, sync=not getattr(args, "no_sync", False))
    finally:
        _restore(kept)
    venv = python.parent.parent
    if not envhash.has_distribution(venv, "pytest"):
        raise HelpError(
            f"pytest is not installed in {venv}: it is not among the project's dependencies",
            "add it to the dev dependencies: help.py install pytest --dev",
        )
    return Environment(python=python, venv=venv)


@_step
def open_stores(project: Project) -> Stores:
    from helper import cache as cache_module
    from helper.fingerprint import Fingerprinter
    from helper.testing import checksums
    from helper.testing.deps import Hasher
    from helper.testing.state import State

    state_dir = project.ensure_state_dir()
    fingerprints = Fingerprinter(project.root, state_dir / "fingerprints.json")
    store = checksums.Store(state_dir / "test-checksums.json")
    state = State(state_dir / "test-state.json")
    cache = cache_module.for_project(project)
    if not state.tests and cache.remote is not None:
        state.load_shared(cache, project.name)
    hasher = Hasher(project.root, fingerprints, store)
    return Stores(fingerprints, store, state, cache, hasher, ProjectFiles(project.root))


@_step
def fingerprint(project: Project, args: argparse.Namespace, environment: Environment, stores: Stores) -> Inputs:
    from helper.testing import envhash
    from helper.testing.discovery import pytest_config

    config = pytest_config(project.root, project.pyproject)
    pytest_args = [*project.config["test.pytest_args"], *args.passthrough]
    user_paths, options, fast_ok = envhash.split_args(pytest_args)
    parts = envhash.parts(
        venv=environment.venv,
        root=project.root,
        pytest_text=config.text,
        depends=project.config["test.depends"],
        env_vars=project.config["test.env_vars"],
        options=options,
        environ=os.environ,
    )
    state = stores.state
    previous = state.data.get("env_parts") or {}
    changed = sorted(k for k in set(parts) | set(previous) if parts.get(k) != previous.get(k)) if previous else []
    state.data["env_parts"] = parts
    return Inputs(
        pytest_config=config,
        pytest_args=tuple(pytest_args),
        user_paths=tuple(user_paths),
        fast_ok=fast_ok,
        env=envhash.combine(parts),
        env_changed=tuple(changed),
    )


@_step
def scope(project: Project, args: argparse.Namespace, stores: Stores, inputs: Inputs) -> Scope:
    from helper.testing import collection, discovery, envhash
    from helper.testing.inpytest import shard

    root, state = project.root, stores.state
    cwd = Path.cwd()
    known = [rel for rel in state.files if (root / rel).is_file()]
    candidates = discovery.candidate_files(root, inputs.pytest_config, stores.files)
    found = set(discovery.test_files(candidates, inputs.pytest_config)) | set(known)
    rules = collection.Rules(root, inputs.pytest_config, args=list(inputs.pytest_args))
    test_files = sorted(rel for rel in found if rules.keeps(rel))
    collect_whole, collect_digest = None, ""
    if rules.dynamic:
        # Not readable statically: trust the last real collection, and let pytest collect by its own rules.
        collect_whole = rules.dynamic
        console.verbose(f"collection: {rules.dynamic}; using the last collection's files")
        left_out = state.data.get("left_out") or {}
        if left_out.get("rules") == rules.digest():
            skip = set(left_out.get("files") or [])
            test_files = [rel for rel in test_files if rel not in skip]
        collect_digest = rules.digest()
    prefix = _rootprefix(state)
    targets = None
    partial_files: frozenset[str] = frozenset()
    node_ids_only = False
    if inputs.user_paths:
        targets = tuple(discovery.normalise_arg(a, root, cwd) for a in inputs.user_paths)
        file_targets = [t.partition("::")[0] for t in targets]
        partial_files = frozenset(t.partition("::")[0] for t in targets if "::" in t)
        node_ids_only = all("::" in t for t in targets)
        test_files = [rel for rel in test_files if discovery.under(rel, file_targets)]
    # pytest's --ignore, --ignore-glob and --deselect, applied here too: no pytest run to learn what is left.
    given = envhash.exclusions(list(inputs.pytest_args))
    ignored = tuple(discovery.normalise_arg(a, root, cwd) for a in given["--ignore"])
    ignored_globs = tuple(given["--ignore-glob"])
    deselected = tuple(discovery.normalise_arg(a, root, cwd) for a in given["--deselect"])
    if ignored or ignored_globs:
        test_files = [rel for rel in test_files if not discovery.ignored(rel, list(ignored), list(ignored_globs), root)]
    component = None
    if args.component:
        parts = discovery.components(root, project.config["test.components"], stores.files())
        if args.component not in parts:
            raise UsageError(
                f"unknown component {args.component!r}",
                f"components: {', '.join(parts) or 'none found'}; define them under [tool.help.test.components]",
            )
        component = tuple(parts[args.component])
        test_files = [rel for rel in test_files if rel in state.files or discovery.under(rel, list(component))]
    sharding = None
    if args.shard:
        try:
            sharding = shard.parse(args.shard)
        except ValueError:
            raise UsageError(
                f"--shard {args.shard}: expected K/N with 1 <= K <= N",
                "e.g. --shard 1/4",
            ) from None
    wanted = Wanted(
        root=root,
        prefix=prefix,
        targets=targets,
        ignored=ignored,
        ignored_globs=ignored_globs,
        deselected=deselected,
        component=component,
        state=state if component is not None else None,
    )
    return Scope(
        test_files=tuple(test_files),
        wanted=wanted,
        partial_files=partial_files,
        node_ids_only=node_ids_only,
        shard=sharding,
        collect_whole=collect_whole,
        collect_digest=collect_digest,
    )


@_step
def select(project: Project, args: argparse.Namespace, stores: Stores, inputs: Inputs, scoped: Scope) -> Plan:
    from helper.testing import select as selection

    changed = None
    if args.changed is not None:
        changed = _changed_files(project.root, args.changed)
    plan = selection.make_plan(
        test_files=scoped.test_files,
        state=stores.state,
        hasher=stores.hasher,
        env=inputs.env,
        env_changed=inputs.env_changed,
        lookup=stores.cache.get_action,
        wanted=scoped.wanted if scoped.wanted.narrows else None,
        run_all=args.all or args.cov,
        changed_files=changed,
        partial_ok=scoped.node_ids_only,
    )
    if args.explain:
        from helper.testing.report import render_explain

        render_explain(plan)
    return plan


@_step
def run_tests(
    project: Project,
    args: argparse.Namespace,
    environment: Environment,
    stores: Stores,
    inputs: Inputs,
    scoped: Scope,
    plan: Plan,
) -> Run:
    from helper.testing import runner
    from helper.testing.inpytest import shard
    from helper.testing.warm import Warmer

    state = stores.state
    if scoped.shard and not plan.collect and inputs.fast_ok:
        index, total = scoped.shard
        assignment = shard.assign([d.test for d in plan.decisions], state.durations(), total)
        plan = replace(plan, decisions=tuple(d for d in plan.decisions if assignment.get(d.test) == index))
    # Results the state kept are cached results too, reused without a cache read: the journal
    # and `cache stats` count them as hits (this shard's own, when sharded).
    kept = [d.result for d in plan.cached if d.kept and d.result is not None]
    stores.cache.count_reused(len(kept), sum(float(r.get("duration") or 0.0) for r in kept))
    known_any = bool(plan.decisions)
    if inputs.fast_ok and known_any and not plan.needs_pytest():
        return Run(plan)  # everything answered from the cache
    if args.changed is not None and not plan.needs_pytest() and known_any:
        return Run(plan)
    user_paths = list(inputs.user_paths)
    args_out = list(inputs.pytest_args)
    if scoped.collect_whole and not user_paths and not args.component:
        pass  # pytest applies the rules that cannot be read here; the recorder deselects what need not run
    elif not user_paths and not args.component and state.data.get("rootdir") is not None:
        wanted_files = sorted({d.file for d in plan.to_run} | set(plan.collect))
        if len(wanted_files) < len(scoped.test_files):
            # Collect only the files with something to run; node ids stay rooted where they were.
            args_out += [
                f"--rootdir={project.root / state.data['rootdir']}",
                *_collect_args(wanted_files, inputs.pytest_config.python_files),
            ]
    elif args.component and not user_paths:
        wanted_files = sorted({d.file for d in plan.to_run} | set(plan.collect))
        if not wanted_files:
            return Run(plan)
        args_out += _collect_args(wanted_files, inputs.pytest_config.python_files)
    state_dir = project.ensure_state_dir()
    plugin_dir = runner.prepare_plugin(state_dir)
    run_dir = state_dir / "run" / f"test-{os.getpid()}"
    runner.cleanup(run_dir)
    run_dir.mkdir(parents=True)
    control = {
        "root": str(project.root),
        "exclude": [str(environment.venv), str(state_dir), str(project.root / ".git")],
        "deselect": [d.test for d in plan.decisions if not d.run],
        "record_dir": str(run_dir),
        "subprocess_dir": str(run_dir / "sub"),
        "shard": list(scoped.shard) if scoped.shard else None,
        "durations": state.durations() if scoped.shard else {},
        "tracer": os.environ.get("HELPY_TEST_TRACER") or None,
        "code_cache": str(plugin_dir / "code"),
    }
    runner.write_control(run_dir / "control.json", control)
    args_out += _coverage_args(args, environment)
    cmd = runner.command(environment.python, args_out)
    console.verbose("running " + " ".join(cmd))
    _setup(project)
    warmer = Warmer(stores.hasher, run_dir).start()
    try:
        code = runner.run(
            cmd,
            cwd=project.root,
            plugin_dir=plugin_dir,
            control=run_dir / "control.json",
            to_stderr=console.json,
        )
    finally:
        warmer.stop()
        _teardown(project)
    records = runner.read_records(run_dir)
    runner.cleanup(run_dir)
    return Run(plan, records, code)


@_step
def store_results(project: Project, stores: Stores, inputs: Inputs, scoped: Scope, run: Run) -> None:
    from helper.testing.store import store

    state, records = stores.state, run.records
    try:
        if records is not None:
            store(
                records,
                state,
                stores.hasher,
                stores.cache,
                root=project.root,
                env=inputs.env,
                listed=stores.files(),
                partial_files=set(scoped.partial_files),
                sharded=bool(scoped.shard),
            )
            if scoped.collect_whole and records.collected:
                # Files the unreadable rules left out: not new next time, until those rules change.
                left = sorted(rel for rel in scoped.test_files if rel not in state.files)
                state.data["left_out"] = {"rules": scoped.collect_digest, "files": left}
        if records is not None or state.data.get("env") != inputs.env or inputs.env_changed:
            state.data["env"] = inputs.env
            state.save()
        if records is not None and stores.cache.remote is not None:
            state.share(stores.cache, project.name)
        stores.checksums.save()
        stores.fingerprints.save()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # The tests ran; failing to remember them must not change the verdict.
        console.warn(f"test results were not cached ({exc.__class__.__name__}: {exc}); the next run will repeat them")
        if console.debug:
            raise


@_step
def run_components(project: Project, args: argparse.Namespace, inputs: Inputs) -> Outcome:
    """The components with their own runner, in a run not narrowed to some tests."""
    from helper.testing import components

    return components.for_whole_run(project, args, list(inputs.user_paths))


@_step
def report(
    project: Project, args: argparse.Namespace, scoped: Scope, run: Run, outside: Outcome, started: float
) -> int:
    from helper.testing import report as reports

    plan = run.plan
    records = run.records
    ran: dict[str, dict[str, Any]] = {}
    if records is not None:
        ran = dict(records.tests)
        if records.collected:
            kept = tuple(d for d in plan.decisions if d.run or d.test in records.in_scope or not scoped.shard)
            plan = replace(plan, decisions=kept)
    reasons = {d.test: d.reason for d in plan.decisions}
    table = reports.rows(plan, ran, reasons)
    table = sorted(table + outside.rows, key=lambda r: r["id"])
    code = _exit_code(run, plan, table) or (1 if outside.failed else 0)
    elapsed = time.monotonic() - started
    info = reports.summary(table, plan, code, elapsed)
    info["pytest_started"] = run.ran_pytest
    if outside.info:
        info["components"] = outside.info
    quality = None
    if args.quality:
        from helper.testing import quality as quality_checks

        quality = quality_checks.run_quality(project)
        info["quality"] = quality
        if quality_checks.failed(quality):
            code = code or 1
            info["exit_code"] = code
    if args.junit:
        reports.junit(Path(args.junit), table, elapsed)
    if reports.in_github_actions():
        for line in reports.github_annotations(table):
            print(line, flush=True)
    if console.json:
        console.result({**info, "tests": table})
    else:
        reports.render_summary(info)
        if quality is not None:
            quality_checks.render(quality)
    return code


@_step
def offer_replay(
    project: Project,
    args: argparse.Namespace,
    environment: Environment,
    stores: Stores,
    scoped: Scope,
    run: Run,
    outside: Outcome,
    code: int,
) -> None:
    """A passing all-from-cache answer depends only on files and variables: let it be replayed (helper.replay).

    Not for runs that write elsewhere or ask someone else: --junit, --quality, --changed (git), --cov,
    GitHub annotations.
    """
    if code != 0 or run.ran_pytest or outside.ran:
        return
    if args.junit or args.quality or args.changed is not None or args.cov:
        return
    from helper import replay
    from helper.config_cache import config_inputs
    from helper.testing.report import in_github_actions

    if in_github_actions():
        return
    root = project.root
    rels = {*stores.hasher.seen(), *scoped.test_files, *stores.state.files}
    import glob

    for pattern in project.config["test.depends"]:  # hashed apart from the selection (envhash)
        rels.update(os.path.relpath(p, root) for p in glob.glob(str(root / pattern), recursive=True))
    folders = {""}
    for rel in rels:
        parent = os.path.dirname(rel)
        while parent not in folders:
            folders.add(parent)
            parent = os.path.dirname(parent)
    paths = [root / rel for rel in (*rels, *folders)] + outside.watch
    paths += [root / name for name in (".gitignore", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")]
    paths += config_inputs(root)
    from helper.envs.layout import site_packages

    paths += [environment.python, environment.venv, *site_packages(environment.venv)]
    state_dir = project.state_dir
    paths.append(state_dir / "cache" / "ac")  # gone after `cache clean` (stats.json beside it changes every run)
    own = [state_dir / "test-state.json", state_dir / "test-env.json"]
    replay.offer(paths, own=own, variables=project.config["test.env_vars"])


def execute(project: Project, args: argparse.Namespace) -> int:
    """The steps in order, each given what it needs of the results before it."""
    from helper.testing import components

    if components.owns(project, args):  # --component NAME with its own runner: no pytest
        return components.execute(project, args)
    started = time.monotonic()
    environment = load_environment(project, args)
    stores = open_stores(project)
    inputs = fingerprint(project, args, environment, stores)
    scoped = scope(project, args, stores, inputs)
    plan = select(project, args, stores, inputs, scoped)
    run = run_tests(project, args, environment, stores, inputs, scoped, plan)
    store_results(project, stores, inputs, scoped, run)
    outside = run_components(project, args, inputs)
    code = report(project, args, scoped, run, outside, started)
    offer_replay(project, args, environment, stores, scoped, run, outside, code)
    return code


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


def _rootprefix(state: State) -> str:
    """pytest's rootdir (as the last run recorded it) as a prefix of node-id paths."""
    rootdir = state.data.get("rootdir")
    return "" if not rootdir or rootdir == "." else rootdir.rstrip("/") + "/"


def _exit_code(run: Run, plan: Plan, table: list[dict[str, Any]]) -> int:
    failed = any(r["outcome"] in ("failed", "error") for r in table)
    if not run.ran_pytest:
        return 1 if failed else 0
    code = int(run.pytest_code or 0)
    cached = any(r["cached"] for r in table)
    if code == 5:
        if cached or plan.unaffected:
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


def _coverage_args(args: argparse.Namespace, environment: Environment) -> list[str]:
    if not args.cov:
        return []
    from helper.testing import envhash

    if not envhash.has_distribution(environment.venv, "pytest_cov"):
        raise HelpError(
            f"--cov needs pytest-cov in {environment.venv}",
            f"{environment.python} -m pip install pytest-cov",
        )
    return ["--cov", "--cov-report=term-missing"]


def _commands(project: Project, key: str) -> list[list[str]]:
    found = []
    for line in project.config[key]:
        try:
            found.append(shlex.split(line))
        except ValueError as exc:
            raise HelpError(
                f"{key}: cannot parse {line!r}: {exc}",
                "quote the command as a shell would",
                where=project.sources.get(key),
            ) from None
    return [c for c in found if c]


def _setup(project: Project) -> None:
    for cmd in _commands(project, "test.setup"):
        console.info("setup: " + shlex.join(cmd))
        code = proc.passthrough(cmd, cwd=project.root, stdout=2 if console.json else None)
        if code != 0:
            _teardown(project)
            raise HelpError(
                f"test setup `{shlex.join(cmd)}` failed with exit code {code}",
                "fix the command in test.setup; no test was run",
            )


def _teardown(project: Project) -> None:
    for cmd in _commands(project, "test.teardown"):
        console.info("teardown: " + shlex.join(cmd))
        try:
            code = proc.passthrough(cmd, cwd=project.root, stdout=2 if console.json else None)
        except HelpError as exc:
            console.warn(f"teardown `{shlex.join(cmd)}`: {exc.message}")
            continue
        if code != 0:
            console.warn(f"teardown `{shlex.join(cmd)}` failed with exit code {code}")
