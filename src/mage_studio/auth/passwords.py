"""Password hashing: argon2id for new hashes; legacy bcrypt `$2y$`/`$2b$` verified."""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

_hasher = PasswordHash((Argon2Hasher(), BcryptHasher()))

# A hash of a random password, verified when the account does not exist so that unknown
# emails take about as long as wrong passwords.
_DUMMY_HASH = _hasher.hash("dummy password used only for timing")

BCRYPT_MAX_BYTES = 72
# Request schemas reject longer passwords with a 422, which bounds hashing time.
MAX_PASSWORD_LENGTH = 4096
MIN_PASSWORD_LENGTH = 8


def _bcrypt_input(password: str) -> bytes:
    # bcrypt only ever used the first 72 bytes (PHP's password_hash included), and
    # bcrypt 4.1+ raises instead of truncating. Cutting the bytes, not the
    # characters, matches the old hashes even inside a multi-byte character.
    return password.encode()[:BCRYPT_MAX_BYTES]


def hash_password(password: str) -> str:
    """Return an argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Check `password`; return (valid, new hash when the stored one is outdated).

    A bcrypt hash that matches comes back with an argon2id replacement to store.
    """
    if not hashed:
        burn_verification_time(password)
        return False, None
    try:
        if hashed.startswith("$2"):
            # PHP's `$2y$` is the same algorithm as `$2b$`.
            legacy = "$2b$" + hashed[4:] if hashed.startswith("$2y$") else hashed
            valid = _hasher.verify(_bcrypt_input(password), legacy)
            return valid, hash_password(password) if valid else None
        return _hasher.verify_and_update(password, hashed)
    except PwdlibError:
        # An unknown or damaged hash matches no password.
        return False, None


def burn_verification_time(password: str) -> None:
    """Spend the time of one verification (for unknown accounts)."""
    _hasher.verify(password, _DUMMY_HASH)
