#!/usr/bin/env python3
"""help.py: one command for a Python project's whole development loop.

Thin entry point: puts this repository on sys.path and hands over to helper.cli.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helper.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
