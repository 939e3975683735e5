"""Which file an "open" audit event reads, for the recorders' data dependencies.

Both recorders (recorder.py in the pytest process, subprocess_recorder.py
in a test's Python subprocesses) add an audit hook and pass each "open" event's
arguments here. A file read as data counts whatever its suffix: a test that
parses, copies or lexes a .py file depends on its whole content. Python's own
reading of source and bytecode to import a module does not: imported code is
tracked function by function instead. Stdlib only; copied beside the recorder
as helpy_opens.py.
"""

from __future__ import annotations

import os
import sys
from types import FrameType
from typing import Any

WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
COMPILED = (".pyc", ".pyo")
SOURCE = (".py", ".pyw")
# Code that reads source to import or run it: importlib, zipimport (which first looks at a script
# it is told to run), the recorder's instrumenting loader beside this file, pytest's assertion
# rewriter (through pathlib, so a few frames up).
HERE = os.path.dirname(os.path.abspath(__file__))
IMPORTERS = (
    "<frozen importlib",
    "<frozen zipimport",
    *(os.path.join(HERE, n) for n in ("helpy_instrument.py", "instrument.py")),
)
REWRITER = os.path.join("_pytest", "assertion", "rewrite.py")
IMPORTER_DEPTH = 4


def read_path(args: tuple[Any, ...]) -> str | None:
    """The absolute path an "open" event reads as data, or None.

    None for a descriptor, a file opened for writing, bytecode, and source
    read by an import. Call it straight from the audit hook: it looks up
    from the frame that asked to open the file.
    """
    path, mode, flags = args
    if isinstance(path, int):
        return None
    if isinstance(mode, str):
        if any(c in mode for c in "wax+"):
            return None
    elif isinstance(flags, int) and flags & WRITING:
        return None
    try:
        name = os.fsdecode(path)
    except (TypeError, ValueError):  # never fail the program's own open
        return None
    if name.endswith(COMPILED):
        return None
    if name.endswith(SOURCE) and _importing(3):
        return None
    return os.path.abspath(name)


def _importing(depth: int) -> bool:
    frame: FrameType | None
    try:
        frame = sys._getframe(depth)
    except ValueError:  # no Python code asked: the interpreter opens the script it was told to run
        return True
    for _ in range(IMPORTER_DEPTH):
        if frame is None:
            return False
        filename = frame.f_code.co_filename
        if filename.startswith(IMPORTERS) or filename.endswith(REWRITER):
            return True
        frame = frame.f_back
    return False
