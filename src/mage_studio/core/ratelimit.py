"""Sliding-window rate limits, in Redis when configured and in process otherwise.

`install(app)` sets `app.state.rate_limiter` and adds the general limit on `/api`
(`rate_limit_per_minute` per user, or per client IP for anonymous calls). Endpoints
with stricter rules call `enforce(request, rule, key)`. Both return 429 in the error
shape with `Retry-After`. `rate_limit_enabled=False` turns every limit off.

Each rule keeps the times of the hits inside its window (a sliding log), so a burst
at the end of one minute and the start of the next is still counted as one window.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

import redis.asyncio as redis
import structlog
from fastapi import FastAPI, Request
from redis.exceptions import RedisError
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mage_studio.config import Settings
from mage_studio.errors import AppError, TooManyRequests, error_response

# A Redis that accepts connections but never replies must not hang requests.
REDIS_TIMEOUT_SECONDS = 2.0

log = structlog.get_logger(__name__)

# Workers authenticate with worker tokens and pace themselves (heartbeats, long
# polls), so the per-client limit for people does not apply to them.
# Workers have their own tokens, and file downloads are authorised by signed URLs.
EXEMPT_PREFIXES = ("/api/workers/", "/api/files/")
REDIS_PREFIX = "mage:ratelimit:"
_SWEEP_EVERY = 1000


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` hits per `window_seconds` for one key of rule `name`."""

    name: str
    limit: int
    window_seconds: float


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after: float


class RateLimiter(Protocol):
    async def hit(self, rule: RateLimit, key: str) -> RateDecision:
        """Count one hit of `key` under `rule` unless the window is full."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Per-process sliding logs; each API process counts on its own."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._windows: dict[str, float] = {}
        self._calls = 0

    async def hit(self, rule: RateLimit, key: str) -> RateDecision:
        now = self._clock()
        self._windows[rule.name] = rule.window_seconds
        hits = self._hits.setdefault((rule.name, key), deque())
        while hits and hits[0] <= now - rule.window_seconds:
            hits.popleft()
        self._sweep(now)
        if len(hits) >= rule.limit:
            return RateDecision(False, 0, hits[0] + rule.window_seconds - now)
        hits.append(now)
        return RateDecision(True, rule.limit - len(hits), 0.0)

    async def close(self) -> None:
        self._hits.clear()

    def _sweep(self, now: float) -> None:
        # Drop the logs of keys that have been quiet for a whole window.
        self._calls += 1
        if self._calls % _SWEEP_EVERY:
            return
        for (name, key), hits in list(self._hits.items()):
            if not hits or hits[-1] <= now - self._windows[name]:
                del self._hits[(name, key)]


# Trim the log to the window, then add this hit when there is room. Returns
# {allowed, remaining, seconds until the oldest hit leaves the window}.
_SLIDING_LOG = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return {1, limit - count - 1, '0'}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, 0, tostring(tonumber(oldest[2]) + window - now)}
"""


class RedisRateLimiter:
    """Sliding logs in Redis sorted sets, shared by every API process.

    When Redis fails the hit is allowed and a warning logged: an outage of the
    limiter must not take the API down with it.
    """

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self._client = client
        self._script = client.register_script(_SLIDING_LOG)

    async def hit(self, rule: RateLimit, key: str) -> RateDecision:
        redis_key = f"{REDIS_PREFIX}{rule.name}:{key}"
        args: list[float | int | str] = [
            time.time(),
            rule.window_seconds,
            rule.limit,
            uuid.uuid4().hex,
        ]
        try:
            allowed, remaining, retry_after = await self._script(
                keys=[redis_key], args=args
            )
        except RedisError as exc:
            log.warning("rate_limit_unavailable", rule=rule.name, error=repr(exc))
            return RateDecision(True, rule.limit, 0.0)
        return RateDecision(bool(allowed), int(remaining), float(retry_after))

    async def close(self) -> None:
        # redis-py 5+ names it aclose; the installed type stubs predate that.
        await self._client.aclose()  # type: ignore[attr-defined]


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """Return the Redis limiter when `redis_url` is set, else the in-process one."""
    if settings.redis_url:
        return RedisRateLimiter(
            redis.Redis.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        )
    return MemoryRateLimiter()


def hashed_key(value: str) -> str:
    """Return a short digest of `value` (an email) to use as a limiter key."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def too_many_requests(decision: RateDecision) -> TooManyRequests:
    return TooManyRequests(math.ceil(decision.retry_after))


async def enforce(request: Request, rule: RateLimit, key: str) -> None:
    """Count one hit of `key` under `rule`; raise 429 when its window is full."""
    settings: Settings = request.app.state.settings
    if not settings.rate_limit_enabled:
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = await limiter.hit(rule, key)
    if not decision.allowed:
        log.info("rate_limited", rule=rule.name)
        raise too_many_requests(decision)


def general_rule(settings: Settings) -> RateLimit:
    return RateLimit("api", settings.rate_limit_per_minute, 60.0)


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            header: str = value.decode("latin-1")
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
    return None


def _query_token(scope: Scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values: list[str] | None = query.get("token")
    return values[0] if values else None


class RateLimitMiddleware:
    """The general per-user (or per-IP) limit on every `/api` request."""

    def __init__(self, app: ASGIApp, caller_of: Callable[[Settings, str], str | None]):
        self.app = app
        self._caller_of = caller_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._applies(scope):
            await self.app(scope, receive, send)
            return
        state: Any = scope["app"].state
        settings: Settings = state.settings
        limiter: RateLimiter = state.rate_limiter
        decision = await limiter.hit(general_rule(settings), self._key(scope, settings))
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        error: AppError = too_many_requests(decision)
        response = error_response(429, error.message, headers=error.headers)
        await response(scope, receive, send)

    def _applies(self, scope: Scope) -> bool:
        if scope["type"] != "http":
            return False
        path: str = scope.get("path", "")
        if not path.startswith("/api/") or path.startswith(EXEMPT_PREFIXES):
            return False
        settings: Settings = scope["app"].state.settings
        return settings.rate_limit_enabled

    def _key(self, scope: Scope, settings: Settings) -> str:
        token = _bearer_token(scope) or _query_token(scope)
        user = self._caller_of(settings, token) if token else None
        if user is not None:
            return f"user:{user}"
        client = scope.get("client")
        return f"ip:{client[0] if client else 'unknown'}"


def install(app: FastAPI, caller_of: Callable[[Settings, str], str | None]) -> None:
    """Set `app.state.rate_limiter` and add the general `/api` limit.

    `caller_of(settings, token)` returns the user id a valid access token belongs
    to, or None. The middleware sits innermost, inside CORS and the request
    context, so a 429 carries CORS headers and a request id.
    """
    settings: Settings = app.state.settings
    limiter = build_rate_limiter(settings)
    app.state.rate_limiter = limiter
    app.user_middleware.append(Middleware(RateLimitMiddleware, caller_of=caller_of))

    async def closer(_: FastAPI) -> _LimiterService:
        return _LimiterService(limiter)

    app.state.service_factories.append(closer)


class _LimiterService:
    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self._limiter.close()
