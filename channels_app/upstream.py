"""The upstream calls of channel tests and balance queries, through the providers adaptors.

Pure of Django models: callers pass `ChannelSpec`s built by services. Each probe runs on
a short-lived `httpx.AsyncClient` (tests run from jobs and admin actions, not per request).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import orjson
from django.conf import settings

from providers.base import Balance, Endpoint
from providers.errors import RelayError
from providers.registry import get_adaptor
from providers.spec import ChannelSpec

TEST_MAX_TOKENS = 16  # enough for "OK", cheap on every provider


@dataclass(frozen=True, slots=True)
class KeyTestResult:
    key_id: int
    ok: bool
    response_ms: int
    error: str = ""
    status: int | None = None
    key_invalid: bool = False


def run(coro):
    """Run `coro` to completion from sync code (services are sync; jobs run in threads)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("channel probes are sync: call them through sync_to_async")


def test_body(model: str, prompt: str) -> dict:
    return {"model": model, "max_tokens": TEST_MAX_TOKENS, "stream": False,
            "messages": [{"role": "user", "content": prompt}]}


async def probe_keys(specs: list[tuple[int, ChannelSpec]], model: str,
                     prompt: str) -> list[KeyTestResult]:
    """Send one small chat request per key, concurrently; results in the same order."""
    timeout = httpx.Timeout(settings.CHANNEL_TEST_TIMEOUT,
                            connect=min(settings.RELAY_CONNECT_TIMEOUT,
                                        settings.CHANNEL_TEST_TIMEOUT))
    async with httpx.AsyncClient(timeout=timeout) as client:
        return list(await asyncio.gather(*(
            _probe(client, key_id, spec, model, prompt) for key_id, spec in specs)))


async def _probe(client: httpx.AsyncClient, key_id: int, spec: ChannelSpec, model: str,
                 prompt: str) -> KeyTestResult:
    adaptor = get_adaptor(spec.provider)
    if not adaptor.supports(Endpoint.chat_completions):
        return KeyTestResult(key_id, False, 0, "provider has no chat endpoint to test")
    started = time.perf_counter()
    try:
        body = test_body(model, prompt)
        # Adaptors that need no conversion forward the raw bytes, so send both forms.
        await adaptor.complete(client, spec, Endpoint.chat_completions, body=body,
                               raw_body=orjson.dumps(body), requested_model=model)
    except RelayError as exc:
        return KeyTestResult(key_id, False, _ms(started), exc.message[:500],
                             exc.upstream_status or exc.status, exc.disable_key)
    return KeyTestResult(key_id, True, _ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def fetch_balance(spec: ChannelSpec) -> Balance | None:
    """The provider's balance for `spec`, None when it has no balance API.
    Raises RelayError when the query fails or the answer cannot be read."""
    adaptor = get_adaptor(spec.provider)
    request = adaptor.balance_request(spec)
    if request is None:
        return None
    async with httpx.AsyncClient(timeout=settings.CHANNEL_TEST_TIMEOUT) as client:
        try:
            response = await client.request(request.method, request.url,
                                            headers=dict(request.headers))
        except httpx.HTTPError as exc:
            raise RelayError(502, "upstream_unreachable", f"balance query failed: "
                             f"{type(exc).__name__}") from exc
    if response.status_code >= 400:
        raise adaptor.map_error(response.status_code, response.content, (spec.key,))
    try:
        balance = adaptor.parse_balance(response.json())
    except ValueError:
        balance = None
    if balance is None:
        raise RelayError(502, "bad_upstream_response", "balance answer was not understood")
    return balance
