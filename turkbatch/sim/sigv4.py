"""
AWS Signature Version 4 verification for the simulator's API requests.

The checks follow the SigV4 specification and botocore's signer (``botocore.auth.SigV4Auth``),
and fail the way AWS's JSON services do, in this order:

1. no ``Authorization`` header → ``MissingAuthenticationTokenException``;
2. a header that is not ``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…``,
   or whose SignedHeaders leave out ``host`` → ``IncompleteSignatureException``;
3. a credential scope for another region or service, or whose date is not the
   request's date → ``InvalidSignatureException``;
4. an access key the simulator does not know → ``UnrecognizedClientException``;
5. ``X-Amz-Date`` more than 15 minutes from **real** time → ``InvalidSignatureException``
   "Signature expired" / "Signature not yet current". Real time, not the simulator's
   :class:`~turkbatch.sim.clock.Clock`: tests advance that clock by days, while every
   client signs with the machine's real time;
6. a signature that differs from the one computed with the secret →
   ``InvalidSignatureException``.

All these are HTTP 400 with ``{"__type": "com.amazon.coral.service#<Code>", "message": …}``,
which botocore parses to ``Error.Code == "<Code>"``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote

from multidict import CIMultiDictProxy

from turkbatch.sim.apierror import ApiError

REGION = "us-east-1"
"""The one region MTurk's API is served from."""

SERVICE = "mturk-requester"
"""The SigV4 signing name of the MTurk Requester API."""

MAX_SKEW_SECONDS = 15 * 60
"""How far X-Amz-Date may be from real time, either way."""

ALGORITHM = "AWS4-HMAC-SHA256"
_CORAL = "com.amazon.coral.service#"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def _error(code: str, message: str) -> ApiError:
    return ApiError(_CORAL + code, message, status=400, suffix=False)


def _parse_authorization(header: str) -> dict[str, str] | None:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key] = value
    return parts


@lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_query(query_string: str) -> str:
    """Return the canonical query string: the raw pairs sorted, as botocore signs them."""
    if not query_string:
        return ""
    pairs = sorted(tuple(pair.partition("=")[::2]) for pair in query_string.split("&"))
    return "&".join(f"{key}={value}" for key, value in pairs)


def canonical_request(
    *,
    method: str,
    raw_path: str,
    query_string: str,
    headers: CIMultiDictProxy[str],
    signed_headers: list[str],
    payload_hash: str,
) -> str:
    """Return the SigV4 canonical request for the parts of a received request."""
    lines = [method.upper(), quote(raw_path or "/", safe="/~"), canonical_query(query_string)]
    lines.extend(
        f"{name}:" + ",".join(" ".join(v.split()) for v in headers.getall(name, []))
        for name in signed_headers
    )
    lines.append("")
    lines.append(";".join(signed_headers))
    lines.append(payload_hash)
    return "\n".join(lines)


def _check_date(amz_date: str, now: float) -> ApiError | None:
    try:
        signed = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return _error(
            "IncompleteSignatureException",
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601",
        )

    def fmt(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).strftime(_AMZ_DATE)

    if signed < now - MAX_SKEW_SECONDS:
        return _error(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{fmt(now - MAX_SKEW_SECONDS)} ({fmt(now)} - 15 min.)",
        )
    if signed > now + MAX_SKEW_SECONDS:
        return _error(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than "
            f"{fmt(now + MAX_SKEW_SECONDS)} ({fmt(now)} + 15 min.)",
        )
    return None


def verify(
    *,
    method: str,
    raw_path: str,
    query_string: str,
    headers: CIMultiDictProxy[str],
    body: bytes,
    credentials: Mapping[str, str],
    now: float,
) -> ApiError | None:
    """
    Check a request's SigV4 signature.

    Args:
        method: the HTTP method.
        raw_path: the path as received (still percent-encoded), without the query.
        query_string: the raw query string, without ``?``.
        headers: the request headers.
        body: the request body.
        credentials: access key id → secret access key.
        now: real epoch seconds (not the simulator's clock; see the module docstring).

    Returns:
        ``None`` when the signature is good, else the error to answer with.
    """
    header = headers.get("Authorization")
    if not header:
        return _error("MissingAuthenticationTokenException", "Missing Authentication Token")
    parts = _parse_authorization(header)
    if parts is None:
        return _error(
            "IncompleteSignatureException",
            f"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            f"header, and the algorithm '{ALGORITHM}'. Authorization={header.split(' ')[0]}",
        )
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not parts.get(k)]
    amz_date = headers.get("X-Amz-Date", "")
    if missing or not amz_date:
        needs = [f"Authorization header requires '{k}' parameter." for k in missing]
        if not amz_date:
            needs.append("Authorization header requires existence of a 'X-Amz-Date' header.")
        return _error("IncompleteSignatureException", " ".join(needs))
    signed_headers = parts["SignedHeaders"].split(";")
    if "host" not in signed_headers:
        return _error(
            "IncompleteSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return _error(
            "IncompleteSignatureException",
            "Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{scope[-1]}'.",
        )
    access_key, day, region, service, _ = scope
    if region != REGION:
        return _error(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{region}'. ",
        )
    if service != SERVICE:
        return _error(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'. ",
        )
    if day != amz_date[:8]:
        return _error(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{day}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    secret = credentials.get(access_key)
    if secret is None:
        return _error(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    stale = _check_date(amz_date, now)
    if stale is not None:
        return stale
    body_hash = hashlib.sha256(body).hexdigest()
    declared = headers.get("X-Amz-Content-SHA256")
    if declared is not None and declared != body_hash:
        return _error("InvalidSignatureException", _BAD_SIGNATURE)
    creq = canonical_request(
        method=method,
        raw_path=raw_path,
        query_string=query_string,
        headers=headers,
        signed_headers=signed_headers,
        payload_hash=body_hash,
    )
    string_to_sign = "\n".join(
        (
            ALGORITHM,
            amz_date,
            f"{day}/{region}/{service}/aws4_request",
            hashlib.sha256(creq.encode()).hexdigest(),
        )
    )
    key = _signing_key(secret, day, region, service)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["Signature"]):
        return _error("InvalidSignatureException", _BAD_SIGNATURE)
    return None
