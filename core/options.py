"""Runtime options access: the operator's option values, cached under the "options"
cache-bus topic and reloaded only after a change anywhere, never per request.

The values come from a loader that billing registers at app ready (its option specs
and the Option rows live there); core itself imports no app. Each value already has its
option's type (int, float, bool or str), as the loader coerced it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import cachebus

Loader = Callable[[], dict[str, Any]]

_loader: Loader | None = None
_snapshot: tuple[int, dict[str, Any]] | None = None


def register_loader(loader: Loader | None) -> None:
    """Use `loader()` (every option key -> its typed value) to (re)load the options;
    None unregisters it (tests)."""
    global _loader, _snapshot
    _loader, _snapshot = loader, None


def get_options() -> dict[str, Any]:
    """Every current option value by key; raises RuntimeError when no loader is
    registered (billing not installed)."""
    global _snapshot
    (version,) = cachebus.versions("options")
    snapshot = _snapshot
    if snapshot is None or snapshot[0] != version:
        if _loader is None:
            raise RuntimeError("no runtime options loader registered (is billing installed?)")
        snapshot = _snapshot = (version, _loader())
    return snapshot[1]


def get(key: str) -> Any:
    """The current value of option `key`, typed as its spec says; KeyError if unknown."""
    return get_options()[key]
