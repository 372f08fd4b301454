"""structlog configuration, done once by the CLI: readable on a terminal, JSON for machines."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog

#: Event keys whose values are never written anywhere, whatever logs them.
SECRET_KEYS = frozenset(
    {
        "aws_secret_access_key",
        "secret_key",
        "aws_session_token",
        "session_token",
        "authorization",
        "signature",
        "credentials",
    }
)


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in SECRET_KEYS.intersection(event):
        event[key] = "[redacted]"
    return event


def _dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def configure(*, level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """
    Configure structlog for the process.

    Args:
        level: ``debug``, ``info`` or ``warning``.
        fmt: ``console`` (colours on a terminal), ``json`` (one object per line), or
            ``auto`` (console on a terminal, JSON otherwise).
        stream: where log lines go (default standard error, keeping stdout for results).
    """
    out = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if out.isatty() else "json"
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
