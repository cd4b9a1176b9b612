"""Password hashing: argon2id for new hashes; legacy bcrypt `$2y$`/`$2b$` verified."""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

_hasher = PasswordHash((Argon2Hasher(), BcryptHasher()))

# A hash of a random password, verified when the account does not exist so that unknown
# emails take about as long as wrong passwords.
_DUMMY_HASH = _hasher.hash("dummy password used only for timing")

BCRYPT_MAX_BYTES = 72


def _legacy_bcrypt_input(password: str, hashed: str) -> str:
    # bcrypt only ever used the first 72 bytes; newer libraries raise instead of
    # truncating, so truncate the way the old system's hasher did.
    encoded = password.encode()
    if hashed.startswith("$2") and len(encoded) > BCRYPT_MAX_BYTES:
        return encoded[:BCRYPT_MAX_BYTES].decode("utf-8", errors="ignore")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Check `password`; return (valid, new hash when the stored one is outdated)."""
    if not hashed:
        _hasher.verify(password, _DUMMY_HASH)
        return False, None
    if hashed.startswith("$2y$"):
        # PHP's `$2y$` is the same algorithm as `$2b$`.
        hashed = "$2b$" + hashed[4:]
    try:
        valid, updated = _hasher.verify_and_update(
            _legacy_bcrypt_input(password, hashed), hashed
        )
    except Exception:
        return False, None
    if valid and hashed.startswith("$2"):
        updated = hash_password(password)
    return valid, updated


def burn_verification_time(password: str) -> None:
    """Spend the time of one verification (for unknown accounts)."""
    _hasher.verify(password, _DUMMY_HASH)
