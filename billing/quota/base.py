"""Types shared by the quota backends."""

from dataclasses import dataclass, field


class InsufficientQuota(Exception):
    """The token's or the user's remaining quota is below the amount asked for."""

    def __init__(self, scope: str, remaining: int):
        super().__init__(f"insufficient {scope} quota (remaining {remaining})")
        self.scope = scope  # "token" or "user"
        self.remaining = remaining


class QuotaUnavailable(Exception):
    """The live balance could not be seeded (the counters kept moving); retryable."""


class NeedSeed(Exception):
    """Raised by a backend when a live balance is missing; carries the (kind, id) keys."""

    def __init__(self, keys: list[tuple[str, int]]):
        super().__init__(keys)
        self.keys = keys


@dataclass(frozen=True, slots=True)
class Reservation:
    token_id: int
    user_id: int
    amount: int
    unlimited_token: bool
    # Its entry in the Redis journal of open reservations (a handle, not part of its value).
    id: str = field(default="", compare=False)


@dataclass(slots=True)
class Pending:
    """Counters ("<kind>:<id>" -> delta, or epoch ms for last-used fields) and log entries
    (b"<charged quota>\\t<json row>") waiting for the flush."""

    counters: dict
    logs: list

    @classmethod
    def empty(cls) -> "Pending":
        return cls({}, [])

    def is_empty(self) -> bool:
        return not self.counters and not self.logs
