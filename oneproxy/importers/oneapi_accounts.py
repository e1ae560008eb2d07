"""Users (with their bcrypt passwords), tokens (same `sk-` keys) and redemption codes."""

import ipaddress

from django.utils import timezone

from billing.models import (
    Redemption,
    RedemptionStatus,
    Token,
    TokenStatus,
    User,
    UserRole,
    UserStatus,
)
from billing.models.tokens import KEY_PREFIX, hash_key

from .convert import as_bool, from_unix, split_list
from .hashers import encode_imported, is_bcrypt_hash
from .oneapi_pricing import group_named

ROLES = {0: UserRole.USER, 1: UserRole.USER, 10: UserRole.ADMIN, 100: UserRole.ROOT}
USER_STATUS = {1: UserStatus.ENABLED, 2: UserStatus.DISABLED}
TOKEN_STATUS = {1: TokenStatus.ENABLED, 2: TokenStatus.DISABLED, 3: TokenStatus.EXPIRED,
                4: TokenStatus.EXHAUSTED}
CODE_STATUS = {1: RedemptionStatus.UNUSED, 2: RedemptionStatus.DISABLED,
               3: RedemptionStatus.USED}


def _deleted(row: dict) -> bool:
    return bool(row.get("deleted_at"))  # New API soft deletes


# --- users ---------------------------------------------------------------------------------
def import_users(importer) -> None:
    report = importer.report
    for row in importer.source.rows("users"):
        sid = row["id"]
        username = str(row.get("username") or "").strip()
        if importer.mapped_id("user", sid) is not None:
            report.add("users", "unchanged", sid)
        elif _deleted(row) or int(row.get("status") or 1) == 3:
            report.add("users", "skipped", sid, "deleted in the source")
        elif not username:
            report.add("users", "skipped", sid, "no username")
        elif User.objects.filter(username=username).exists():
            report.add("users", "skipped", sid, "a user with this username already exists")
        else:
            user = _create_user(importer, row, username)
            importer.remember("user", sid, user.pk)
            report.add("users", "imported", sid)


def _create_user(importer, row: dict, username: str) -> User:
    role = int(row.get("role") or 1)
    if role not in ROLES:
        importer.report.note(f"user {username}: unknown role {role}, imported as a user.")
    user = User(
        username=username[:150],
        display_name=str(row.get("display_name") or "")[:64],
        email=str(row.get("email") or "")[:254],
        role=ROLES.get(role, UserRole.USER),
        status=USER_STATUS.get(int(row.get("status") or 1), UserStatus.DISABLED),
        group=group_named(importer, str(row.get("group") or "default")),
        quota=importer.quota(row.get("quota")),
        used_quota=importer.quota(row.get("used_quota")),
        request_count=int(row.get("request_count") or 0),
    )
    password = str(row.get("password") or "")
    if is_bcrypt_hash(password):
        user.password = encode_imported(password)
    else:
        user.set_unusable_password()
        importer.report.add("passwords", "skipped", username,
                            "hash format not verifiable: the user must reset the password")
    user.save()
    return user


# --- tokens --------------------------------------------------------------------------------
def import_tokens(importer) -> None:
    report = importer.report
    for row in importer.source.rows("tokens"):
        sid = row["id"]
        key = str(row.get("key") or "").strip()
        key = key if key.startswith(KEY_PREFIX) else KEY_PREFIX + key
        owner_id = importer.mapped_id("user", row.get("user_id"))
        if importer.mapped_id("token", sid) is not None:
            report.add("tokens", "unchanged", sid)
        elif _deleted(row):
            report.add("tokens", "skipped", sid, "deleted in the source")
        elif key == KEY_PREFIX:
            report.add("tokens", "skipped", sid, "no key")
        elif owner_id is None:
            report.add("tokens", "skipped", sid, "its owner was not imported")
        elif Token.objects.filter(key_hash=hash_key(key)).exists():
            report.add("tokens", "skipped", sid, "this key already exists here")
        else:
            _import_token(importer, row, key, owner_id)


def _import_token(importer, row: dict, key: str, owner_id: int) -> None:
    sid = row["id"]
    subnets = _subnets(row)
    if subnets is None:
        # Dropping an IP restriction would widen access: better not to import the key.
        importer.report.add("tokens", "skipped", sid, "unreadable IP restriction")
        return
    expires = int(row.get("expired_time") or -1)
    token = Token(
        user_id=owner_id,
        name=str(row.get("name") or "imported")[:64],
        status=TOKEN_STATUS.get(int(row.get("status") or 1), TokenStatus.DISABLED),
        expires_at=None if expires == -1 else from_unix(expires),
        remain_quota=importer.quota(row.get("remain_quota")),
        unlimited_quota=as_bool(row.get("unlimited_quota")),
        used_quota=importer.quota(row.get("used_quota")),
        allowed_models=_models(row),
        subnets=subnets,
        created_at=from_unix(row.get("created_time")) or timezone.now(),
        last_used_at=from_unix(row.get("accessed_time")),
    )
    token.set_key(key)  # the client keeps sending the very same sk- key
    token.save()
    importer.remember("token", sid, token.pk)
    importer.report.add("tokens", "imported", sid)


def _models(row: dict) -> list[str]:
    if "model_limits_enabled" in row:  # New API
        return split_list(row.get("model_limits")) if as_bool(row["model_limits_enabled"]) else []
    return split_list(row.get("models"))


def _subnets(row: dict) -> list[str] | None:
    """One API: comma CIDRs in `subnet`; New API: exact IPs in `allow_ips`. None = bad."""
    entries = split_list(row.get("subnet")) + split_list(row.get("allow_ips"), ",\n ")
    try:
        return [str(ipaddress.ip_network(e, strict=False)) for e in dict.fromkeys(entries)]
    except ValueError:
        return None


# --- redemption codes ----------------------------------------------------------------------
def import_redemptions(importer) -> None:
    report = importer.report
    for row in importer.source.rows("redemptions"):
        sid, code = row["id"], str(row.get("key") or "").strip()
        quota = importer.quota(row.get("quota"))
        if importer.mapped_id("redemption", sid) is not None:
            report.add("redemptions", "unchanged", sid)
        elif _deleted(row) or not code:
            report.add("redemptions", "skipped", sid, "deleted or without a code")
        elif quota <= 0:
            report.add("redemptions", "skipped", sid, "worth no quota")
        elif Redemption.objects.filter(code=code).exists():
            report.add("redemptions", "skipped", sid, "this code already exists here")
        else:
            redemption = Redemption.objects.create(
                code=code[:64], name=str(row.get("name") or "")[:64], quota=quota,
                status=CODE_STATUS.get(int(row.get("status") or 1), RedemptionStatus.DISABLED),
                created_by_id=importer.mapped_id("user", row.get("user_id")),
                created_at=from_unix(row.get("created_time")) or timezone.now(),
                redeemed_at=from_unix(row.get("redeemed_time")),
                redeemed_by_id=importer.mapped_id("user", row.get("used_user_id")),
            )
            importer.remember("redemption", sid, redemption.pk)
            report.add("redemptions", "imported", sid)
