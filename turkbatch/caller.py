"""
turkbatch's one retry layer: every MTurk call the engine makes goes through :class:`Caller`.

Throttling → retried without limit while the adaptive limiter slows down; transient
errors (5xx, ServiceFault, connection errors, timeouts, lost responses) → retried with
capped exponential backoff and jitter, up to ``max_attempts``; everything else → raised
to the caller as classified by :func:`turkbatch.client.classify`. botocore's own retries
are off, so nothing else retries anything.

The Caller owns no run state: it reports each request and retry to a :class:`Tally`
(the run's books, or any object with those two counts), as httpx's send path leaves the
run's business to its caller.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

import anyio
import structlog

from turkbatch import money
from turkbatch.backoff import DEFAULT_MAX_ATTEMPTS, Backoff
from turkbatch.client import MTurkClient, Response
from turkbatch.errors import OperationError, SettingError, Throttled, TransientError
from turkbatch.limits import AdaptiveLimiter

log = structlog.get_logger()


class Tally(Protocol):
    """What the retry layer reports: each request made, and each one that is a retry."""

    requests: int
    retries: int


class _Uncounted:
    """The tally of calls nobody counts (a plan's balance lookup, say)."""

    __slots__ = ("requests", "retries")

    def __init__(self) -> None:
        self.requests = self.retries = 0


class Caller:
    """
    turkbatch's one retry layer: every MTurk call goes through :meth:`request`.

    Args:
        client: the MTurk client (one request each call of ``client.call``).
        tally: told of each request and each retry (the run's books); none: uncounted.
        rate: the pacing ceiling, in requests per second.
        backoff: the delays between attempts.
        max_attempts: attempts at a transient failure before it is raised.
    """

    def __init__(
        self,
        client: MTurkClient,
        tally: Tally | None = None,
        *,
        rate: float,
        backoff: Backoff,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self.client = client
        self.tally: Tally = _Uncounted() if tally is None else tally
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.limiter = AdaptiveLimiter(rate)
        # Bound once, with the logging configuration in force now: a per-request debug
        # call is then a no-op method, not a logger rebuilt from the lazy proxy each time.
        self.log: structlog.typing.FilteringBoundLogger = log.bind()

    async def request(
        self, op: str, params: Mapping[str, Any], *, key: str | None = None
    ) -> Response:
        """
        Call MTurk through the limiter: turkbatch's one retry layer.

        Throttling is retried without limit, slowing the limiter; transient errors are
        retried with capped exponential backoff and jitter, up to ``max_attempts``.

        Raises:
            OperationError: ``AlreadyDone``, ``PermanentError``, or the last
                ``TransientError`` once attempts are exhausted.
        """
        attempt = tries = 0
        tally = self.tally
        while True:
            await self.limiter.acquire()
            tally.requests += 1
            tries += 1
            try:
                response = await self._send(op, params, key, tries)
            except Throttled:
                self.limiter.on_throttle()
                tally.retries += 1
                await anyio.sleep(self.backoff.delay(1))
                continue
            except TransientError as exc:
                self.limiter.on_error()
                attempt += 1
                if attempt >= self.max_attempts:
                    raise
                tally.retries += 1
                self.log.debug(
                    "op.retry_scheduled", op=op, key=key, attempt=attempt, error=exc.code
                )
                await anyio.sleep(self.backoff.delay(attempt))
                continue
            except SettingError as exc:
                exc.maybe_sent = attempt > 0  # an earlier attempt may have reached MTurk
                raise
            except OperationError:
                self.limiter.on_success()
                raise
            self.limiter.on_success()
            return response

    async def _send(
        self, op: str, params: Mapping[str, Any], key: str | None, attempt: int
    ) -> Response:
        """Make one request; at debug level, log what came of it (never its headers)."""
        started = time.monotonic()
        try:
            response = await self.client.call(op, params)
        except OperationError as exc:
            ms = round((time.monotonic() - started) * 1000, 1)
            self.log.debug(
                "request.error",
                op=op,
                key=key,
                attempt=attempt,
                code=exc.code,
                request_id=exc.request_id,
                ms=ms,
            )
            raise
        ms = round((time.monotonic() - started) * 1000, 1)
        self.log.debug(
            "request.ok", op=op, key=key, attempt=attempt, request_id=response.request_id, ms=ms
        )
        return response

    async def body(self, op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Call through :meth:`request` and return just the response body."""
        return (await self.request(op, params)).body

    async def balance(self) -> Decimal:
        """Return the account's available balance (GetAccountBalance)."""
        body = (await self.request("GetAccountBalance", {})).body
        return money.parse(body.get("AvailableBalance", "0"))
