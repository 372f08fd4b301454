"""
The simulator's HTTP server: MTurk's wire protocol in front of a :class:`World`.

Only ``POST /`` is the API. A request goes through, in order: Content-Type
(``application/x-amz-json-1.1``, or 1.0), ``X-Amz-Target`` → operation, body size cap,
SigV4 (only when the simulator has credentials), the fault decision (throttle, 500,
503, latency, lost), JSON parsing, schema validation, and finally ``world.call``. Every
response carries ``Content-Type: application/x-amz-json-1.1`` and a fresh
``x-amzn-RequestId``; error bodies are described in :mod:`turkbatch.sim.wire`. An
unexpected exception in the world is logged and answered with a 500 ``ServiceFault``,
never a traceback. A *lost* request is committed to the world and then its connection is
aborted without a byte of response.

Paths under ``/_turkbatch/`` are the admin API (:mod:`turkbatch.sim.control`); nothing
else is served. The server is aiohttp's low-level :class:`aiohttp.web.Server` (no router,
no middlewares, no access log) because the hot path must outrun any one client process.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import orjson
import structlog
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from turkbatch import schema
from turkbatch.sim import sigv4
from turkbatch.sim.apierror import ApiError
from turkbatch.sim.clock import Clock
from turkbatch.sim.control import ADMIN_PREFIX, Control
from turkbatch.sim.counters import Counters, OpCounts
from turkbatch.sim.faults import Fate, FaultInjector, FaultSettings
from turkbatch.sim.wire import (
    ACCEPTED_CONTENT_TYPES,
    JSON_11,
    TARGET_PREFIX,
    THROTTLED_BODY,
    coral_error,
    error_body,
    service_fault,
    validation_error,
)
from turkbatch.sim.world import World

log = structlog.get_logger()

DEFAULT_MAX_BODY = 1024 * 1024
"""The default cap on a request body, in bytes (1 MiB)."""

SHUTDOWN_TIMEOUT = 2.0
"""Seconds in-flight requests get to finish when the simulator stops (injected latency
is cut short at once; world calls are synchronous, so none is ever left half done)."""


class Simulator:
    """
    The MTurk Requester API on loopback, in the running event loop.

    Use as ``async with Simulator() as sim:`` and point clients at ``sim.endpoint_url``.

    Args:
        world: the state to serve; by default a permissive, empty :class:`World`.
        faults: the faults to inject; by default none.
        credentials: ``(access_key_id, secret_access_key)`` to verify SigV4 signatures
            against; ``None`` accepts any request, signed or not.
        host: the address to bind; only that address is bound.
        port: the port to bind; ``0`` picks a free one.
        clock: the simulated clock; by default the world's clock, else a fresh one.
            A world given with it must use this same clock.
        max_body: the largest request body accepted, in bytes.

    Attributes:
        endpoint_url: ``http://host:port`` once started.
        world: the world served.
        clock: the simulator's clock (shared with the world).
        counters: request counts by operation.
    """

    def __init__(
        self,
        *,
        world: World | None = None,
        faults: FaultSettings | None = None,
        credentials: tuple[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        if world is not None and clock is not None and world.clock is not clock:
            raise ValueError("the simulator and its world must share one Clock")
        if clock is None:
            clock = world.clock if world is not None else Clock()
        self.clock: Clock = clock
        self.world: World = world if world is not None else World(clock=clock)
        self.counters = Counters()
        self.injector = FaultInjector(faults)
        self.host = host
        self.port = port
        self.max_body = max_body
        self.endpoint_url = ""
        self._credentials: Mapping[str, str] | None = (
            {credentials[0]: credentials[1]} if credentials else None
        )
        self._targets = {TARGET_PREFIX + op: op for op in schema.operations()}
        self._control = Control(self)
        self._runner: web.ServerRunner | None = None
        self._delayed: set[asyncio.Task[Any]] = set()

    @property
    def faults(self) -> FaultSettings:
        """The fault settings in force; assign new settings to change them at run time."""
        return self.injector.settings

    @faults.setter
    def faults(self, settings: FaultSettings) -> None:
        self.injector.update(settings)

    @property
    def checks_signatures(self) -> bool:
        """Whether requests must carry a valid SigV4 signature."""
        return self._credentials is not None

    def operations(self) -> tuple[str, ...]:
        """Return the operations served."""
        return tuple(self._targets.values())

    def reset(self, *, faults: bool = False) -> None:
        """
        Put the world back to its initial state, zero the counters, refill the buckets.

        Args:
            faults: also restore the fault settings the simulator started with.
        """
        self.world.reset()
        self.counters.reset()
        self.injector.reset(faults=faults)

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start serving (``__aenter__`` calls this)."""
        loop = asyncio.get_running_loop()
        max_body = self.max_body

        def make_request(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> web.BaseRequest:
            return web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=max_body
            )

        self.world.snapshot()
        server = web.Server(self._handle, request_factory=make_request, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self.endpoint_url = f"http://{shown}:{port}"

    async def stop(self) -> None:
        """Stop serving and close every connection (``__aexit__`` calls this)."""
        runner, self._runner = self._runner, None
        for task in self._delayed:
            task.cancel()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- requests -----------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path == "/":
            if request.method == "POST":
                return await self._api(request)
            self.counters.unrouted.received += 1
            self.counters.unrouted.errors += 1
            return self._error(
                coral_error(
                    "UnknownOperationException",
                    f"{request.method} is not supported: every operation is POST /",
                    status=405,
                ),
                extra={"Allow": "POST"},
            )
        if path.startswith(ADMIN_PREFIX):
            return await self._control.handle(request)
        self.counters.unrouted.received += 1
        self.counters.unrouted.errors += 1
        return self._error(
            coral_error("UnknownOperationException", f"No such resource: {path}", status=404)
        )

    def _reply(self, status: int, body: bytes) -> web.Response:
        return web.Response(
            status=status,
            body=body,
            headers={"Content-Type": JSON_11, "x-amzn-RequestId": str(uuid.uuid4())},
        )

    def _error(self, error: ApiError, extra: Mapping[str, str] | None = None) -> web.Response:
        response = self._reply(error.status, error_body(error, self.clock.epoch_ms()))
        if extra:
            response.headers.update(extra)
        return response

    async def _api(self, request: web.BaseRequest) -> web.StreamResponse:
        headers = request.headers
        mime = headers.get("Content-Type", "").partition(";")[0].strip().lower()
        op = self._targets.get(headers.get("X-Amz-Target", ""))
        if mime not in ACCEPTED_CONTENT_TYPES or op is None:
            return self._unrouted(request, mime)
        counts = self.counters.op(op)
        counts.received += 1
        size = request.content_length
        if size is not None and size > self.max_body:
            counts.errors += 1
            return self._too_large(size)
        if headers.get("Expect", "").lower() == "100-continue":
            # curl asks before sending large bodies; aiohttp's low-level server never answers
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            counts.errors += 1
            return self._too_large(None)
        if self._credentials is not None:
            problem = sigv4.verify(
                method=request.method,
                raw_path=request.raw_path.partition("?")[0],
                query_string=request.query_string,
                headers=headers,
                body=body,
                credentials=self._credentials,
                now=time.time(),
            )
            if problem is not None:
                counts.errors += 1
                return self._error(problem)

        return await self._perform(request, op, counts, body)

    async def _perform(
        self, request: web.BaseRequest, op: str, counts: OpCounts, body: bytes
    ) -> web.StreamResponse:
        """Apply the request's fate, then parse, validate and hand it to the world."""
        fate, delay = self.injector.decide(op)
        if delay > 0:
            await self._delay(delay)
        if fate is Fate.THROTTLED:
            counts.throttled += 1
            return self._reply(400, THROTTLED_BODY)
        if fate is Fate.FAULT:
            counts.faulted += 1
            return self._error(service_fault())
        if fate is Fate.UNAVAILABLE:
            counts.faulted += 1
            return self._reply(503, b"")
        params = _parse(op, body)
        if isinstance(params, ApiError):
            error = params
        else:
            try:
                result = self.world.call(op, params)
            except ApiError as exc:
                error = exc
            except Exception:
                log.exception("sim.world_failed", operation=op)
                error = service_fault()
            else:
                if fate is Fate.LOST:
                    counts.lost += 1
                    return self._drop(request)
                counts.succeeded += 1
                return self._reply(200, orjson.dumps(result))
        if fate is Fate.LOST:
            counts.lost += 1
            return self._drop(request)
        if error.status >= 500:
            counts.faulted += 1
        else:
            counts.errors += 1
        return self._error(error)

    async def _delay(self, seconds: float) -> None:
        # remembered so that stop() can cut injected latency short instead of waiting
        task = asyncio.current_task()
        assert task is not None
        self._delayed.add(task)
        try:
            await asyncio.sleep(seconds)
        finally:
            self._delayed.discard(task)

    def _unrouted(self, request: web.BaseRequest, mime: str) -> web.Response:
        self.counters.unrouted.received += 1
        self.counters.unrouted.errors += 1
        if mime not in ACCEPTED_CONTENT_TYPES:
            shown = request.headers.get("Content-Type")
            return self._error(
                coral_error(
                    "UnknownOperationException",
                    f"Unsupported Content-Type {shown!r}: expected {JSON_11}",
                )
            )
        target = request.headers.get("X-Amz-Target")
        if target is None:
            message = "Missing X-Amz-Target header"
        else:
            message = f"Unknown operation {target!r}: expected {TARGET_PREFIX}<Operation>"
        return self._error(coral_error("UnknownOperationException", message))

    def _too_large(self, size: int | None) -> web.Response:
        got = f"{size} bytes" if size is not None else "The request body"
        response = self._error(
            ApiError(
                "RequestEntityTooLargeException",
                f"{got} exceeds the {self.max_body}-byte limit on a request",
                status=413,
                suffix=False,
            )
        )
        # the unread body makes the connection unusable for the next request
        response.force_close()
        return response

    def _drop(self, request: web.BaseRequest) -> web.Response:
        """Abort the connection; aiohttp then finds the transport closing and writes nothing."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        return web.Response(status=200)


def _parse(op: str, body: bytes) -> dict[str, Any] | ApiError:
    """Return the request parameters, or the error AWS answers a bad body with."""
    try:
        params = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        params = None
    if not isinstance(params, dict):
        return coral_error(
            "SerializationException",
            "Start of structure or map expected: the body must be a JSON object",
        )
    error = validation_error(schema.validate(op, params, unknown=False))
    return params if error is None else error
