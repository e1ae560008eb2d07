from .access import AccessToken
from .accounts import Group, User, UserRole, UserStatus, default_group_id
from .flush import FlushBatch
from .imports import ImportedRecord
from .ledger import Log, LogType, Redemption, RedemptionStatus
from .options import Option
from .prices import Price
from .quota_range import QUOTA_MAX, validate_quota_amount
from .tokens import Token, TokenStatus
from .usage import DailyUsage

__all__ = [
    "AccessToken",
    "DailyUsage",
    "FlushBatch",
    "Group",
    "ImportedRecord",
    "Log",
    "LogType",
    "Option",
    "Price",
    "QUOTA_MAX",
    "Redemption",
    "RedemptionStatus",
    "Token",
    "TokenStatus",
    "User",
    "UserRole",
    "UserStatus",
    "default_group_id",
    "validate_quota_amount",
]
