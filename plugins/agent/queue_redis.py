"""The agent's task queue in Redis (`agent.redis`), for workers on one or several machines.

Keys under `helpy:agent:`: `pending` (a list of task ids), `task:<id>` (a hash:
prompt, model, state, worker, token, claims), `leases` (a sorted set: id ->
expiry in Redis' own clock, so the machines' clocks need not agree),
`progress:<id>`, `worker:<name>`, `mem:<key>`, `lock:<name>` (all with a TTL,
so Redis' memory stays bounded). Claiming, renewing and finishing are Lua
scripts: atomic, and judged by the server's TIME. A lost connection raises
queue.Unavailable; redis-py reconnects on the next call. Give the server an
append-only file (`appendonly yes`) so a restart loses nothing.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from helper.errors import HelpError
from plugins.agent.queue import Claim, Unavailable, missing_redis

PREFIX = "helpy:agent:"
T = TypeVar("T")

NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

# KEYS: pending, leases. ARGV: worker, lease ms, task-key prefix, token.
CLAIM = (
    NOW
    + """
local id = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1)[1]
if not id then id = redis.call('RPOP', KEYS[1]) end
if not id then return false end
local key = ARGV[3] .. id
local previous = redis.call('HGET', key, 'worker') or ''
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
redis.call('HSET', key, 'state', 'running', 'worker', ARGV[1], 'token', ARGV[4], 'claimed', now)
local n = redis.call('HINCRBY', key, 'claims', 1)
local h = redis.call('HMGET', key, 'prompt', 'model')
return {id, h[1] or '', h[2] or '', n, previous}
"""
)
# KEYS: leases, task key. ARGV: id, token, lease ms.
RENEW = (
    NOW
    + """
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1
"""
)
# KEYS: leases, task key, finished counter. ARGV: id, token, state, keep seconds.
FINISH = (
    NOW
    + """
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'state', ARGV[3], 'finished', now)
redis.call('EXPIRE', KEYS[2], math.max(1, math.floor(tonumber(ARGV[4]))))
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
return 1
"""
)
# KEYS: leases, task key. ARGV: id, token.
RELEASE = """
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] then return 0 end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then redis.call('ZADD', KEYS[1], 0, ARGV[1]) end
return 1
"""
UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def _guarded(fn: Callable[..., T]) -> Callable[..., T]:
    """Connection and timeout errors become queue.Unavailable (the caller backs off and retries)."""

    @functools.wraps(fn)
    def call(self: RedisQueue, *args: Any, **kwargs: Any) -> T:
        try:
            return fn(self, *args, **kwargs)
        except self.errors as exc:
            raise Unavailable(f"redis at {self.url}: {exc}") from exc

    return call


class RedisQueue:
    backend = "redis"

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        try:
            import redis
        except ImportError:
            raise missing_redis() from None
        self.url = url
        self.errors: tuple[type[BaseException], ...] = (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            redis.exceptions.BusyLoadingError,
        )
        try:
            self.r = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=min(timeout, 2.0)
            )
        except ValueError as exc:
            raise HelpError(f"agent.redis = {url!r}: {exc}", "e.g. redis://127.0.0.1:6379/0") from None
        self._claim = self.r.register_script(CLAIM)
        self._renew = self.r.register_script(RENEW)
        self._finish = self.r.register_script(FINISH)
        self._release = self.r.register_script(RELEASE)
        self._unlock = self.r.register_script(UNLOCK)

    def close(self) -> None:
        self.r.close()

    @_guarded
    def ping(self) -> bool:
        return bool(self.r.ping())

    @_guarded
    def put(self, task_id: str, prompt: str, model: str | None = None) -> None:
        key = PREFIX + "task:" + task_id
        if self.r.exists(key):
            return
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, mapping={"prompt": prompt, "model": model or "", "state": "queued", "claims": 0})
        pipe.lpush(PREFIX + "pending", task_id)
        pipe.execute()

    @_guarded
    def claim(self, worker: str, lease: float) -> Claim | None:
        token = secrets.token_hex(8)
        got = self._claim(
            keys=[PREFIX + "pending", PREFIX + "leases"], args=[worker, int(lease * 1000), PREFIX + "task:", token]
        )
        if not got:
            return None
        task_id, prompt, model, claims, previous = got
        return Claim(str(task_id), str(prompt), str(model) or None, worker, token, int(claims), str(previous) or None)

    @_guarded
    def renew(self, claim: Claim, lease: float) -> bool:
        keys = [PREFIX + "leases", PREFIX + "task:" + claim.task_id]
        return bool(self._renew(keys=keys, args=[claim.task_id, claim.token, int(lease * 1000)]))

    @_guarded
    def finish(self, claim: Claim, state: str, keep: float) -> bool:
        keys = [PREFIX + "leases", PREFIX + "task:" + claim.task_id, PREFIX + "finished"]
        return bool(self._finish(keys=keys, args=[claim.task_id, claim.token, state, keep]))

    @_guarded
    def release(self, claim: Claim) -> None:
        self._release(keys=[PREFIX + "leases", PREFIX + "task:" + claim.task_id], args=[claim.task_id, claim.token])

    @_guarded
    def counts(self) -> dict[str, int]:
        pipe = self.r.pipeline(transaction=False)
        pipe.llen(PREFIX + "pending")
        pipe.zcard(PREFIX + "leases")
        pipe.hgetall(PREFIX + "finished")
        queued, running, finished = pipe.execute()
        return {
            "queued": int(queued),
            "running": int(running),
            **{"done": 0, "failed": 0},
            **{k: int(v) for k, v in finished.items()},
        }

    @_guarded
    def progress(self, task_id: str, fields: dict[str, Any], ttl: float = 86400.0) -> None:
        self.r.set(PREFIX + "progress:" + task_id, json.dumps(fields), ex=max(1, int(ttl)))

    @_guarded
    def get_progress(self, task_id: str) -> dict[str, Any]:
        value = self.r.get(PREFIX + "progress:" + task_id)
        return json.loads(value) if value else {}

    @_guarded
    def beat(self, worker: str, info: dict[str, Any], ttl: float) -> None:
        import time

        self.r.set(PREFIX + "worker:" + worker, json.dumps({**info, "seen": time.time()}), ex=max(1, int(ttl)))

    @_guarded
    def leave(self, worker: str) -> None:
        self.r.delete(PREFIX + "worker:" + worker)

    @_guarded
    def workers(self) -> list[dict[str, Any]]:
        keys = sorted(self.r.scan_iter(PREFIX + "worker:*", count=100))
        values = self.r.mget(keys) if keys else []
        return [
            {**json.loads(v), "name": k.removeprefix(PREFIX + "worker:")}
            for k, v in zip(keys, values, strict=True)
            if v
        ]

    @_guarded
    def remember(self, key: str, value: str, ttl: float) -> None:
        self.r.set(PREFIX + "mem:" + key, value, px=max(1, int(ttl * 1000)))

    @_guarded
    def recall(self, key: str) -> str | None:
        value = self.r.get(PREFIX + "mem:" + key)
        return str(value) if value is not None else None

    @_guarded
    def lock(self, name: str, ttl: float) -> str | None:
        token = secrets.token_hex(8)
        return token if self.r.set(PREFIX + "lock:" + name, token, nx=True, px=max(1, int(ttl * 1000))) else None

    @_guarded
    def unlock(self, name: str, token: str) -> None:
        self._unlock(keys=[PREFIX + "lock:" + name], args=[token])
