"""Runtime options: the known keys with their types and defaults, and their loading.

Rows in the Option table override defaults. Readers use core.options (a plain dict
snapshot rebuilt only when the "options" cache topic moves on, never per request), for
which `load_all` is registered as the loader when billing's app is ready.
"""

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class OptionSpec:
    key: str
    type: type
    default: Any
    help: str
    quota: bool = False  # an amount of quota units: 0..QUOTA_MAX


OPTION_SPECS = {
    spec.key: spec
    for spec in [
        OptionSpec("retry_times", int, 2, _("Extra attempts on other channels after a failure.")),
        OptionSpec("quota_for_new_user", int, 0, _("Quota given to each new user."), True),
        OptionSpec("log_retention_days", int, 90, _("Delete raw logs older than this.")),
        OptionSpec("display_in_usd", bool, True, _("Show quota as USD beside quota units.")),
        OptionSpec(
            "auto_disable_enabled",
            bool,
            True,
            _("Disable keys that upstream reports as invalid or out of credit."),
        ),
        OptionSpec(
            "auto_enable_enabled",
            bool,
            True,
            _("Re-enable auto-disabled channels that pass a test."),
        ),
        OptionSpec(
            "auto_disable_error_rate",
            float,
            0.5,
            _("Error rate over the window that cools a channel down."),
        ),
        OptionSpec(
            "auto_disable_min_requests",
            int,
            10,
            _("Requests in the window before the error rate counts."),
        ),
        OptionSpec(
            "channel_disable_latency_ms",
            int,
            0,
            _("A test slower than this disables the channel (0 = never)."),
        ),
        OptionSpec(
            "default_price_enabled",
            bool,
            False,
            _("Charge models with no price row at the default price."),
        ),
        OptionSpec("default_input_price", str, "2", _("Default input USD per 1M tokens.")),
        OptionSpec("default_output_price", str, "8", _("Default output USD per 1M tokens.")),
        OptionSpec(
            "pre_consume_tokens",
            int,
            500,
            _("Tokens added to the estimate pre-charged before a request."),
        ),
        OptionSpec("test_prompt", str, "Say OK.", _("Prompt used by channel tests.")),
    ]
}


def coerce(key: str, value: Any) -> Any:
    """Convert `value` to the option's type; raises ValueError on a bad value (a quota
    option outside 0..QUOTA_MAX among them)."""
    spec = OPTION_SPECS[key]
    if spec.type is bool and isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return check_range(key, spec.type(value))


def check_range(key: str, value: Any) -> Any:
    """`value` unchanged when it is in range for option `key`; raises ValueError (with
    a message fit for the operator) when a quota option is outside 0..QUOTA_MAX."""
    from .models.quota_range import QUOTA_MAX

    if OPTION_SPECS[key].quota and not 0 <= value <= QUOTA_MAX:
        raise ValueError(_("Enter a whole number of quota units from 0 to %(max)d.")
                         % {"max": QUOTA_MAX})
    return value


def load_all() -> dict:
    """Defaults overlaid with stored rows (bad stored values fall back to the default)."""
    from .models import Option

    values = {key: spec.default for key, spec in OPTION_SPECS.items()}
    for row in Option.objects.filter(key__in=OPTION_SPECS):
        try:
            values[row.key] = coerce(row.key, row.value)
        except (TypeError, ValueError):
            continue
    return values

