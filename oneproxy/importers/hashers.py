"""Verify passwords imported from One API / New API, which store raw bcrypt hashes
(`$2a$10$...`, Go's golang.org/x/crypto/bcrypt). Stored here as `oneapi_bcrypt$<hash>`;
Django re-hashes with its default hasher after the first successful login."""

import re

import bcrypt
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare

ALGORITHM = "oneapi_bcrypt"
BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$")


def is_bcrypt_hash(value: str) -> bool:
    return bool(BCRYPT_HASH.match(value or ""))


def encode_imported(raw_hash: str) -> str:
    """The Django password field value for a One API bcrypt hash; raises ValueError if
    `raw_hash` is not one."""
    if not is_bcrypt_hash(raw_hash):
        raise ValueError("not a bcrypt hash")
    return f"{ALGORITHM}${raw_hash}"


class OneAPIBcryptPasswordHasher(BasePasswordHasher):
    """Verify-only: never used to hash new passwords (it is not first in the list)."""

    algorithm = ALGORITHM

    def salt(self):
        return bcrypt.gensalt().decode()

    def encode(self, password, salt):
        return f"{ALGORITHM}${bcrypt.hashpw(password.encode(), salt.encode()).decode()}"

    def verify(self, password, encoded):
        algorithm, _sep, raw = encoded.partition("$")
        if algorithm != ALGORITHM or not is_bcrypt_hash(raw):
            return False
        try:
            candidate = bcrypt.hashpw(password.encode(), raw.encode())
        except ValueError:  # bcrypt refuses passwords over 72 bytes; Go did too
            return False
        return constant_time_compare(candidate, raw.encode())

    def decode(self, encoded):
        _algorithm, _sep, raw = encoded.partition("$")
        return {"algorithm": ALGORITHM, "hash": raw, "salt": raw[:29]}

    def safe_summary(self, encoded):
        decoded = self.decode(encoded)
        return {"algorithm": ALGORITHM, "hash": mask_hash(decoded["hash"])}

    def must_update(self, encoded):
        return True

    def harden_runtime(self, password, encoded):
        pass
