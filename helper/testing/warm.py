"""Work the store step will need, done on a spare core while pytest runs.

After a run, storing results needs every project module's analysis (imports,
function checksums, constants): on a first run of a large project that is
seconds of ast work, paid after pytest ends. pytest runs in its own process
and help.py only waits for it, so a thread computes the analyses meanwhile.
It only fills caches (the same values would be computed on demand), and it
stops as soon as pytest ends: what it did not reach is computed lazily, so a
short selective run never waits for a whole project's analysis.
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable

    from helper.testing.deps import Hasher


class Warmer:
    """Analyses project modules in a background thread until `stop` is called."""

    def __init__(self, hasher: Hasher, list_files: Callable[[], list[str]]) -> None:
        self.hasher = hasher
        self.list_files = list_files
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="help-test-warm", daemon=True)

    def start(self) -> Warmer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to stop after the module at hand and wait for it: the caches are the caller's again."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            for rel in self.list_files():
                if self._stop.is_set():
                    return
                if rel.endswith(".py"):
                    self.hasher.analysis(rel)
                    self.done += 1
        except Exception:  # an optimisation only: the store step computes anything missing itself
            return
