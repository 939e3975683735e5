"""Work the store step will need, done on a spare core while pytest runs.

After a run, storing results needs the analysis (imports, function checksums,
constants) of every project module the run imported: on a first run of a large
project that is a second or more of ast work, paid after pytest ends. pytest
runs in its own process and help.py only waits for it, so a thread computes the
analyses meanwhile, of the modules pytest names as it imports them (the
recorder's imports-*.txt, one per process, a line per module; see
Recorder.announce_to). Only what the run imports is analysed, not every file of
the project: a module no test imports is never asked for. The thread only fills
caches (the same values would be computed on demand), and it stops as soon as
pytest ends: what it did not reach is computed lazily. A module that imports
others by name (a loader) brings its whole package in, which a test that ran the
loader depends on (deps.PACKAGE_MODULES).
"""

from __future__ import annotations

import os
import threading

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from pathlib import Path

    from helper.testing.deps import Hasher

POLL_SECONDS = 0.05  # how often the announcements are read again while nothing new came


class Warmer:
    """Analyses the modules announced in `run_dir` in a background thread until `stop` is called."""

    def __init__(self, hasher: Hasher, run_dir: Path) -> None:
        self.hasher = hasher
        self.run_dir = run_dir
        self.done = 0
        self._read: dict[str, int] = {}  # announcement file -> bytes consumed
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

    def announced(self) -> list[str]:
        """Modules named since the last call, in the order they were imported."""
        found = []
        try:
            names = sorted(n for n in os.listdir(self.run_dir) if n.startswith("imports-") and n.endswith(".txt"))
        except OSError:
            return []
        for name in names:
            offset = self._read.get(name, 0)
            try:
                with open(os.path.join(self.run_dir, name), "rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
            except OSError:
                continue
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next read
            self._read[name] = offset + len(complete)
            found.extend(complete.decode("utf-8", "surrogateescape").splitlines())
        return found

    def _run(self) -> None:
        seen: set[str] = set()
        try:
            while not self._stop.is_set():
                fresh = [rel for rel in dict.fromkeys(self.announced()) if rel.endswith(".py") and rel not in seen]
                if not fresh:
                    self._stop.wait(POLL_SECONDS)
                    continue
                while fresh:
                    if self._stop.is_set():
                        return
                    rel = fresh.pop(0)
                    seen.add(rel)
                    analysis = self.hasher.analysis(rel)
                    self.done += 1
                    if analysis and analysis.get("loaders"):
                        # A module that imports by name: a test running it depends on its whole package
                        # (deps.PACKAGE_MODULES), whose hash needs every module there, imported or not.
                        folder = rel.rpartition("/")[0]
                        more = [f for f in self.hasher.package_files(folder) if f not in seen and f not in fresh]
                        fresh.extend(more)
        except Exception:  # an optimisation only: the store step computes anything missing itself
            return
