"""
The one place that knows botocore: the MTurk client, and what its errors mean.

Everything the engine needs from MTurk goes through :class:`MTurkClient.call`, which
returns the decoded response or raises one :class:`~turkbatch.errors.OperationError`
subclass chosen by :func:`classify`. botocore's own retries are off
(``total_max_attempts=1``): turkbatch has exactly one retry layer, in the engine.

Classification (match MTurk messages by substring, never equality)::

    ThrottlingException & co., HTTP 429        → Throttled       (retry, slow down)
    ServiceFault, any 5xx, empty 5xx body       → TransientError  (retry with backoff)
    connection refused/reset/closed, timeouts   → TransientError  (includes lost responses;
      (once the endpoint has answered)                             refused: an outage)
    token "has already been processed",
      HIT "already exists"                      → AlreadyDone     (it happened earlier)
    "can be called with a status of",
      request already handled, qual already
      revoked or absent, HIT already 'Disposed' → AlreadyDone     (engine confirms where
                                                                   the state is ambiguous)
    connection refused, unknown host name,
      connect timeout (before the endpoint
      ever answered), TLS failures, no or
      refused credentials (unknown key, bad
      signature, expired token), IAM denial,
      an endpoint that does not speak MTurk
      (a bare HTTP status, a non-JSON 200)      → SettingError    (stop the run: the
                                                                   message names cause and fix)
    anything else (RequestError, ValidationException,
      ParameterValidationError)                 → PermanentError

Every message is scrubbed (:func:`turkbatch.redact.scrub`) of credentials, session tokens,
signatures and authorization headers here, before anything can journal, report or log it:
an endpoint's error message may quote the canonical request it refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiohttp
import botocore.exceptions as bce
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore import xform_name

from turkbatch.catalog import TRAITS
from turkbatch.errors import (
    AlreadyDone,
    OperationError,
    PermanentError,
    SettingError,
    Throttled,
    TransientError,
    UsageError,
)
from turkbatch.redact import scrub

SANDBOX_URL = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
PRODUCTION_URL = "https://mturk-requester.us-east-1.amazonaws.com"
DEFAULT_REGION = "us-east-1"

#: botocore's standard-mode throttle codes, plus MTurk's own.
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "ServiceFault",
        "ServiceUnavailable",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)

#: The endpoint refused the credentials or the action: no call can succeed until the
#: setting is fixed. (Codes from AWS's common errors and STS/IAM; matched exactly.)
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "MissingAuthenticationTokenException",
        "MissingAuthenticationToken",
        "IncompleteSignatureException",
        "IncompleteSignature",
    }
)
SIGNATURE_CODES = frozenset(
    {"InvalidSignatureException", "SignatureDoesNotMatch", "RequestExpired", "AuthFailure"}
)
EXPIRED_CODES = frozenset({"ExpiredTokenException", "ExpiredToken"})
DENIED_CODES = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "NotAuthorized"}
)
#: The endpoint answered, but not as an MTurk endpoint: a wrong --endpoint-url.
NOT_MTURK_CODES = frozenset({"UnknownOperationException"})

#: When MTurk's own endpoints closed (both the sandbox and production).
MTURK_CLOSED = "2026-09-30"

#: Substrings of MTurk messages meaning "this was already done".
_ALREADY_PROCESSED = ("has already been processed",)
_ALREADY_EXISTS_CODES = frozenset({"AWS.MechanicalTurk.HitAlreadyExists"})
#: Per operation, what else means "already done" (the catalog's ``already`` trait; an
#: already-reviewed assignment is confirmed by the engine, by its ``done_state``).
_ALREADY_BY_OP: Mapping[str, tuple[str, ...]] = {
    op: t.already for op, t in TRAITS.items() if t.already
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """
    Where and how to reach MTurk.

    ``endpoint_url`` wins over ``production``; with neither, the sandbox is used.
    """

    endpoint_url: str | None = None
    production: bool = False
    region: str = DEFAULT_REGION
    profile: str | None = None
    max_pool_connections: int = 16
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    verify: bool | str | None = None
    #: seconds one attempt may take in all; ``None``: ``connect_timeout + read_timeout``
    #: (the read timeout bounds each wait for a byte, not the whole answer)
    total_timeout: float | None = None
    #: explicit credentials (the embedded simulator's); otherwise botocore's chain
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)

    @property
    def attempt_deadline(self) -> float:
        """Return the seconds one attempt may take, however its bytes trickle in."""
        if self.total_timeout is not None:
            return self.total_timeout
        return self.connect_timeout + self.read_timeout

    @property
    def url(self) -> str:
        """Return the endpoint this client will talk to."""
        if self.endpoint_url:
            return self.endpoint_url
        return PRODUCTION_URL if self.production else SANDBOX_URL


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """A successful call: the output members and the request id."""

    body: Mapping[str, Any]
    request_id: str | None


def _error_fields(exc: bce.ClientError) -> tuple[str, str, str | None, str | None, int | None]:
    response: Mapping[str, Any] = exc.response or {}
    error: Mapping[str, Any] = response.get("Error") or {}
    meta: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "Unknown")
    message = str(error.get("Message") or response.get("Message") or exc)
    turk_code = response.get("TurkErrorCode") or error.get("TurkErrorCode")
    # botocore leaves RequestId empty for an empty 5xx body; the header still has it.
    headers: Mapping[str, Any] = meta.get("HTTPHeaders") or {}
    request_id = meta.get("RequestId") or headers.get("x-amzn-requestid") or None
    status = meta.get("HTTPStatusCode")
    return code, message, turk_code, request_id, status


def classify(
    operation: str,
    exc: BaseException,
    *,
    settings: ClientSettings | None = None,
    reached: bool = True,
    secrets: tuple[str, ...] = (),
) -> OperationError:
    """
    Translate any exception raised by a call into turkbatch's error tree, scrubbed.

    Args:
        operation: the MTurk operation that raised.
        exc: what botocore, aiobotocore or aiohttp raised.
        settings: the client's settings, to name the endpoint and the fix in a
            :class:`~turkbatch.errors.SettingError`.
        reached: whether the endpoint has ever answered this client. Until it has, a
            failure to connect is the setting's (a wrong URL, a closed port); after, it is
            an outage, retried as transient.
        secrets: literal credential values to scrub from the message too.

    Returns:
        The classified error; the caller raises it ``from exc``.
    """
    if isinstance(exc, OperationError):
        return exc
    error = _classify(operation, exc, settings or ClientSettings(), reached)
    error.message = scrub(error.message, secrets)
    error.args = (error.message,)
    return error


def _classify(
    operation: str, exc: BaseException, settings: ClientSettings, reached: bool
) -> OperationError:
    if isinstance(exc, bce.ClientError):
        code, message, turk_code, request_id, status = _error_fields(exc)
        fields: dict[str, Any] = {
            "code": code,
            "turk_code": turk_code,
            "request_id": request_id,
            "status": status,
        }
        refused = _refused_setting(operation, code, message, status, settings)
        if refused is not None:
            return SettingError(refused, **fields)
        if code in THROTTLE_CODES or status == 429:
            return Throttled(message, **fields)
        if code in TRANSIENT_CODES or (status is not None and status >= 500):
            return TransientError(message, **fields)
        if _is_already(operation, message, turk_code):
            return AlreadyDone(message, **fields)
        return PermanentError(message, **fields)
    if isinstance(exc, bce.ParamValidationError):
        return PermanentError(str(exc), code="ParamValidationError")
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        return SettingError(
            f"no usable AWS credentials ({exc}): set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, use --profile, or try --sim",
            code=type(exc).__name__,
        )
    if isinstance(exc, bce.CredentialRetrievalError | bce.TokenRetrievalError):
        return SettingError(
            f"cannot load AWS credentials ({exc}): refresh them (aws sso login, say) or "
            "choose others with --profile",
            code=type(exc).__name__,
        )
    if isinstance(exc, bce.ProfileNotFound):
        return SettingError(_no_profile(exc), code="ProfileNotFound")
    if isinstance(exc, bce.SSLError):
        # A certificate or TLS failure will not heal by itself: the setting is wrong.
        fix = "give the endpoint's CA with --ca-bundle, or --no-verify-ssl for a test endpoint"
        return SettingError(_unreachable(settings, f"TLS failed ({exc}); {fix}"), code="SSLError")
    if not reached:
        cause = _connect_failure(exc)
        if cause is not None:
            return SettingError(_unreachable(settings, cause), code=type(exc).__name__)
    transport = (
        bce.HTTPClientError,
        bce.ConnectionError,
        aiohttp.ClientError,
        TimeoutError,
        ConnectionError,
    )
    if isinstance(exc, transport):
        # The request may or may not have been applied (a lost response): only safe
        # to resend because tokens and "already" errors make every operation idempotent.
        return TransientError(str(exc) or type(exc).__name__, code=type(exc).__name__)
    return PermanentError(f"{type(exc).__name__}: {exc}", code=type(exc).__name__)


def _refused_setting(
    operation: str, code: str, message: str, status: int | None, settings: ClientSettings
) -> str | None:
    """Return the cause and fix when an error response is the setting's, else None."""
    if code in CREDENTIAL_CODES:
        return (
            f"the endpoint refused the credentials ({code}: {message}): check the access "
            "key (AWS_ACCESS_KEY_ID, or --profile) and run again"
        )
    if code in SIGNATURE_CODES:
        return (
            f"the endpoint refused the request's signature ({code}: {message}): check the "
            "secret key (AWS_SECRET_ACCESS_KEY, or --profile) and this machine's clock, "
            "and run again"
        )
    if code in EXPIRED_CODES:
        return (
            f"the credentials have expired ({code}: {message}): refresh them (a new "
            "session token, aws sso login) and run again"
        )
    if code in DENIED_CODES:
        return (
            f"the credentials may not call {operation} ({code}: {message}): allow "
            f"mechanicalturk:{operation} (turkbatch policy JOB prints every action a job "
            "needs) and run again"
        )
    # An AWS error always names its type; a bare HTTP status (a redirect, a web server's
    # 403 or 404 page) is some other server's answer.
    bare = code.isdigit() and status is not None and 300 <= status < 500 and status != 429
    if code in NOT_MTURK_CODES or status in (404, 405) or bare:
        return _not_mturk(settings, f"{code}: {message}")
    return None


def _not_mturk(settings: ClientSettings, what: str) -> str:
    return (
        f"{settings.url} does not answer as an MTurk endpoint ({what[:200]}): check "
        "--endpoint-url (the base URL, with no path; https:// if the server redirects)"
    )


def _connect_failure(exc: BaseException) -> str | None:
    """Say why a connection could not be made, or None if the failure came after one was."""
    if isinstance(exc, bce.ConnectTimeoutError):
        return "no answer to connect (raise --cli-connect-timeout if the network is slow)"
    if isinstance(exc, bce.ProxyConnectionError):
        return f"cannot connect to the proxy ({exc})"
    if not isinstance(exc, bce.EndpointConnectionError):
        return None
    inner = exc.kwargs.get("error")
    # Only a failure to connect proves nothing was sent (aiohttp's connector errors);
    # a reset in the middle of a request is an outage, retried as transient.
    if not isinstance(inner, aiohttp.ClientConnectorError):
        return None
    os_error = inner.os_error
    if isinstance(inner, aiohttp.ClientConnectorDNSError) or isinstance(os_error, socket.gaierror):
        return f"the host name {inner.host} cannot be resolved"
    if isinstance(os_error, ConnectionRefusedError):
        return "connection refused (is the endpoint running, on that port?)"
    return f"cannot connect ({os_error.strerror or os_error})"


def _unreachable(settings: ClientSettings, cause: str) -> str:
    """Name the endpoint, the cause, and the fix (MTurk's own endpoints have closed)."""
    if settings.endpoint_url:
        return f"cannot reach {settings.url}: {cause}; check --endpoint-url and run again"
    which = "production endpoint" if settings.production else "sandbox (the default endpoint)"
    return (
        f"cannot reach MTurk's {which} at {settings.url}: {cause}. MTurk's sandbox and "
        f"production closed on {MTURK_CLOSED}: run against the embedded simulator with "
        "--sim, or give an endpoint that speaks the MTurk API with --endpoint-url URL"
    )


def _no_profile(exc: bce.ProfileNotFound) -> str:
    profile = exc.kwargs.get("profile")
    return (
        f"AWS profile not found: {profile} (from --profile or AWS_PROFILE); "
        "`aws configure list-profiles` lists the ones you have"
    )


def _is_already(operation: str, message: str, turk_code: str | None) -> bool:
    text = f"{message} {turk_code or ''}"
    if any(s in text for s in _ALREADY_PROCESSED) or turk_code in _ALREADY_EXISTS_CODES:
        return True
    return any(s in text for s in _ALREADY_BY_OP.get(operation, ()))


class MTurkClient:
    """
    One aiobotocore MTurk client with a connection pool, as an async context manager.

    Build it inside the running event loop (aiobotocore binds to it).
    """

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._session: AioSession | None = None
        self._methods: dict[str, Any] = {}
        #: whether the endpoint has answered (or at least accepted a connection) yet
        self.reached = False
        self._secrets: tuple[str, ...] = tuple(
            v for v in (settings.access_key, settings.secret_key) if v
        )

    async def __aenter__(self) -> Self:
        s = self.settings
        try:
            session = self._session = AioSession(profile=s.profile)
        except bce.ProfileNotFound as exc:
            raise UsageError(_no_profile(exc)) from exc
        config = AioConfig(
            retries={"total_max_attempts": 1, "mode": "standard"},
            # Every call's parameters are already checked against this same botocore
            # model (turkbatch.schema, for job lines; the engine's own calls are built
            # from checked values), so botocore's per-call check would only repeat it.
            parameter_validation=False,
            max_pool_connections=s.max_pool_connections,
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
        )
        kwargs: dict[str, Any] = {"region_name": s.region, "endpoint_url": s.url, "config": config}
        if s.verify is not None:
            kwargs["verify"] = s.verify
        if s.access_key and s.secret_key:
            kwargs["aws_access_key_id"] = s.access_key
            kwargs["aws_secret_access_key"] = s.secret_key
        try:
            self._client = await self._stack.enter_async_context(
                session.create_client("mturk", **kwargs)
            )
        except bce.ProfileNotFound as exc:
            raise UsageError(_no_profile(exc)) from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def check_credentials(self) -> None:
        """Raise :class:`UsageError` now if no credentials can be found."""
        if self.settings.access_key:
            return
        assert self._session is not None
        try:
            credentials = await self._session.get_credentials()
        except bce.ProfileNotFound as exc:
            raise UsageError(_no_profile(exc)) from exc
        except bce.BotoCoreError as exc:
            raise UsageError(f"cannot load AWS credentials: {scrub(str(exc))}") from exc
        if credentials is None:
            raise UsageError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "use --profile, or try --sim"
            )
        frozen = await credentials.get_frozen_credentials()
        self._secrets = tuple(v for v in (frozen.access_key, frozen.secret_key, frozen.token) if v)

    async def call(self, operation: str, params: Mapping[str, Any]) -> Response:
        """
        Call one MTurk operation, within :attr:`ClientSettings.attempt_deadline`.

        Raises:
            OperationError: a classified failure (see :func:`classify`), its message scrubbed.
        """
        method = self._methods.get(operation)
        if method is None:
            method = self._methods[operation] = getattr(self._client, xform_name(operation))
        try:
            # asyncio's own timeout: aiobotocore runs on asyncio only, and an anyio cancel
            # scope per call costs several times more (measured)
            async with asyncio.timeout(self.settings.attempt_deadline):
                body = await method(**params)
        except asyncio.CancelledError:
            raise
        except TimeoutError as exc:
            self.reached = True  # (connect timeouts are botocore's, not this one)
            deadline = self.settings.attempt_deadline
            timeout = TransientError(
                f"no complete answer within {deadline:g} s (--cli-connect-timeout plus "
                "--cli-read-timeout)",
                code="AttemptTimeout",
            )
            raise timeout from exc
        except Exception as exc:
            error = classify(
                operation, exc, settings=self.settings, reached=self.reached, secrets=self._secrets
            )
            if not isinstance(error, SettingError) or error.status is not None:
                self.reached = True
            raise error from exc
        self.reached = True
        meta = body.pop("ResponseMetadata", None) or {}
        kind = str((meta.get("HTTPHeaders") or {}).get("content-type", ""))
        if "json" not in kind:
            # MTurk answers in JSON: a web page (a wrong URL) must never read as a success.
            status = meta.get("HTTPStatusCode")
            what = f"HTTP {status} {kind or 'with no content type'}"
            raise SettingError(_not_mturk(self.settings, what), code="NotMTurk", status=status)
        return Response(body=body, request_id=meta.get("RequestId"))
