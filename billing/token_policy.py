"""Which token fields are the owner's choice and which are an operator's ceilings.

One rule, used by the admin form (billing/forms.py) and the API (TokenSerializer):

- An operator (admin or root) who edits or creates a token that someone else owns sets
  ceilings: every limit field it sets to a limiting value becomes that field's ceiling,
  stored in `Token.ceilings`; a limit field it sets to "no limit" loses its ceiling. So an
  operator may always loosen or clear what it set.
- The owner may change a field that has a ceiling only to a value no looser than it
  (`loosened` says which fields an edit would loosen, with the message for each).
- Fields without a ceiling, and the tokens users create themselves, are the owner's own.

The relay never reads `ceilings`: it enforces the token's own fields, which this rule
keeps within them.
"""

import datetime
import ipaddress
from collections.abc import Iterable, Mapping

from django.utils.translation import gettext as _

from .models import Token, TokenStatus

COUNT_LIMITS = ("rpm_limit", "tpm_limit", "max_concurrency")
LIMIT_FIELDS = (
    "status", "expires_at", "remain_quota", "unlimited_quota", "allowed_models", "subnets",
    *COUNT_LIMITS,
)  # fmt: skip
# The ceiling each limit field is checked against: both quota fields share one cap.
CEILING_OF = {name: name for name in LIMIT_FIELDS} | {"unlimited_quota": "remain_quota"}


def sets_ceilings(editor, owner_id: int | None) -> bool:
    """True when `editor`'s edits of a token owned by `owner_id` set its ceilings: an
    active admin or root who is not the owner."""
    is_operator = bool(editor and editor.is_authenticated and editor.is_active
                       and getattr(editor, "is_admin", False))
    return is_operator and editor.pk != owner_id


def current_values(token: Token | None) -> dict:
    """The limit fields of `token` (model defaults for a token not created yet)."""
    if token is None:
        token = Token()
    return {name: getattr(token, name) for name in LIMIT_FIELDS}


def ceilings_after(ceilings: Mapping, values: Mapping, changed: Iterable[str]) -> dict:
    """The ceilings once an operator has set the `changed` fields, `values` holding every
    limit field's new value. Fields not changed keep their ceiling."""
    result = dict(ceilings or {})
    for key in {CEILING_OF[name] for name in changed if name in CEILING_OF}:
        ceiling = _ceiling(key, values)
        if ceiling is None:
            result.pop(key, None)
        else:
            result[key] = ceiling
    return result


def _ceiling(key: str, values: Mapping):
    """The ceiling set by `values` for `key` (JSON-ready), or None when it sets no limit."""
    value = values[key]
    if key == "remain_quota":
        return None if values["unlimited_quota"] else value
    if key == "expires_at":
        return value.isoformat() if value else None
    if key == "status":
        return value if value != TokenStatus.ENABLED else None
    if key in ("allowed_models", "subnets"):
        return list(value) or None
    return value or None  # counts: 0 means no limit


def loosened(token: Token, changes: Mapping) -> dict[str, str]:
    """For the owner setting `changes` (field -> new value) on `token`: a message per
    field whose new value is looser than its ceiling. Empty when every change is allowed."""
    errors = {}
    for name, value in changes.items():
        key = CEILING_OF.get(name)
        if key in (token.ceilings or {}) and not _within(name, value, token, token.ceilings[key]):
            errors[name] = _message(name, token.ceilings[key])
    return errors


def rules(token: Token) -> dict[str, str]:
    """What the owner may set, per limit field that has a ceiling (for help texts)."""
    ceilings = token.ceilings or {}
    return {name: _message(name, ceilings[key]) for name, key in CEILING_OF.items()
            if key in ceilings}


def _within(name: str, value, token: Token, ceiling) -> bool:
    if name in COUNT_LIMITS:
        return 1 <= value <= ceiling
    if name == "expires_at":
        return value is not None and value <= datetime.datetime.fromisoformat(ceiling)
    if name == "allowed_models":
        return bool(value) and set(value) <= set(ceiling)
    if name == "subnets":
        return bool(value) and all(_inside(entry, ceiling) for entry in value)
    if name == "status":
        return value != TokenStatus.ENABLED
    if name == "unlimited_quota":
        return not value
    return value <= token.remain_quota  # remain_quota: lowered, never raised


def _inside(entry: str, ceiling: list) -> bool:
    network = ipaddress.ip_network(str(entry).strip(), strict=False)
    for allowed in ceiling:
        outer = ipaddress.ip_network(str(allowed).strip(), strict=False)
        if outer.version == network.version and network.subnet_of(outer):
            return True
    return False


def _message(name: str, ceiling) -> str:
    if name in COUNT_LIMITS:
        return _("An operator set this limit to %(ceiling)s: choose from 1 to %(ceiling)s.") % {
            "ceiling": ceiling}
    shown = ", ".join(ceiling) if isinstance(ceiling, list) else ceiling
    messages = {
        "expires_at": _("An operator set this token to expire at %(ceiling)s: choose that "
                        "time or earlier."),
        "allowed_models": _("An operator limited this token to %(ceiling)s: choose some of "
                            "those models."),
        "subnets": _("An operator limited this token to %(ceiling)s: choose addresses "
                     "inside those networks."),
        "status": _("An operator set this token to %(ceiling)s; only an operator can "
                    "enable it."),
        "unlimited_quota": _("An operator capped this token's quota: it cannot be unlimited."),
        "remain_quota": _("An operator capped this token's quota: you may lower it, not "
                          "raise it."),
    }
    return messages[name] % {"ceiling": shown}
