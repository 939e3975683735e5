#!/usr/bin/env python3
"""help.py: one command for a Python project's whole development loop.

Thin entry point: puts this repository on sys.path and hands over to helper.cli.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if sys.argv[1:] == ["env", "--python"]:  # answered from the detection cache without loading the CLI
    from helper.envs.fast import main as fast_python

    if fast_python() == 0:
        sys.exit(0)

from helper.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
