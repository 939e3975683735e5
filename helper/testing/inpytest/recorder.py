"""pytest plugin, run inside the test environment: what each test depended on, and its result.

`help.py test` loads it with `-p` and passes a control file (HELPY_TEST_CONTROL)
saying where the project is, which tests have valid cached results (these are
deselected) and which shard to run. Per test it records:

- the project functions executed, at function granularity -- never line
  tracing, so the overhead stays small: sys.monitoring PY_START on 3.12+, on
  the project's code objects only, each disabled after its first call; on 3.11 project modules are
  instrumented as they are imported (instrument.py, copied as
  helpy_instrument.py), so a call costs one list lookup. When a project module
  was imported before the plugin (so not instrumented), the C profiler hook
  (cProfile) is used instead, or a sys.settrace function that never traces
  lines when another profiler holds the hook;
- the project files opened for reading (an audit hook on "open");
- what the test's Python subprocesses executed (subprocess_recorder.py, put on
  PYTHONPATH as sitecustomize.py), so CLI tests depend on the code they drive;
- what fixtures executed, attributed to every test that uses the fixture, so
  a session-scoped fixture's dependencies are not credited to the first test only;
- outcome, duration, and the failure's file, line and message.

While the run goes on, each process also names every project module as it starts
(imports-<pid>.txt, a line each), so that help.py analyses them on a spare core
meanwhile (helper.testing.warm).

Each process (each pytest-xdist worker too) writes one JSON file into the
record directory at the end of the session. Stdlib only at module level:
pytest is imported when the plugin is configured.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from types import CodeType, FunctionType
from typing import Any

try:  # inside pytest: the copy beside this file
    from helpy_opens import read_path  # type: ignore[import-not-found]
except ImportError:  # imported from the repository itself
    from helper.testing.inpytest.opens import read_path

CONTROL_ENV = "HELPY_TEST_CONTROL"


def _load_control() -> dict[str, Any] | None:
    path = os.environ.get(CONTROL_ENV)
    if not path:
        return None
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return data if isinstance(data, dict) else None


def _excluded(control: dict[str, Any]) -> list[str]:
    return [sys.prefix, sys.base_prefix, *control.get("exclude", [])]


def _instrument(control: dict[str, Any] | None) -> Any:
    """On 3.11, instrument project modules from the very start (before conftest.py is imported)."""
    if control is None or hasattr(sys, "monitoring") or control.get("tracer") not in (None, "instrument"):
        return None
    if not control.get("record", True):
        return None
    from helpy_instrument import install  # type: ignore[import-not-found]

    return install(control["root"], _excluded(control), control.get("code_cache"))


CONTROL = _load_control()
INSTRUMENTATION = _instrument(CONTROL)


class Recorder:
    """Collects code objects run and files opened while active; cheap while not."""

    def __init__(self, root: str, excluded: list[str], mode: str | None = None, instrumentation: Any = None) -> None:
        self.root = root.rstrip(os.sep) + os.sep
        self.real_root = os.path.realpath(root).rstrip(os.sep) + os.sep
        self.excluded = tuple(p.rstrip(os.sep) + os.sep for p in excluded)
        self.codes: dict[Any, Any] = {}  # id -> code object, or (filename, unit) -> the same pair
        self.opened: set[str] = set()
        self.active = False
        self._rel: dict[str, str] = {}
        # Each [file, qualname] once per process; a test lists indexes into it (a list of ints
        # costs the garbage collector and the JSON encoder far less than a list of pairs).
        self.units: list[list[str]] = []
        self._unit_index: dict[tuple[str, str], int] = {}
        self.instrumentation = instrumentation
        self.mode = mode if mode and (mode != "instrument" or instrumentation) else self._choose_mode()
        self._tool: int | None = None
        self._previous: Any = None
        self._profiler: Any = None
        self._restart = True  # monitoring: re-enable the locations DISABLE turned off, at the next install
        self._is_file: set[str] = set()  # paths already found to be files (one stat per path per process)
        self._on = False  # monitoring: whether a PY_START now counts
        self._announce: Any = None  # where each project module is named as it starts (announce_to)
        if self.mode == "monitoring":
            self._start_monitoring()
        sys.addaudithook(self._audit)

    def announce_to(self, path: str) -> None:
        """Name each project module in `path` (a line each) as it starts executing, those loaded already first.

        help.py analyses them meanwhile on a spare core (helper.testing.warm): the
        modules a run imports are the ones storing its results needs.
        """
        # Open for the session; a name that is not UTF-8 is written as the file system has it.
        self._announce = open(path, "a", encoding="utf-8", errors="surrogateescape", buffering=1)  # noqa: SIM115
        for module in list(sys.modules.values()):
            filename = getattr(module, "__file__", None)
            if isinstance(filename, str) and filename.endswith(".py"):
                self._announce_file(filename)

    def _announce_file(self, filename: str) -> None:
        target = self._announce  # another thread may give up on it meanwhile
        if target is None:
            return
        try:
            rel = self.rel(filename)
            if rel:
                target.write(rel + "\n")
        except Exception:  # closed, full, unencodable: announcing is an optimisation, an import must not fail
            self._announce = None

    # -- tracer --------------------------------------------------------------
    def _choose_mode(self) -> str:
        if hasattr(sys, "monitoring"):
            return "monitoring"
        if self.instrumentation is not None:
            return "instrument"
        return "cprofile" if sys.getprofile() is None else "trace"

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            if self.active:
                path = read_path(args)
                if path is not None:
                    self.opened.add(path)
        elif event == "exec" and type(args[0]) is CodeType:
            code = args[0]
            if self._tool is not None:
                self._watch(code)  # a module (or exec'd source) about to run: its functions' code is in it
            if code.co_name == "<module>":
                self._announce_file(code.co_filename)

    # -- sys.monitoring (3.12+) ---------------------------------------------------
    # PY_START is enabled on the project's code objects alone (local events), never globally:
    # pytest's, pluggy's and the libraries' functions would otherwise each fire once per test
    # after every restart, which on a suite of many quick tests cost more than the project's own.
    def _start_monitoring(self) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined]
        for tool in (5, 4, 3, 2):
            if mon.get_tool(tool) is None:
                mon.use_tool_id(tool, "help.py recorder")
                self._tool = tool
                break
        else:
            self.mode = "off"
            return
        rec = self
        disable = mon.DISABLE

        def on_start(code: Any, offset: int) -> Any:
            if rec._on:
                rec.codes[id(code)] = code
            else:
                rec._restart = True  # run between scopes: it must fire again in the next one
            return disable

        mon.register_callback(self._tool, mon.events.PY_START, on_start)
        # Project code that exists already (conftest.py and what it imported before this plugin was
        # configured) announced itself to no audit hook: its functions are found among live objects.
        import gc

        seen: set[int] = set()
        for obj in gc.get_objects():
            if type(obj) is FunctionType:
                code = obj.__code__
                if id(code) not in seen:
                    seen.add(id(code))
                    self._watch(code)

    def _watch(self, code: CodeType) -> None:
        """Enable PY_START on `code` and the code nested in it, when it is project code."""
        if not self.rel(code.co_filename):
            return
        set_local = sys.monitoring.set_local_events  # type: ignore[attr-defined]
        event = sys.monitoring.events.PY_START  # type: ignore[attr-defined]
        tool = self._tool
        stack = [code]
        while stack:
            current = stack.pop()
            set_local(tool, current, event)
            stack.extend(c for c in current.co_consts if type(c) is CodeType)

    def _install(self) -> None:
        codes = self.codes
        if self.mode == "monitoring":
            if self._restart:
                # What DISABLE turned off fires again once per scope (a test, a shared fixture), not
                # per phase: each restart makes every watched code object re-instrument itself when next run.
                sys.monitoring.restart_events()  # type: ignore[attr-defined]
                self._restart = False
            self._on = True
        elif self.mode == "cprofile":
            if self._profiler is None:
                import cProfile

                self._profiler = cProfile.Profile(builtins=False)  # Python functions only
            self._profiler.enable()
        elif self.mode == "trace":

            def tracer(frame: Any, event: str, arg: Any) -> None:
                code = frame.f_code
                codes[id(code)] = code

            self._previous = sys.gettrace()
            sys.settrace(tracer)
            threading.settrace(tracer)
        elif self.mode == "profile":

            def profiler(frame: Any, event: str, arg: Any) -> None:
                if event == "call":
                    code = frame.f_code
                    codes[id(code)] = code

            self._previous = sys.getprofile()
            sys.setprofile(profiler)
            threading.setprofile(profiler)

    def _uninstall(self) -> None:
        if self.mode == "monitoring":
            self._on = False
        elif self.mode == "cprofile":
            if self._profiler is not None:
                self._profiler.disable()
        elif self.mode == "trace":
            sys.settrace(self._previous)
            threading.settrace(self._previous)  # type: ignore[arg-type]
        elif self.mode == "profile":
            sys.setprofile(self._previous)
            threading.setprofile(self._previous)  # type: ignore[arg-type]

    def _flush(self) -> None:
        """Move what was hit into `codes`: instrumented units, or the code objects cProfile's stats list."""
        if self.mode == "instrument":
            codes = self.codes
            for pair in self.instrumentation.hits.take():
                codes[pair] = pair
        if self._profiler is not None:
            self._profiler.disable()
            codes = self.codes
            for entry in self._profiler.getstats():
                code = entry.code
                if not isinstance(code, str):
                    codes[id(code)] = code
            self._profiler = None

    def begin(self) -> None:
        """A new test: nothing recorded yet; `resume` records during its setup, call and teardown."""
        self.codes = {}
        self.opened = set()
        self._profiler = None
        self._restart = True
        if self.mode == "instrument":
            self.instrumentation.hits.take()  # what ran between tests is nobody's

    def resume(self) -> None:
        self.active = True
        self._install()

    def pause(self) -> None:
        self._uninstall()
        self.active = False

    def end(self) -> tuple[dict[int, Any], set[str]]:
        if self.active:
            self.pause()
        self._flush()
        return self.codes, self.opened

    def push(self) -> tuple[dict[int, Any], set[str]]:
        """Start a nested scope (a shared fixture's setup); returns what to restore."""
        saved = (self.codes, self.opened)
        self._uninstall()
        self._flush()
        self.codes, self.opened = {}, set()
        self._restart = True  # what the test ran before counts for the fixture too
        self._install()
        return saved

    def pop(self, saved: tuple[dict[int, Any], set[str]]) -> tuple[dict[int, Any], set[str]]:
        """End a nested scope: its findings also count for the enclosing one."""
        self._uninstall()
        self._flush()
        inner = (self.codes, self.opened)
        self.codes = {**saved[0], **inner[0]}
        self.opened = saved[1] | inner[1]
        self._install()
        return inner

    # -- paths ---------------------------------------------------------------
    def rel(self, filename: str) -> str:
        """`filename` relative to the project root, or "" when it is not a project file."""
        cached = self._rel.get(filename)
        if cached is not None:
            return cached
        result = ""
        # "<frozen os>", "<string>": not files; realpath would make them look like project paths
        candidates = (filename, os.path.realpath(filename)) if os.path.isabs(filename) else ()
        for candidate in candidates:
            for root in (self.root, self.real_root):
                if candidate.startswith(root) and not candidate.startswith(self.excluded):
                    result = candidate[len(root) :].replace(os.sep, "/")
                    break
            if result:
                break
        if "__pycache__/" in result or result.startswith(".git/"):
            result = ""
        self._rel[filename] = result
        return result

    def functions(self, codes: dict[Any, Any], extra: list[list[str]] = ()) -> list[int]:  # type: ignore[assignment]
        """Indexes into `units` of the project code among `codes`, plus `extra` pairs from subprocesses."""
        found = set()
        pairs = [
            code if isinstance(code, tuple) else (code.co_filename, getattr(code, "co_qualname", code.co_name))
            for code in codes.values()
        ]
        pairs.extend(extra)  # type: ignore[arg-type]
        index = self._unit_index
        for filename, qualname in pairs:
            rel = self.rel(filename)
            if rel:
                pair = (rel, qualname)
                at = index.get(pair)
                if at is None:
                    at = index[pair] = len(self.units)
                    self.units.append([rel, qualname])
                found.add(at)
        return sorted(found)

    def files(self, opened: set[str]) -> list[str]:
        found = set()
        known = self._is_file
        for path in opened:
            rel = self.rel(path)
            if not rel:
                continue
            if path in known or os.path.isfile(path):
                known.add(path)
                found.add(rel)
        return sorted(found)


def _subprocess_records(directory: str) -> tuple[list[list[str]], set[str]]:
    """The functions run and files read by the test's Python subprocesses (see subprocess_recorder.py).

    Removes what they wrote.
    """
    import shutil

    funcs: list[list[str]] = []
    files: set[str] = set()
    try:
        names = os.listdir(directory)
    except OSError:
        return funcs, files
    for name in names:
        if name.endswith(".json"):
            try:
                with open(os.path.join(directory, name), encoding="utf-8") as handle:
                    found = json.load(handle)
                funcs.extend(found["funcs"])
                files.update(found["files"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
    shutil.rmtree(directory, ignore_errors=True)
    return funcs, files


def _parameter_modules(item: Any) -> list[list[str]]:
    """[file, "<module>"] for each module a parametrized test's arguments come from.

    A class or function made when its module was imported (often during
    collection, or in an earlier test) runs none of that module's code in this
    test, yet its behaviour is that module's: the test depends on it.
    """
    params = getattr(getattr(item, "callspec", None), "params", None) or {}
    found = []
    values = list(params.values())
    for value in values:
        if isinstance(value, (list, tuple)) and len(values) < 1000:
            values.extend(value)
            continue
        module_name = getattr(value, "__module__", None)
        if not isinstance(module_name, str):
            module_name = getattr(type(value), "__module__", None)
        module = sys.modules.get(module_name) if isinstance(module_name, str) else None
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str):
            found.append([filename, "<module>"])
    return found


def _outcome(report: Any) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else ("xpassed" if report.passed else "failed")
    return str(report.outcome)


def _make_plugin(config: Any, control: dict[str, Any]) -> Any:
    import pytest

    if INSTRUMENTATION is not None:
        from helpy_instrument import adopt, preloaded

        adopt(INSTRUMENTATION, preloaded(INSTRUMENTATION))  # e.g. Pygments, which pytest imports itself
    recorder = Recorder(control["root"], _excluded(control), control.get("tracer"), INSTRUMENTATION)
    if control.get("record_dir") and control.get("record", True):
        recorder.announce_to(os.path.join(control["record_dir"], f"imports-{os.getpid()}.txt"))
    subprocess_base = control.get("subprocess_dir")
    if subprocess_base:
        os.environ["HELPY_TEST_ROOT"] = control["root"]

    class Plugin:
        def __init__(self) -> None:
            self.tests: dict[str, dict[str, Any]] = {}
            self.fixtures: dict[int, tuple[dict[int, Any], set[str]]] = {}
            self.modules: dict[str, list[str]] = {}
            self.collect_errors: list[str] = []
            self.collected: list[str] | None = None
            self.all_ids: list[str] = []
            self.in_scope: list[str] = []
            self.cached = set(control.get("deselect", []))
            self.record = bool(control.get("record", True))
            self.counter = 0
            self.pid = os.getpid()
            self.recording = False

        @pytest.hookimpl(hookwrapper=True)
        def pytest_make_collect_report(self, collector: Any) -> Any:
            if not isinstance(collector, pytest.Module):
                yield
                return
            recorder.opened = set()
            recorder.active = True
            try:
                outcome = yield
            finally:
                recorder.active = False
            rel = recorder.rel(str(collector.path))
            if rel:
                self.modules[rel] = recorder.files(recorder.opened)
                report = outcome.get_result()
                if report.failed:
                    self.collect_errors.append(rel)

        def pytest_itemcollected(self, item: Any) -> None:
            self.all_ids.append(item.nodeid)

        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
            self.collected = [item.nodeid for item in items]
            keep = items
            shard = control.get("shard")
            if shard:
                from helpy_shard import assign  # type: ignore[import-not-found]

                index, total = shard
                assignment = assign(self.collected, control.get("durations", {}), total)
                keep = [item for item in items if assignment[item.nodeid] == index]
            self.in_scope = [item.nodeid for item in keep]
            run = [item for item in keep if item.nodeid not in self.cached]
            running = {id(item) for item in run}
            dropped = [item for item in items if id(item) not in running]
            if dropped:
                config.hook.pytest_deselected(items=dropped)
                items[:] = run

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
            entry: dict[str, Any] = {"outcome": "passed", "duration": 0.0}
            self.tests[item.nodeid] = entry
            if not self.record:
                yield
                return
            sub_dir = None
            if subprocess_base:
                self.counter += 1
                sub_dir = os.path.join(subprocess_base, f"{self.pid}-{self.counter}")  # made by a subprocess, if any
                os.environ["HELPY_TEST_SUBPROCESS_DIR"] = sub_dir
            recorder.begin()
            self.recording = True
            try:
                yield
            finally:
                self.recording = False
                codes, opened = recorder.end()
                if sub_dir:
                    os.environ.pop("HELPY_TEST_SUBPROCESS_DIR", None)
            extra, read = _subprocess_records(sub_dir) if sub_dir else ([], set())
            extra += _parameter_modules(item)
            opened = opened | read
            info = getattr(item, "_fixtureinfo", None)
            for defs in getattr(info, "name2fixturedefs", {}).values():
                for fixturedef in defs:
                    seen = self.fixtures.get(id(fixturedef))
                    if seen is not None:
                        codes = {**codes, **seen[0]}
                        opened = opened | seen[1]
            entry["funcs"] = recorder.functions(codes, extra)
            entry["files"] = recorder.files(opened)

        def _phase(self) -> Any:
            if not self.recording:
                yield
                return
            recorder.resume()
            try:
                yield
            finally:
                recorder.pause()

        # Recording covers the test's setup, call and teardown, not pytest's own reporting.
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_setup(self, item: Any) -> Any:
            yield from self._phase()

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item: Any) -> Any:
            yield from self._phase()

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_teardown(self, item: Any, nextitem: Any) -> Any:
            yield from self._phase()

        @pytest.hookimpl(hookwrapper=True)
        def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Any:
            # Function-scoped fixtures run inside each test anyway; shared ones are
            # recorded apart and credited to every test that uses them.
            if not recorder.active or getattr(fixturedef, "scope", "function") == "function":
                yield
                return
            saved = recorder.push()
            try:
                yield
            finally:
                self.fixtures[id(fixturedef)] = recorder.pop(saved)

        def pytest_runtest_logreport(self, report: Any) -> None:
            entry = self.tests.get(report.nodeid)
            if entry is None:
                return  # e.g. the xdist controller relaying a worker's report
            entry["duration"] += report.duration
            if report.when == "setup" and not report.passed:  # a skip there may be an xfail (run=False, pytest.xfail)
                entry["outcome"] = "error" if report.failed else _outcome(report)
            elif report.when == "call" and entry["outcome"] == "passed":
                entry["outcome"] = _outcome(report)
            elif report.when == "teardown" and report.failed and entry["outcome"] != "failed":
                entry["outcome"] = "error"
            if report.failed and "message" not in entry:
                crash = getattr(report.longrepr, "reprcrash", None)
                path = getattr(crash, "path", None) or str(report.location[0])
                entry["path"] = recorder.rel(os.path.abspath(path)) or report.location[0]
                entry["line"] = getattr(crash, "lineno", None) or (report.location[1] or 0) + 1
                entry["message"] = (getattr(crash, "message", None) or report.longreprtext)[:500]
                entry["longrepr"] = report.longreprtext[-4000:]

        def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
            if INSTRUMENTATION is not None:
                INSTRUMENTATION.prune()
            directory = control.get("record_dir")
            if not directory:
                return
            data = {
                "rootdir": str(config.rootpath),
                "worker": os.environ.get("PYTEST_XDIST_WORKER"),
                "tracer": recorder.mode,
                "collected": self.collected is not None,
                "in_scope": self.in_scope,
                "all_ids": self.all_ids,
                "modules": self.modules,
                "collect_errors": self.collect_errors,
                "units": recorder.units,
                "tests": self.tests,
            }
            name = f"{os.getpid()}-{time.monotonic_ns()}.json"
            tmp = os.path.join(directory, "." + name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(data, separators=(",", ":")))
            os.replace(tmp, os.path.join(directory, name))

    return Plugin()


def pytest_configure(config: Any) -> None:
    if CONTROL is not None:
        config.pluginmanager.register(_make_plugin(config, CONTROL), "help-recorder")
