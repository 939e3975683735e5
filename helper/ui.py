"""Output for people and machines: messages, tables, JSON results, progress.

One module-level console, configured once by the CLI. Colour only on a TTY and
never with NO_COLOR; with --json the result goes to stdout as one JSON document
and everything else (messages, progress) goes to stderr.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Sequence
    from typing import Any, TextIO

_CODES = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}


class Console:
    def __init__(self) -> None:
        self.json = False
        self.verbosity = 0  # -1 quiet, 0 normal, 1+ verbose
        self.debug = False
        self.color_out = False
        self.color_err = False
        self.configure()

    def configure(
        self, *, json_mode: bool = False, verbosity: int = 0, debug: bool = False, color: bool | None = None
    ) -> None:
        self.json = json_mode
        self.verbosity = verbosity
        self.debug = debug
        allowed = color is not False and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        self.color_out = allowed and (color is True or _isatty(sys.stdout))
        self.color_err = allowed and (color is True or _isatty(sys.stderr))

    # -- text -------------------------------------------------------------
    def style(self, text: str, *styles: str, stream: TextIO | None = None) -> str:
        on = self.color_err if stream is sys.stderr else self.color_out
        if not on or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\033[{codes}m{text}\033[0m"

    def echo(self, text: str = "") -> None:
        """Human output on stdout (sent to stderr in --json mode, keeping stdout pure JSON)."""
        stream = sys.stderr if self.json else sys.stdout
        if self.json and self.verbosity < 1:
            return
        print(text, file=stream, flush=True)

    def info(self, text: str) -> None:
        if self.verbosity >= 0 and not self.json:
            print(text, file=sys.stderr, flush=True)

    def verbose(self, text: str) -> None:
        if self.verbosity >= 1:
            print(self.style(text, "dim", stream=sys.stderr), file=sys.stderr, flush=True)

    def warn(self, text: str) -> None:
        if self.verbosity >= 0:
            print(self.style("warning: ", "yellow", "bold", stream=sys.stderr) + text, file=sys.stderr, flush=True)

    def error(self, message: str, hint: str | None = None) -> None:
        print(self.style("error: ", "red", "bold", stream=sys.stderr) + message, file=sys.stderr, flush=True)
        if hint:
            print(self.style("hint: ", "cyan", stream=sys.stderr) + hint, file=sys.stderr, flush=True)

    def success(self, text: str) -> None:
        if self.verbosity >= 0:
            self.echo(self.style(text, "green"))

    # -- results ------------------------------------------------------------
    def result(self, data: Any, render: Callable[[Any], None] | None = None) -> None:
        """Emit a command's result: JSON on stdout with --json, else `render(data)`."""
        if self.json:
            import json

            sys.stdout.write(json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")
            sys.stdout.flush()
        elif render is not None:
            render(data)

    def table(self, rows: Sequence[Sequence[Any]], headers: Sequence[str] | None = None) -> None:
        cells = [[str(c) for c in row] for row in rows]
        if headers:
            cells.insert(0, list(headers))
        if not cells:
            return
        widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(max(len(r) for r in cells))]
        for n, row in enumerate(cells):
            line = "  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip()
            self.echo(self.style(line, "bold") if headers and n == 0 else line)

    # -- progress -----------------------------------------------------------
    def progress(self, label: str, total: int | None = None, delay: float = 1.0) -> Progress:
        """Progress for work that may take longer than `delay` seconds: `with console.progress(...) as bar:`."""
        return Progress(
            label, total, tty=_isatty(sys.stderr) and self.verbosity >= 0, quiet=self.verbosity < 0, delay=delay
        )


class Progress:
    """A spinner/bar on a TTY, sparse plain lines otherwise; silent for quick work."""

    FRAMES = "|/-\\"

    def __init__(self, label: str, total: int | None, *, tty: bool, quiet: bool, delay: float = 1.0) -> None:
        self.delay = delay
        self.label = label
        self.total = total
        self.done = 0
        self.note = ""
        self.tty = tty
        self.quiet = quiet
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._shown = False
        self._started = time.monotonic()

    def __enter__(self) -> Progress:
        self.start(self.delay)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        if note:
            self.note = note

    def update(self, done: int | None = None, note: str | None = None, total: int | None = None) -> None:
        if done is not None:
            self.done = done
        if note is not None:
            self.note = note
        if total is not None:
            self.total = total

    def start(self, delay: float) -> None:
        if self.quiet:
            return
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(delay,), daemon=True)
        self._thread.start()

    def _text(self, frame: int) -> str:
        elapsed = time.monotonic() - self._started
        if self.total:
            width = 24
            filled = int(width * min(self.done, self.total) / self.total)
            meter = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        elif self.tty:
            meter = self.FRAMES[frame % len(self.FRAMES)]
        else:
            meter = "..."
        note = f" {self.note}" if self.note else ""
        return f"{self.label} {meter} {elapsed:.0f}s{note}"

    def _loop(self, delay: float) -> None:
        assert self._stop is not None
        if self._stop.wait(delay):
            return
        frame = 0
        interval = 0.1 if self.tty else 10.0
        while True:
            self._shown = True
            if self.tty:
                sys.stderr.write("\r\033[K" + self._text(frame)[:200])
            else:
                sys.stderr.write(self._text(frame) + "\n")
            sys.stderr.flush()
            frame += 1
            if self._stop.wait(interval):
                return

    def stop(self) -> None:
        if self._stop is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._shown and self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


console = Console()
