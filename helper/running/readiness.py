"""Is a process ready? A TCP port accepts, a URL answers HTTP 200, or its output shows a line."""

from __future__ import annotations

import re
import threading

from helper.running.spec import Ready


def port_open(host: str, port: int, timeout: float = 0.25) -> bool:
    import socket  # first needed after the processes are spawned: kept off the start path

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    import urllib.error
    import urllib.request

    # Local services are never reached through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Probe:
    """One process's readiness: `feed` it output lines, `check` it as often as you like."""

    def __init__(self, ready: Ready | None, host: str = "127.0.0.1") -> None:
        self.ready = ready
        self.host = host
        self._seen = threading.Event()
        self._pattern = re.compile(str(ready.target)) if ready and ready.kind == "log" else None

    def feed(self, line: str) -> None:
        if self._pattern is not None and not self._seen.is_set() and self._pattern.search(line):
            self._seen.set()

    def reset(self) -> None:
        self._seen.clear()

    def check(self) -> bool:
        if self.ready is None:
            return True
        if self.ready.kind == "log":
            return self._seen.is_set()
        if self.ready.kind == "port":
            return port_open(self.host, int(self.ready.target))
        return http_ok(str(self.ready.target))
