"""The Bazel HTTP remote cache against a real nginx WebDAV server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helper.cache import Cache, action_key
from helper.remote_cache import RemoteCache
from tests.conftest import need_tool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[str]:
    binary = need_tool("nginx", "apt-get install nginx-light")
    base = tmp_path / "nginx"
    (base / "data").mkdir(parents=True)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = base / "nginx.conf"
    conf.write_text(
        f"""
        {user}
        worker_processes 1;
        daemon off;
        pid {base}/nginx.pid;
        error_log {base}/error.log;
        events {{}}
        http {{
            access_log off;
            client_body_temp_path {base}/body;
            proxy_temp_path {base}/proxy;
            fastcgi_temp_path {base}/fastcgi;
            uwsgi_temp_path {base}/uwsgi;
            scgi_temp_path {base}/scgi;
            server {{
                listen 127.0.0.1:{port};
                root {base}/data;
                client_max_body_size 64m;
                location / {{
                    dav_methods PUT DELETE;
                    create_full_put_path on;
                    dav_access user:rw group:r all:r;
                }}
            }}
        }}
        """
    )
    server = subprocess.Popen([binary, "-c", str(conf), "-p", str(base)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {server.stderr.read() if server.stderr else ''}") from None
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/cache"
    server.terminate()
    server.wait(timeout=10)


def test_results_are_shared_through_the_remote(tmp_path: Path, nginx: str) -> None:
    ci = Cache(tmp_path / "ci", remote=RemoteCache(nginx))
    key = action_key("tests/test_a.py::test_one", "deps-hash")
    blob = ci.put_blob(b"junit report bytes")
    ci.put_action(key, {"outcome": "passed", "report": blob}, duration=3.0)

    laptop = Cache(tmp_path / "laptop", remote=RemoteCache(nginx))
    assert laptop.get_action(key) == {"outcome": "passed", "report": blob}
    assert laptop.get_blob(blob) == b"junit report bytes"
    assert laptop.session.remote_hits == 2
    # Now local: a second read does not need the server.
    assert (tmp_path / "laptop" / "ac" / key[:2] / key).exists()
    assert laptop.remote.contains("ac", key)
    assert not laptop.remote.contains("ac", action_key("never stored"))


def test_a_corrupt_remote_entry_is_a_miss(tmp_path: Path, nginx: str) -> None:
    remote = RemoteCache(nginx)
    key = action_key("poisoned")
    remote.put("ac", key, b"not a valid entry")
    digest = "0" * 64
    remote.put("cas", digest, b"does not hash to zeros")
    cache = Cache(tmp_path / "c", remote=remote)
    assert cache.get_action(key) is None
    assert cache.get_blob(digest) is None
    assert cache.session.corrupt == 1
    assert not (tmp_path / "c" / "ac" / key[:2] / key).exists()


def test_a_dead_remote_costs_little_and_the_local_cache_still_works(tmp_path: Path, capsys) -> None:
    remote = RemoteCache(f"http://127.0.0.1:{free_port()}/cache", timeout=0.5)
    cache = Cache(tmp_path / "c", remote=remote)
    started = time.monotonic()
    for i in range(20):
        assert cache.get_action(action_key(i)) is None
        cache.put_action(action_key(i), {"i": i})
    assert time.monotonic() - started < 5
    assert remote.breaker.state == "open"
    assert cache.get_action(action_key(3)) == {"i": 3}
    assert capsys.readouterr().err.count("remote cache") == 1
