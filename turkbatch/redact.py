"""
Redaction: what of an error message must never be written anywhere.

An endpoint's error may quote the request it refused: a canonical request with its
``x-amz-security-token:`` line, ``Credential=AKIA.../...``, ``Signature=...``, the
``Authorization`` header. :func:`scrub` removes them (and any literal credential it is
given) where errors are translated (:mod:`turkbatch.client`), before a message can reach
the journal, a report, ``status`` or the logs.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MAX_MESSAGE", "REDACTED", "scrub"]

#: What :func:`scrub` removes. Each pattern's first group, if any, is kept.
_SECRETS = (
    # An Authorization header, in any spelling: everything after it on its line.
    re.compile(r"(?i)(authorization\s*[:=]\s*)[^\r\n]+"),
    # A session token: canonical headers (x-amz-security-token:...), query strings
    # (X-Amz-Security-Token=...), JSON or headers ("X-Amz-Security-Token": "...").
    re.compile(r"(?i)(x-amz-security-token[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;]+"),
    re.compile(r"(?i)(aws_session_token[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;]+"),
    re.compile(r"(?i)(aws_secret_access_key[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;]+"),
    # SigV4 pieces: Credential=AKIA.../date/region/service/aws4_request, Signature=hex,
    # and their query forms (X-Amz-Credential=, X-Amz-Signature=).
    re.compile(r"(?i)((?:x-amz-)?credential\s*[:=]\s*)[^\s\"'&,;]+"),
    re.compile(r"(?i)((?:x-amz-)?signature\s*[:=]\s*)[^\s\"'&,;]+"),
    # Access key ids wherever they stand (long-term AKIA, temporary ASIA, and the rest).
    re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|ABIA|ACCA)[A-Z0-9]{12,}\b"),
)
REDACTED: Final = "<redacted>"
#: Longest message kept: an endpoint may answer with a whole page.
MAX_MESSAGE: Final = 2000


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """
    Return ``text`` without credentials, session tokens, signatures or authorization headers.

    Args:
        text: an error message, possibly quoting the request (a canonical request, say).
        secrets: literal values to remove as well (the client's own key, secret, token).
    """
    for secret in secrets:
        if len(secret) >= 8:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: (m.group(1) if m.re.groups else "") + REDACTED, text)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + "…"
    return text
