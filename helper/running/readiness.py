"""Is a process ready? A TCP port accepts, a URL answers HTTP 200, or its output shows a line.

A port (or a local URL's port) only counts once the socket listening on it
belongs to the process started or one of its descendants (Linux /proc:
/proc/net/tcp inode -> /proc/PID/fd), so another program holding the port
never passes for ours.
"""

from __future__ import annotations

import contextlib
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


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "[::1]")


def port_in_use(host: str, port: int) -> str | None:
    """None when nothing listens on host:port; else " by pid N (command)" or "" if the holder is unknown."""
    if not port_open(host, port):
        return None
    from helper.running import state

    holders = state.socket_holders(state.listening_inodes(port))
    return f" by {state.describe_pid(holders[0])}" if holders else ""


def owned_by(port: int, pid: int) -> tuple[bool, str]:
    """(does `pid` or a descendant hold the socket listening on `port`, who does otherwise)."""
    from helper.running import state

    inodes = state.listening_inodes(port)
    if not inodes:
        return True, ""  # no /proc/net/tcp to read (not Linux): the open port is all we can know
    tree = [pid, *state.descendants(pid)]
    if state.socket_holders(inodes, tree):
        return True, ""
    others = state.socket_holders(inodes)
    who = state.describe_pid(others[0]) if others else "a process outside this run"
    return False, f"port {port} is held by {who}, not by this process"


class Probe:
    """One process's readiness: `feed` it output lines, `check` it as often as you like."""

    def __init__(self, ready: Ready | None, host: str = "127.0.0.1") -> None:
        self.ready = ready
        self.host = host
        self._seen = threading.Event()
        self._pattern = re.compile(str(ready.target)) if ready and ready.kind == "log" else None
        self.note = ""  # why an open port does not count yet
        self.port: int | None = None  # the local port the process is to listen on
        if ready and ready.kind == "port":
            self.port = int(ready.target)
        elif ready and ready.kind == "http":
            from urllib.parse import urlsplit

            with contextlib.suppress(ValueError):
                url = urlsplit(str(ready.target))
                if url.hostname in LOCAL_HOSTS or url.hostname == host:
                    self.port = url.port or (443 if url.scheme == "https" else 80)

    def feed(self, line: str) -> None:
        if self._pattern is not None and not self._seen.is_set() and self._pattern.search(line):
            self._seen.set()

    def reset(self) -> None:
        self._seen.clear()

    def check(self, pid: int | None = None) -> bool:
        """Ready? With `pid`, a port counts only when that process's tree listens on it."""
        if self.ready is None:
            return True
        if self.ready.kind == "log":
            return self._seen.is_set()
        if self.ready.kind == "port":
            up = port_open(self.host, int(self.ready.target))
        else:
            up = http_ok(str(self.ready.target))
        if not up or pid is None or self.port is None:
            return up
        owned, self.note = owned_by(self.port, pid)
        return owned
