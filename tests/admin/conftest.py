from tests.auth.fixtures import (  # noqa: F401
    cheap_argon2,
    mailbox,
    redis_url,
    settings,
    smtp_server,
)
