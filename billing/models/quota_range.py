"""The range every quota amount and balance must stay in.

The columns are BigIntegerField (up to 2^63 - 1), but a balance also lives in Redis,
where the quota scripts compute in Lua numbers (doubles, exact only up to 2^53), and
in JSON read by browsers (JavaScript numbers, same limit). So the one ceiling is
2^53 - 1: about 18 billion US dollars at the default 500,000 units per dollar.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

QUOTA_MAX = 2**53 - 1


def validate_quota_amount(value: int) -> None:
    """Raise ValidationError unless `value` is an integer in 0..QUOTA_MAX."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= QUOTA_MAX:
        raise ValidationError(
            _("Enter a whole number of quota units from 0 to %(max)d."),
            code="quota_range",
            params={"max": QUOTA_MAX},
        )


def fits_balance(balance: int, amount: int) -> bool:
    """True when adding `amount` to `balance` stays within QUOTA_MAX."""
    return balance + amount <= QUOTA_MAX


# For model fields: a MaxValueValidator is what DRF and model forms turn into max_value.
quota_max_validator = MaxValueValidator(QUOTA_MAX)
