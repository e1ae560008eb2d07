"""In-process snapshots of everything a /v1 request reads: tokens and their owners, the
routing table, prices and options. Nothing here queries the database on a warm request.

Each cache belongs to one core.cachebus topic ("auth", "routing", "prices",
"options"). `refresh()` compares the topic versions with those the caches were built
under and drops what moved on; the next reader reloads it once, in a worker thread
(`sync_to_async`), shared by every request that needs it meanwhile. Without Redis the
versions are read on every request (a dict lookup). With Redis the version read is one
MGET, on the first request after any bump was heard or made here, else at most every
RELAY_CACHE_CHECK_MS milliseconds (0 = every request).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

from billing.pricing import PriceSpec
from core import cachebus
from core.backend import uses_redis
from providers.base import Adaptor
from providers.registry import get_adaptor
from providers.spec import ChannelSpec, channel_spec, frozen_mapping

logger = logging.getLogger(__name__)
TOPICS = ("auth", "routing", "prices", "options")
MAX_CACHED_KEYS = 100_000  # bounds memory against floods of random keys


@dataclass(frozen=True, slots=True)
class Principal:
    """A token and its owner, as admission checks need them."""

    token_id: int
    token_name: str
    token_status: str
    expires_at: float | None  # epoch seconds
    unlimited: bool
    allowed_models: frozenset[str]
    networks: tuple  # ip_network objects; empty = any client IP
    user_id: int
    username: str
    user_status: str
    is_admin: bool
    group: str
    group_ratio: Decimal
    rpm_limit: int = 0  # requests per minute for this token; 0 = no limit
    tpm_limit: int = 0  # tokens per minute for this token; 0 = no limit
    max_concurrency: int = 0  # requests in progress at once for this token; 0 = no limit

    def allows_ip(self, ip: str) -> bool:
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self.networks)


@dataclass(frozen=True, slots=True)
class ChannelRoute:
    """One enabled channel with its enabled keys, ready to build a ChannelSpec."""

    id: int
    name: str
    provider: str
    priority: int
    weight: int
    base_url: str
    config: Mapping[str, Any]
    model_mapping: Mapping[str, str]
    keys: tuple[tuple[int, str], ...]  # (ChannelKey id, key)
    adaptor: Adaptor
    # key -> its spec, built once with the table (a request only looks its spec up)
    specs: Mapping[str, ChannelSpec] = field(default_factory=dict)

    def spec(self, key: str) -> ChannelSpec:
        """The spec of this channel used with `key`, one of its enabled keys."""
        return self.specs[key]


@dataclass(slots=True)
class RoutingTable:
    """(group, model) -> priority tiers (highest first), each a tuple of channels."""

    tiers: dict[tuple[str, str], tuple[tuple[ChannelRoute, ...], ...]] = field(
        default_factory=dict)
    channels: dict[int, ChannelRoute] = field(default_factory=dict)
    models_by_group: dict[str, tuple[str, ...]] = field(default_factory=dict)
    groups_by_model: dict[str, set[str]] = field(default_factory=dict)
    aliases: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def candidates(self, group: str, model: str) -> tuple[tuple[ChannelRoute, ...], ...]:
        return self.tiers.get((group, model), ())

    def unavailable_hint(self, group: str, model: str, *, operator: bool = False) -> str:
        """Why a model has no channel in `group`, when we can tell (One API's most asked
        support question): only under another name here, or (told to operators only:
        users learn nothing of other groups) served in other groups."""
        hints = []
        others = sorted(self.groups_by_model.get(model, set()) - {group}) if operator else ()
        if others:
            hints.append(f"It is available in group(s): {', '.join(others)}.")
        names = sorted(self.aliases.get((group, model), set()))
        if names:
            hints.append(f"In this group it is served under the name(s): {', '.join(names)}.")
        return " ".join(hints)


@dataclass(slots=True)
class _Generation:
    """The caches built under one set of topic versions."""

    versions: tuple[int, ...]
    principals: dict[str, Principal | None] = field(default_factory=dict)
    routing: RoutingTable | None = None
    prices: dict[str, PriceSpec] | None = None
    options: dict[str, Any] | None = None


class Snapshot:
    """The process-wide caches. Accessors are async: warm ones return without awaiting
    anything real; cold ones load in a worker thread."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (tests call this between cases)."""
        self._gen = _Generation(versions=(-1,) * len(TOPICS))
        self._checked_at = 0.0
        self._seen_bumps = -1
        self._inflight: dict[tuple, asyncio.Future] = {}
        self.loads = 0  # how many database loads ran, for tests and metrics

    def refresh(self) -> None:
        """Drop the caches whose topic version moved (cheap; call once per request).

        Without Redis the versions are an in-process dict: read on every request. With
        Redis, a listener thread hears every bump on cachebus's pub/sub channel and marks
        the versions dirty; while it listens, nothing was published and this process made
        no bump itself, the MGET is skipped for up to RELAY_CACHE_CHECK_MS (the bound for
        another process's change whose message was lost)."""
        if uses_redis() and self._may_skip_check():
            return
        self._checked_at = time.monotonic()
        self._seen_bumps = cachebus.local_bumps()
        _listener.dirty = False
        versions = cachebus.versions(*TOPICS)
        old = self._gen
        if versions == old.versions:
            return
        moved = {t for t, a, b in zip(TOPICS, versions, old.versions, strict=True) if a != b}
        self._gen = _Generation(
            versions,
            principals={} if "auth" in moved else old.principals,
            routing=None if "routing" in moved else old.routing,
            prices=None if "prices" in moved else old.prices,
            options=None if "options" in moved else old.options,
        )

    def _may_skip_check(self) -> bool:
        interval = settings.RELAY_CACHE_CHECK_MS / 1000
        return bool(interval and time.monotonic() - self._checked_at < interval
                    and self._seen_bumps == cachebus.local_bumps() and _listener.quiet())

    async def principal(self, key_hash: str) -> Principal | None:
        gen = self._gen
        try:
            return gen.principals[key_hash]
        except KeyError:
            pass
        found = await self._load("principal", load_principal, key_hash)
        if len(gen.principals) >= MAX_CACHED_KEYS:
            gen.principals.clear()
        gen.principals[key_hash] = found
        return found

    async def routing(self) -> RoutingTable:
        gen = self._gen
        if gen.routing is None:
            gen.routing = await self._load("routing", load_routing)
        return gen.routing

    async def prices(self) -> dict[str, PriceSpec]:
        gen = self._gen
        if gen.prices is None:
            gen.prices = await self._load("prices", load_prices)
        return gen.prices

    async def options(self) -> dict[str, Any]:
        gen = self._gen
        if gen.options is None:
            gen.options = await self._load("options", load_options)
        return gen.options

    async def _load(self, name: str, loader, *args):
        """Run `loader` in a worker thread once for all concurrent callers on this loop."""
        loop = asyncio.get_running_loop()
        key = (name, args, id(loop), id(self._gen))
        future = self._inflight.get(key)
        if future is None:
            self.loads += 1
            future = loop.create_task(sync_to_async(_released(loader))(*args))
            self._inflight[key] = future
            future.add_done_callback(lambda _f: self._inflight.pop(key, None))
        return await asyncio.shield(future)


# ---- loaders (sync, run in a worker thread) ----------------------------------------------

def _released(loader):
    """Run `loader`, then let go of this thread's database connections as a request end
    would (the /v1 fast path fires no request_finished signal)."""

    def run(*args):
        try:
            return loader(*args)
        finally:
            for conn in connections.all(initialized_only=True):
                if not conn.in_atomic_block:
                    conn.close_if_unusable_or_obsolete()

    return run


def load_principal(key_hash: str) -> Principal | None:
    from billing.models import Token, UserRole

    token = (Token.objects.select_related("user", "user__group")
             .filter(key_hash=key_hash).first())
    if token is None:
        return None
    user = token.user
    return Principal(
        token_id=token.pk, token_name=token.name, token_status=token.status,
        expires_at=token.expires_at.timestamp() if token.expires_at else None,
        unlimited=token.unlimited_quota,
        allowed_models=frozenset(token.allowed_models or ()),
        networks=tuple(ipaddress.ip_network(str(n).strip(), strict=False)
                       for n in token.subnets or ()),
        user_id=user.pk, username=user.username, user_status=user.status,
        is_admin=user.role in (UserRole.ADMIN, UserRole.ROOT),
        group=user.group.name, group_ratio=user.group.ratio,
        rpm_limit=token.rpm_limit, tpm_limit=token.tpm_limit,
        max_concurrency=token.max_concurrency,
    )


def load_routing() -> RoutingTable:
    from channels_app.models import Ability, Channel, KeyStatus

    channels = {}
    for channel in Channel.objects.enabled().prefetch_related("keys"):
        keys = tuple((k.pk, k.key) for k in channel.keys.all() if k.status == KeyStatus.ENABLED)
        try:
            channels[channel.pk] = _route(channel, keys)
        except (KeyError, ImportError, TypeError, ValueError):
            # An unknown provider (the system check reports it) or a config that is no
            # JSON object cannot serve; the other channels still can.
            continue
    return build_table(channels, Ability.objects.values_list(
        "group__name", "model", "channel_id", "priority"))


def _route(channel, keys: tuple[tuple[int, str], ...]) -> ChannelRoute:
    """The routing entry of an enabled channel, with the spec of each of its `keys`."""
    adaptor = get_adaptor(channel.type)
    config = frozen_mapping(channel.config)
    mapping = frozen_mapping(channel.model_mapping)
    specs = {key: channel_spec(channel.pk, channel.type, channel.base_url, key,
                               config=config, model_mapping=mapping) for _, key in keys}
    return ChannelRoute(channel.pk, channel.name, channel.type, channel.priority,
                        channel.weight, channel.base_url, config, mapping, keys, adaptor, specs)


def build_table(channels: dict[int, ChannelRoute], abilities) -> RoutingTable:
    """Group Ability rows into priority tiers; skip channels without keys."""
    grouped: dict[tuple[str, str], dict[int, list[ChannelRoute]]] = defaultdict(
        lambda: defaultdict(list))
    table = RoutingTable(channels=channels)
    for group, model, channel_id, priority in abilities:
        channel = channels.get(channel_id)
        if channel is None or not channel.keys:
            continue
        grouped[(group, model)][priority].append(channel)
        table.groups_by_model.setdefault(model, set()).add(group)
        target = channel.model_mapping.get(model)
        if target and target != model:
            table.aliases.setdefault((group, target), set()).add(model)
    by_group: dict[str, set[str]] = defaultdict(set)
    for (group, model), tiers in grouped.items():
        table.tiers[(group, model)] = tuple(
            tuple(sorted(tiers[p], key=lambda c: c.id)) for p in sorted(tiers, reverse=True))
        by_group[group].add(model)
    table.models_by_group = {g: tuple(sorted(m)) for g, m in by_group.items()}
    return table


def load_prices() -> dict[str, PriceSpec]:
    from billing.models import Price

    return {p.model: PriceSpec.from_row(p) for p in Price.objects.all()}


def load_options() -> dict[str, Any]:
    from billing import option_specs

    return option_specs.load_all()


class _BumpListener:
    """Marks the snapshot dirty on every cachebus publish of its topics (Redis mode only)."""

    def __init__(self) -> None:
        self.dirty = True
        self._subscribed = False

    def quiet(self) -> bool:
        """True when the cache bus listens and no bump arrived since the last version
        read; while it does not listen, the versions are read on every request."""
        if not self._subscribed:
            self._subscribed = True
            cachebus.subscribe(self._heard)
        return cachebus.listening() and not self.dirty

    def _heard(self, topics: frozenset[str] | None) -> None:
        if topics is None or not topics.isdisjoint(TOPICS):  # not for others (cooling)
            self.dirty = True


_listener = _BumpListener()
snapshot = Snapshot()
