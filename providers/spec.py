"""`ChannelSpec`: what an adaptor needs to call one upstream account, and its one
constructor, `channel_spec`, which the relay's routing table and channels_app's channel
tests and balance queries all call with the channel's plain values (never a model), so
every caller hands adaptors the same thing for the same channel and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel used with one key. `base_url` empty = the provider's default.
    `config` and `model_mapping` are read-only (build specs with `channel_spec`)."""

    id: int
    provider: str
    base_url: str
    key: str
    config: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    model_mapping: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def upstream_model(self, requested: str) -> str:
        """The model name to send upstream for the client's `requested` name."""
        return self.model_mapping.get(requested) or requested


def frozen_mapping(value: Mapping[str, Any] | str | bytes | None) -> Mapping[str, Any]:
    """A read-only copy of a channel's JSON object field. JSON text (a JSON field may hold
    an object as a string) is parsed first; None or empty is `{}`. Raises ValueError when
    the value is not a JSON object."""
    if isinstance(value, MappingProxyType):
        return value
    if isinstance(value, str | bytes):
        try:
            value = orjson.loads(value) if value.strip() else None
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    if not value:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return MappingProxyType(dict(value))


def channel_spec(channel_id: int, provider: str, base_url: str | None, key: str, *,
                 config: Mapping[str, Any] | str | None = None,
                 model_mapping: Mapping[str, str] | str | None = None) -> ChannelSpec:
    """The spec of channel `channel_id` (of `provider`, at `base_url`) used with `key`.

    `config` and `model_mapping` are the channel's fields as stored (see `frozen_mapping`);
    `base_url` None or empty means the provider's default. Raises ValueError for a field
    that is no JSON object.
    """
    return ChannelSpec(channel_id, provider, base_url or "", key, frozen_mapping(config),
                       frozen_mapping(model_mapping))
