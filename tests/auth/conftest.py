from tests.auth.fixtures import (  # noqa: F401
    cheap_argon2,
    mailbox,
    oauth_provider,
    redis_url,
    settings,
    smtp_server,
)
