"""Channel selection: highest priority tier first, weighted random inside a tier.

Channels already tried in this request and channels cooling down for this model
(relay.health) are skipped; when a tier has none left, selection falls to the next
lower tier. Pure apart from the health lookup and the random source, which tests replace.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection

from relay.snapshot import ChannelRoute, RoutingTable

_rng = random.Random()


_is_cooling: Callable[[int, str], bool] | None = None


def _not_cooling(channel_id: int, model: str) -> bool:
    global _is_cooling
    if _is_cooling is None:
        from relay.health.cooling import is_cooling

        _is_cooling = is_cooling
    return not _is_cooling(channel_id, model)


def pick_channel(table: RoutingTable, group: str, model: str, tried: Collection[int],
                 *, usable: Callable[[int, str], bool] = _not_cooling,
                 rng: random.Random = _rng) -> ChannelRoute | None:
    """The channel to try next for (group, model), or None when every one was tried.

    If every untried channel of every tier is cooling down, the best cooling one is
    returned anyway: a cooling channel may have recovered, a 503 certainly helps no one.
    """
    fallback = None
    for tier in table.candidates(group, model):
        fresh = [c for c in tier if c.id not in tried]
        if not fresh:
            continue
        healthy = [c for c in fresh if usable(c.id, model)]
        if healthy:
            return weighted_choice(healthy, rng)
        fallback = fallback or weighted_choice(fresh, rng)
    return fallback


def weighted_choice(channels: list[ChannelRoute], rng: random.Random = _rng) -> ChannelRoute:
    """One channel, with probability proportional to its weight (all-zero = uniform)."""
    if len(channels) == 1:
        return channels[0]
    weights = [c.weight for c in channels]
    if not any(weights):
        return rng.choice(channels)
    return rng.choices(channels, weights=weights, k=1)[0]


def pick_key(channel: ChannelRoute, rng: random.Random = _rng) -> tuple[int, str]:
    """One of the channel's enabled keys, uniformly (the table never lists keyless ones)."""
    keys = channel.keys
    return keys[0] if len(keys) == 1 else rng.choice(keys)
