"""Per-token limits: requests and tokens per minute (a DRF throttle) and requests in
progress at once (concurrency slots).

Counts live in fixed one-minute windows: in Redis when REDIS_URL is set (one Lua call,
shared by every worker and server), else in this process (embedded mode runs one
worker). A token without limits costs nothing here: no call, no round trip.

- Requests per minute: a request is admitted while fewer than `rpm_limit` were admitted
  in this window; refused ones are not counted.
- Tokens per minute: a request is admitted while the tokens billed in this window are
  below `tpm_limit`; each settled request adds its prompt and completion tokens (the
  exact count is only known afterwards, so one request may overshoot the limit, and the
  next waits for the window to turn).

A refusal is a 429 `rate_limit_exceeded` whose type says which limit (`requests` or
`tokens`, as OpenAI's own limits do) with a Retry-After header, so the official SDKs back
off and retry by themselves.

- Concurrency: a token with `max_concurrency` holds one slot per admitted request, taken
  just before its pre-charge and given back where the request's billing ends (settle or
  refund, exactly once, so a stream keeps its slot until it ends). A full token gets a
  429 `too_many_concurrent_requests`. In Redis a slot is a member of a sorted set scored
  by its expiry (QUOTA_RESERVATION_TTL), so the slots of a killed process age out.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from dataclasses import dataclass

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from core.backend import PerMode
from providers.errors import RelayError
from relay.refusals import gateway
from relay.snapshot import Principal

WINDOW_SECONDS = 60
KEY_TTL = 2 * WINDOW_SECONDS
PREFIX = "oneproxy:rl:"

# KEYS: requests counter, tokens counter. ARGV: rpm limit, tpm limit, ttl.
ADMIT = """
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
if tpm > 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= tpm then return {'tokens', used} end
end
if rpm > 0 then
  local n = tonumber(redis.call('GET', KEYS[1]) or '0')
  if n >= rpm then return {'requests', n} end
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {'ok', 0}
"""
# KEYS: the token's slots (sorted set). ARGV: limit, now ms, expiry ms, slot id, ttl s.
TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""
# KEYS: the token's slots. ARGV: slot id.
GIVE_SLOT = """
return redis.call('ZREM', KEYS[1], ARGV[1])
"""
# KEYS: tokens counter. ARGV: tokens, ttl.
ADD_TOKENS = """
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def rate_limited(kind: str, limit: int, retry_after: int) -> RelayError:
    unit = "requests" if kind == "requests" else "tokens"
    return gateway(429, "rate_limit_exceeded",
                   f"Rate limit reached for this API key: {limit} {unit} per minute. "
                   f"Please try again in {retry_after}s.", type=unit, retry_after=retry_after)


def too_many_in_progress(limit: int) -> RelayError:
    return gateway(429, "too_many_concurrent_requests",
                   f"This API key already has {limit} requests in progress, its limit; "
                   "retry when one has finished.", type="requests", retry_after=1)


def window(now: float | None = None) -> tuple[int, int]:
    """(this window's number, whole seconds until the next one starts, at least 1)."""
    now = time.time() if now is None else now
    number = int(now // WINDOW_SECONDS)
    return number, max(1, int((number + 1) * WINDOW_SECONDS - now + 0.999))


class TokenRateThrottle(BaseThrottle):
    """The token's requests-per-minute and tokens-per-minute limits (one instance per
    request, as DRF makes them: `wait()` reports this request's refusal)."""

    async def allow_request(self, request, view=None) -> bool:
        """True when admitted; raises the 429 RelayError otherwise (the OpenAI-shaped
        refusal says which limit, which DRF's bare `False` could not)."""
        principal: Principal = request.principal
        if not (principal.rpm_limit or principal.tpm_limit):
            return True
        number, retry_after = window()
        refused = await _backend().admit(principal, number)
        if refused is not None:
            limit = principal.rpm_limit if refused == "requests" else principal.tpm_limit
            self.retry_after = retry_after
            raise rate_limited(refused, limit, retry_after)
        return True

    def wait(self) -> float | None:
        return getattr(self, "retry_after", None)


async def add_tokens(principal: Principal, tokens: int) -> None:
    """Count a settled request's tokens against its token's per-minute limit."""
    if principal.tpm_limit and tokens > 0:
        await _backend().add_tokens(principal.token_id, window()[0], tokens)


@dataclass(frozen=True, slots=True)
class Slot:
    """One admitted request's place in its token's concurrency limit."""

    token_id: int
    id: str


async def take_slot(principal: Principal) -> Slot | None:
    """A slot for one request (None when the token has no limit); raises the 429 when
    the token already has `max_concurrency` requests in progress."""
    if not principal.max_concurrency:
        return None
    slot = Slot(principal.token_id, secrets.token_hex(8))
    if not await _backend().take_slot(slot, principal.max_concurrency):
        raise too_many_in_progress(principal.max_concurrency)
    return slot


async def give_slot(slot: Slot | None) -> None:
    if slot is not None:
        await _backend().give_slot(slot)


def _keys(token_id: int, number: int) -> tuple[str, str]:
    return f"{PREFIX}r:{token_id}:{number}", f"{PREFIX}t:{token_id}:{number}"


class MemoryCounters:
    """Embedded mode: counts in this process. Each step runs without awaiting, so it is
    atomic on the event loop; other windows' counts are dropped as windows turn."""

    def __init__(self) -> None:
        self.requests: dict[tuple[int, int], int] = {}
        self.tokens: dict[tuple[int, int], int] = {}
        self.current = 0
        self.slots: dict[int, set[str]] = {}

    async def take_slot(self, slot: Slot, limit: int) -> bool:
        held = self.slots.setdefault(slot.token_id, set())
        if len(held) >= limit:
            return False
        held.add(slot.id)
        return True

    async def give_slot(self, slot: Slot) -> None:
        held = self.slots.get(slot.token_id)
        if held is not None:
            held.discard(slot.id)
            if not held:
                del self.slots[slot.token_id]

    async def admit(self, principal: Principal, number: int) -> str | None:
        self._forget_before(number)
        key = (principal.token_id, number)
        if principal.tpm_limit and self.tokens.get(key, 0) >= principal.tpm_limit:
            return "tokens"
        if principal.rpm_limit:
            if self.requests.get(key, 0) >= principal.rpm_limit:
                return "requests"
            self.requests[key] = self.requests.get(key, 0) + 1
        return None

    async def add_tokens(self, token_id: int, number: int, tokens: int) -> None:
        self._forget_before(number)
        self.tokens[(token_id, number)] = self.tokens.get((token_id, number), 0) + tokens

    def _forget_before(self, number: int) -> None:
        if number > self.current:
            self.current = number
            for counts in (self.requests, self.tokens):
                for key in [k for k in counts if k[1] < number]:
                    del counts[key]


class RedisCounters:
    """Counts in Redis, shared by every worker; one EVALSHA per limited request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _scripts(self):
        from billing.quota.hotpath import HotScripts

        loop = asyncio.get_running_loop()
        scripts = self._per_loop.get(loop)
        if scripts is None:
            scripts = HotScripts(self.url, {"ADMIT": ADMIT, "ADD_TOKENS": ADD_TOKENS,
                                            "TAKE_SLOT": TAKE_SLOT, "GIVE_SLOT": GIVE_SLOT},
                                 max_connections=32, timeout=5)
            self._per_loop[loop] = scripts
        return scripts

    async def admit(self, principal: Principal, number: int) -> str | None:
        reply = await self._scripts().run(
            "ADMIT", list(_keys(principal.token_id, number)),
            [principal.rpm_limit, principal.tpm_limit, KEY_TTL])
        status = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        return None if status == "ok" else status

    async def add_tokens(self, token_id: int, number: int, tokens: int) -> None:
        await self._scripts().run("ADD_TOKENS", [_keys(token_id, number)[1]],
                                  [tokens, KEY_TTL])

    async def take_slot(self, slot: Slot, limit: int) -> bool:
        now = int(time.time() * 1000)
        ttl = settings.QUOTA_RESERVATION_TTL
        reply = await self._scripts().run(
            "TAKE_SLOT", [_slots_key(slot.token_id)], [limit, now, now + ttl * 1000, slot.id,
                                                      ttl])
        return bool(reply)

    async def give_slot(self, slot: Slot) -> None:
        await self._scripts().run("GIVE_SLOT", [_slots_key(slot.token_id)], [slot.id])


def _slots_key(token_id: int) -> str:
    return f"{PREFIX}c:{token_id}"


_backends: PerMode[MemoryCounters | RedisCounters] = PerMode(MemoryCounters, RedisCounters)
_backend = _backends.get  # Redis counters when REDIS_URL is set, else in-process ones
reset = _backends.reset_memory  # tests only: forget the in-process counts
