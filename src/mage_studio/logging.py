"""structlog configuration: console lines in development, JSON in production."""

from __future__ import annotations

import logging
import re
import sys
from logging.handlers import RotatingFileHandler
from typing import Any

import structlog

from mage_studio.config import Environment, Settings

LOG_FILE_NAME = "mage-studio.log"

_SECRET_KEYS = {"password", "token", "access_token", "refresh_token", "secret", "hash"}
_TOKEN_IN_QUERY = re.compile(
    r"([?&](?:token|access_token|signature|X-Amz-Signature|X-Amz-Credential)=)[^&\s]+",
    re.IGNORECASE,
)


def redact_query(text: str) -> str:
    """Replace tokens and URL signatures in a query with a marker before logging."""
    return _TOKEN_IN_QUERY.sub(r"\1[redacted]", text)


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "[redacted]"
        elif isinstance(event[key], str) and "=" in event[key]:
            event[key] = redact_query(event[key])
    return event


def configure_logging(settings: Settings) -> None:
    """Route stdlib and structlog records through one renderer."""
    level = logging.getLevelName(settings.log_level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any
    if settings.json_logs:
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        # structlog 25.5 formats exceptions with rich by default, printing the local
        # variables of every frame. That writes secrets such as the JWT secret into
        # the log, and rendering a deep ASGI stack blocks the event loop meanwhile.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.plain_traceback,
        )

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    if settings.env is not Environment.TEST:
        settings.log_path.mkdir(parents=True, exist_ok=True)
        file_handler = RotatingFileHandler(
            settings.log_path / LOG_FILE_NAME, maxBytes=20 * 1024 * 1024, backupCount=3
        )
        file_handler.setFormatter(formatter)
        root.handlers.append(file_handler)
    root.setLevel(level)
    # uvicorn's access log repeats what the request middleware logs.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
