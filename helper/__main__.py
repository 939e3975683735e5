"""`python -m helper` runs the same CLI as help.py."""

import sys

from helper.cli import main

sys.exit(main())
