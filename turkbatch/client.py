"""
The one place that knows botocore: the MTurk client, and what its errors mean.

Everything the engine needs from MTurk goes through :class:`MTurkClient.call`, which
returns the decoded response or raises one :class:`~turkbatch.errors.OperationError`
subclass chosen by :func:`classify`. botocore's own retries are off
(``total_max_attempts=1``): turkbatch has exactly one retry layer, in the engine.

Classification (match MTurk messages by substring, never equality)::

    ThrottlingException & co., HTTP 429        → Throttled       (retry, slow down)
    ServiceFault, any 5xx, empty 5xx body       → TransientError  (retry with backoff)
    connection refused/reset/closed, timeouts   → TransientError  (includes lost responses)
    token "has already been processed",
      HIT "already exists"                      → AlreadyDone     (it happened earlier)
    "can be called with a status of",
      request already handled, qual already
      revoked or absent, HIT already 'Disposed' → AlreadyDone     (engine confirms where
                                                                   the state is ambiguous)
    anything else (RequestError, ValidationException,
      ParameterValidationError, auth errors)    → PermanentError
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiohttp
import botocore.exceptions as bce
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore import xform_name

from turkbatch.errors import (
    AlreadyDone,
    OperationError,
    PermanentError,
    Throttled,
    TransientError,
    UsageError,
)

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

#: Substrings of MTurk messages meaning "this was already done".
_ALREADY_PROCESSED = ("has already been processed",)
_ALREADY_EXISTS_CODES = frozenset({"AWS.MechanicalTurk.HitAlreadyExists"})
_STATE_MESSAGE = "can be called with a status of"
_ALREADY_BY_OP: Mapping[str, tuple[str, ...]] = {
    # The assignment was already approved or rejected: the engine confirms which.
    "ApproveAssignment": (_STATE_MESSAGE,),
    "RejectAssignment": (_STATE_MESSAGE,),
    # A request already accepted or rejected is no longer Pending. (An unknown request id is
    # "does not exist": a mistake worth failing loudly, not a success.)
    "AcceptQualificationRequest": ("InvalidQualificationRequestState",),
    "RejectQualificationRequest": ("InvalidQualificationRequestState",),
    # Revoking what is revoked or was never granted leaves the worker without it.
    "DisassociateQualificationFromWorker": (_STATE_MESSAGE, "QualificationDoesNotExist"),
    "DeleteHIT": ("currently in the state 'Disposed'",),
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
    #: explicit credentials (the embedded simulator's); otherwise botocore's chain
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)

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


def classify(operation: str, exc: BaseException) -> OperationError:
    """
    Translate any exception raised by a call into turkbatch's error tree.

    Args:
        operation: the MTurk operation that raised.
        exc: what botocore, aiobotocore or aiohttp raised.

    Returns:
        The classified error; the caller raises it ``from exc``.
    """
    if isinstance(exc, OperationError):
        return exc
    if isinstance(exc, bce.ClientError):
        code, message, turk_code, request_id, status = _error_fields(exc)
        fields: dict[str, Any] = {
            "code": code,
            "turk_code": turk_code,
            "request_id": request_id,
            "status": status,
        }
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
        return PermanentError(str(exc), code=type(exc).__name__)
    if isinstance(exc, bce.SSLError):
        # A certificate or TLS failure will not heal by itself; fail loudly instead.
        return PermanentError(str(exc), code="SSLError")
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

    async def __aenter__(self) -> Self:
        s = self.settings
        try:
            session = self._session = AioSession(profile=s.profile)
        except bce.ProfileNotFound as exc:
            raise UsageError(f"AWS profile not found: {s.profile}") from exc
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
            raise UsageError(f"AWS profile not found: {s.profile}") from exc
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
        except bce.BotoCoreError as exc:
            raise UsageError(f"cannot load AWS credentials: {exc}") from exc
        if credentials is None:
            raise UsageError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "use --profile, or try --sim"
            )

    async def call(self, operation: str, params: Mapping[str, Any]) -> Response:
        """
        Call one MTurk operation.

        Raises:
            OperationError: a classified failure (see :func:`classify`).
        """
        method = self._methods.get(operation)
        if method is None:
            method = self._methods[operation] = getattr(self._client, xform_name(operation))
        try:
            body = await method(**params)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise classify(operation, exc) from exc
        meta = body.pop("ResponseMetadata", None) or {}
        return Response(body=body, request_id=meta.get("RequestId"))
