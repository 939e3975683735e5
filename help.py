#!/usr/bin/env python3
"""help.py: one command for a Python project's whole development loop.

Thin entry point: puts this repository on sys.path, replays a recorded answer or takes a plugin's fast
start path when it can, and otherwise hands over to helper.cli.
"""

import os
import sys

if sys.version_info < (3, 11):  # noqa: UP036 - the one place an old interpreter can reach
    sys.stderr.write(
        f"error: help.py needs Python 3.11 or newer; this is {sys.version.split()[0]} ({sys.executable})\n"
        "hint: run it with a newer interpreter, e.g. `python3.12 help.py ...`\n"
    )
    sys.exit(2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if len(sys.argv) > 1:  # an answer recorded earlier and still valid is printed without loading the CLI
    from helper.replay import replay

    replayed = replay(sys.argv[1:])
    if replayed is not None:
        sys.exit(replayed)

    from helper.fast import dispatch  # a plugin's hot command started without argparse (helper.fast)

    fast = dispatch(sys.argv[1:])
    if fast is not None:
        sys.exit(fast)

from helper.cli import main

if __name__ == "__main__":
    sys.exit(main())
