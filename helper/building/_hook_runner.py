"""Serve PEP 517 hook calls inside the build environment (a standalone script).

Usage: python _hook_runner.py REQUEST_FD RESPONSE_FD, run with the source tree
as the working directory. Each request is one JSON line on REQUEST_FD:
{"backend": "mod:obj", "backend_path": [...], "hook": name, "kwargs": {...}};
each answer is one JSON line on RESPONSE_FD: {"return": value},
{"unsupported": true, "return": default} or {"error": "...", "traceback": "..."}.
The backend's own output goes to stdout/stderr, never to these pipes. The
process serves calls until REQUEST_FD closes, so the backend is imported once
for several hooks. Only the standard library is used: this file runs under the
build environment's interpreter, where help.py itself is not importable.
"""

import importlib
import json
import os
import sys
import traceback

# Optional hooks and what the PEP says a front end must assume when they are missing.
DEFAULTS: "dict[str, list[str]]" = {
    "get_requires_for_build_wheel": [],
    "get_requires_for_build_sdist": [],
    "get_requires_for_build_editable": [],
}
_loaded: "dict[str, object]" = {}


def load_backend(spec, backend_path):
    if spec in _loaded:
        return _loaded[spec]
    if backend_path:
        # In-tree backends: their directories go first, as PEP 517 requires.
        sys.path[:0] = [os.path.abspath(p) for p in backend_path]
    module_name, _, attrs = spec.partition(":")
    obj = importlib.import_module(module_name)
    for attr in filter(None, attrs.split(".")):
        obj = getattr(obj, attr)
    _loaded[spec] = obj
    return obj


def call(request):
    hook = request["hook"]
    try:
        backend = load_backend(request["backend"], request.get("backend_path") or [])
    except (Exception, SystemExit) as exc:
        return {
            "error": f"cannot import build backend {request['backend']!r}: {exc.__class__.__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
    func = getattr(backend, hook, None)
    if func is None:
        return {"unsupported": True, "return": DEFAULTS.get(hook)}
    try:
        return {"return": func(**request.get("kwargs", {}))}
    except (Exception, SystemExit) as exc:  # setup.py scripts often sys.exit() on errors
        return {"error": f"{hook} failed: {exc.__class__.__name__}: {exc}", "traceback": traceback.format_exc()}
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def main():
    requests = os.fdopen(int(sys.argv[1]), "r", encoding="utf-8")
    responses = os.fdopen(int(sys.argv[2]), "w", encoding="utf-8")
    for line in requests:
        if not line.strip():
            continue
        importlib.invalidate_caches()
        answer = call(json.loads(line))
        try:
            text = json.dumps(answer)
        except (TypeError, ValueError):
            text = json.dumps({"error": f"{answer.get('return')!r} returned by the hook is not JSON data"})
        responses.write(text + "\n")
        responses.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
