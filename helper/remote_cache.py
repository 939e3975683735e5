"""Client of the Bazel HTTP remote-cache protocol: GET/PUT/HEAD /ac/<key>, /cas/<sha256>.

Any server that speaks it works: bazel-remote, nginx with WebDAV PUT, a CDN.
A remote that fails repeatedly is switched off for the rest of the run by a
circuit breaker, so a dead cache server costs one timeout, not one per test.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from helper.retry import CircuitBreaker
from helper.ui import console


class RemoteCache:
    def __init__(self, url: str, *, timeout: float = 5.0, write: bool = True) -> None:
        if not url.startswith(("http://", "https://")):
            from helper.errors import ConfigError

            raise ConfigError(f"cache.remote {url!r} is not an http(s) URL", "set it like http://host:8080/cache")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.write = write
        self.breaker = CircuitBreaker(threshold=3, reset_after=60.0)
        self._warned = False

    def _request(self, method: str, kind: str, key: str, data: bytes | None = None) -> bytes | None:
        if not self.breaker.allow():
            return None
        request = urllib.request.Request(f"{self.url}/{kind}/{key}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/octet-stream")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read() if method == "GET" else b""
            self.breaker.record_success()
            return body
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                self.breaker.record_success()
                return None
            self._failed(f"HTTP {exc.code}")
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            self._failed(str(getattr(exc, "reason", exc)))
        return None

    def _failed(self, reason: str) -> None:
        self.breaker.record_failure()
        if not self._warned:
            self._warned = True
            console.warn(f"remote cache {self.url} failed ({reason}); continuing with the local cache")

    def get(self, kind: str, key: str) -> bytes | None:
        return self._request("GET", kind, key)

    def put(self, kind: str, key: str, data: bytes) -> None:
        if self.write:
            self._request("PUT", kind, key, data)

    def contains(self, kind: str, key: str) -> bool:
        return self._request("HEAD", kind, key) is not None
