"""Signals that let one layer tell another what happened without importing it.

Defined here, on the ground floor, so both the sender and the receiver import only
`core`: the relay (which owns health and cooling) sends `key_rejected` and
`cooling_changed`, and channels_app (which owns keys, channels, log rows and the
operator's notifications) receives them in receivers connected at its app start.
channels_app sends `channel_passed_test`, and the relay ends any cooling period.

Each signal is sent with keyword arguments only, all plain values (ids, strings), so a
receiver never needs a type from the sender's layer. Sent synchronously: call `send`
from sync code (the relay wraps it in `sync_to_async`), never on a request's success path.
"""

from django.dispatch import Signal

# Upstream called a key invalid, deactivated or out of credit.
# Kwargs: key_id (int), reason (str). A receiver returns True when the key is now out of
# service, False when it kept it (option auto_disable_enabled off, key gone).
key_rejected = Signal()

# A cooling period began or ended. Kwargs: channel_id (int), model (str, "" for the whole
# channel), reason (str), started (bool). Receivers log and notify; return values unused.
cooling_changed = Signal()

# A channel test passed for `model`. Kwargs: channel_id (int), model (str).
# The owner of cooling ends the cooling of the channel and of that model on it.
channel_passed_test = Signal()


def any_true(responses: list[tuple[object, object]]) -> bool:
    """Whether some receiver of a `send` answered True (e.g. took a key out of service)."""
    return any(response is True for _, response in responses)
