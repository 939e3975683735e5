"""Stop a run's processes when `help.py run` dies without stopping them (SIGKILL, OOM).

Started by the supervisor as `python -m helper.running.watchdog RUN_DIR GRACE`
in its own session, holding the read end of a pipe whose write end only the
supervisor has: end of file means the supervisor is gone. If it left its
state behind (it did not stop its children), every recorded process group
and tree is stopped, as `help.py run stop` would.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    run_dir, grace = Path(argv[0]), float(argv[1])
    while sys.stdin.buffer.read(65536):
        pass  # nothing is ever written: this returns at end of file
    from helper.running import state

    sup = state.read(run_dir / state.SUPERVISOR)
    if sup is not None and not state.alive(sup["pid"], sup.get("ticks")):
        state.stop_all(run_dir, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
