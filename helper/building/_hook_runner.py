"""Run one PEP 517 hook inside the build environment (a standalone script).

Usage: python _hook_runner.py HOOK IN.json OUT.json, run with the source tree
as the working directory. IN holds the backend spec, backend-path and the hook's
keyword arguments; OUT receives {"return": value} or {"unsupported": true} or
{"error": "..."}. Only the standard library is used: this file runs under the
build environment's interpreter, where help.py itself is not importable.
"""

import importlib
import json
import os
import sys
import traceback

# Optional hooks and what the PEP says a front end must assume when they are missing.
DEFAULTS = {
    "get_requires_for_build_wheel": [],
    "get_requires_for_build_sdist": [],
    "get_requires_for_build_editable": [],
}


def load_backend(spec, backend_path):
    if backend_path:
        # In-tree backends: their directories go first, as PEP 517 requires.
        sys.path[:0] = [os.path.abspath(p) for p in backend_path]
    module_name, _, attrs = spec.partition(":")
    obj = importlib.import_module(module_name)
    for attr in filter(None, attrs.split(".")):
        obj = getattr(obj, attr)
    return obj


def main():
    hook, source, target = sys.argv[1:4]
    with open(source, encoding="utf-8") as handle:
        request = json.load(handle)
    try:
        backend = load_backend(request["backend"], request.get("backend_path") or [])
    except (Exception, SystemExit) as exc:
        result = {
            "error": f"cannot import build backend {request['backend']!r}: {exc.__class__.__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
    else:
        func = getattr(backend, hook, None)
        if func is None:
            result = {"unsupported": True, "return": DEFAULTS.get(hook)}
        else:
            try:
                result = {"return": func(**request.get("kwargs", {}))}
            except (Exception, SystemExit) as exc:  # setup.py scripts often sys.exit() on errors
                result = {
                    "error": f"{hook} failed: {exc.__class__.__name__}: {exc}",
                    "traceback": traceback.format_exc(),
                }
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
