"""
structlog configuration, done once by the CLI: readable on a terminal, JSON for machines.

Events go to the console (standard error) and, with ``log_file``, as JSON lines to a file
created with mode 0600 as well. Secrets never reach either: values under secret-looking
keys are replaced, and every string is scrubbed of signatures, credential scopes, session
tokens and access key ids. The standard library loggers of botocore, aiobotocore, urllib3
and aiohttp are held at WARNING (their DEBUG output prints request headers, signatures
included) and pass through the same scrubbing.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO, Any, Final, TextIO

import orjson
import structlog

__all__ = ["LEVELS", "SECRET_KEYS", "configure", "scrub"]

LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

#: Event keys whose values are never written anywhere, whatever logs them.
SECRET_KEYS = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "secret_key",
        "access_key",
        "aws_session_token",
        "session_token",
        "authorization",
        "signature",
        "credentials",
        "x-amz-security-token",
    }
)
#: Third-party loggers that print request headers at DEBUG.
CHATTY: Final = ("botocore", "aiobotocore", "urllib3", "aiohttp", "s3transfer")
REDACTED: Final = "[redacted]"

_SECRET_TEXT: Final = re.compile(
    r"(?i)((?:X-Amz-)?Signature=|Credential=|X-Amz-Security-Token[\"']?[=:]\s*[\"']?|"
    r"Authorization[\"']?[=:]\s*[\"']?|aws_secret_access_key[\"']?[=:]\s*[\"']?|"
    r"aws_session_token[\"']?[=:]\s*[\"']?)[^\s,;\"'&]+"
)
_KEY_ID: Final = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


def scrub(text: str) -> str:
    """Return ``text`` with signatures, credential scopes, tokens and key ids replaced."""
    if "=" not in text and ":" not in text and "AKIA" not in text and "ASIA" not in text:
        return text  # the common case, cheaply
    return _KEY_ID.sub(REDACTED, _SECRET_TEXT.sub(lambda m: m.group(1) + REDACTED, text))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in SECRET_KEYS else _clean(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        event[key] = REDACTED if key.lower() in SECRET_KEYS else _clean(value)
    return event


def _dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


class _Tee:
    """A processor that also writes each event at or above ``level`` to a JSON-lines file."""

    def __init__(self, sink: IO[bytes], level: int) -> None:
        self.sink, self.level = sink, level

    def __call__(self, _: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        if LEVELS.get(method, logging.INFO) >= self.level:
            self.sink.write(orjson.dumps(event, default=str, option=orjson.OPT_APPEND_NEWLINE))
            self.sink.flush()
        return event


class _AtLeast:
    """A processor that drops, for the console only, events below ``level``."""

    def __init__(self, level: int) -> None:
        self.level = level

    def __call__(self, _: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        if LEVELS.get(method, logging.INFO) < self.level:
            raise structlog.DropEvent
        return event


class _ScrubFilter(logging.Filter):
    """Scrub standard-library log records (third-party warnings) like structlog events."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True


_sink: IO[bytes] | None = None  # the open log file, closed when logging is configured again


def _open_log(path: Path) -> IO[bytes]:
    """Open ``path`` for appending, creating it with mode 0600 (an existing file's mode stays)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    return os.fdopen(fd, "ab")


def configure(
    *,
    level: str = "info",
    fmt: str = "auto",
    stream: TextIO | None = None,
    log_file: str | os.PathLike[str] | None = None,
) -> None:
    """
    Configure structlog (and the standard library's root logger) for the process.

    Args:
        level: ``debug``, ``info`` or ``warning``: what the console shows.
        fmt: ``console`` (colours on a terminal), ``json`` (one object per line), or
            ``auto`` (console on a terminal, JSON otherwise).
        stream: where log lines go (default standard error, keeping stdout for results).
        log_file: also write JSON lines here, at ``info`` (``debug`` with ``level``
            ``debug``) whatever the console shows.

    Raises:
        OSError: the log file cannot be opened.
    """
    global _sink
    out = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if out.isatty() else "json"
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    console = LEVELS[level]
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact,
    ]
    floor = console
    if _sink is not None:
        _sink.close()
        _sink = None
    if log_file is not None:
        _sink = _open_log(Path(log_file))
        to_file = min(console, logging.INFO)
        processors.append(_Tee(_sink, to_file))
        floor = to_file
    if floor < console:
        processors.append(_AtLeast(console))
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(floor),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    _quiet_stdlib(out)


def _quiet_stdlib(out: TextIO) -> None:
    """Hold chatty third-party loggers at WARNING and scrub what they still say."""
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ScrubFilter())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """turkbatch's handler on the root logger (one only, however often it is configured)."""
