"""Records what a test's Python subprocesses execute (installed as sitecustomize.py).

Tests that drive the project as a program (a CLI run in a subprocess) execute
project code the in-process recorder cannot see. `help.py test` puts a copy of
this file, named sitecustomize.py, on the test run's PYTHONPATH. While a test
runs, the recorder sets HELPY_TEST_SUBPROCESS_DIR; a Python process started
then records the functions it runs (function granularity, as the recorder)
and the files it reads (an audit hook, as the recorder), and at exit writes
{"funcs": [[filename, qualname], ...], "files": [path, ...]} for those under
HELPY_TEST_ROOT into that directory, where the recorder adds them to the
test's dependencies. So a test that runs the project as a program depends on
what that program reads too (a template it copies, a config it parses).

Inactive without those variables. Any other sitecustomize.py on the path is
still loaded, as Python would have done without this one. Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any


def _start() -> None:
    out = os.environ.get("HELPY_TEST_SUBPROCESS_DIR")
    root = os.environ.get("HELPY_TEST_ROOT")
    if not out or not root:
        return
    from helpy_opens import read_path  # type: ignore[import-not-found]  # beside this file

    prefix = os.path.realpath(root).rstrip(os.sep) + os.sep
    raw_prefix = root.rstrip(os.sep) + os.sep
    codes: dict[int, Any] = {}
    opened: set[str] = set()

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path = read_path(args)
            if path is not None and path.startswith((prefix, raw_prefix)):
                opened.add(path)

    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        tool = next((t for t in (5, 4, 3) if monitoring.get_tool(t) is None), None)
        if tool is None:
            return
        monitoring.use_tool_id(tool, "help.py subprocess recorder")

        def on_start(code: Any, offset: int) -> Any:
            codes[id(code)] = code
            return monitoring.DISABLE

        monitoring.register_callback(tool, monitoring.events.PY_START, on_start)
        monitoring.set_events(tool, monitoring.events.PY_START)

        def stop() -> None:
            monitoring.set_events(tool, 0)

    else:
        if sys.getprofile() is not None:
            return
        import cProfile

        profiler = cProfile.Profile(builtins=False)
        profiler.enable()

        def stop() -> None:
            profiler.disable()
            for entry in profiler.getstats():
                if not isinstance(entry.code, str):
                    codes[id(entry.code)] = entry.code

    def dump() -> None:
        stop()
        found = set()
        for code in codes.values():
            name = code.co_filename
            if name.startswith((prefix, raw_prefix)):
                found.add((name, getattr(code, "co_qualname", code.co_name)))
        if not found and not opened:
            return
        import json

        target = os.path.join(out, f"{os.getpid()}.json")
        try:
            os.makedirs(out, exist_ok=True)
            with open(target + ".tmp", "w", encoding="utf-8") as handle:
                json.dump({"funcs": sorted(found), "files": sorted(opened)}, handle)
            os.replace(target + ".tmp", target)
        except OSError:
            pass

    import atexit

    sys.addaudithook(audit)
    atexit.register(dump)


def _chain() -> None:
    """Load the sitecustomize.py this one shadows, if any."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


with contextlib.suppress(Exception):  # recording must never break the program under test
    _start()
_chain()
