"""
The simulator's admin API under ``/_turkbatch/``: inspect and steer a running simulator.

The MTurk API is only ``POST /``, so the prefix cannot collide with it. Admin requests are
never throttled, faulted, delayed, signature-checked or counted. Bodies are plain JSON
(``application/json``); every response carries ``x-amzn-RequestId`` like the API's.

==================  ========  ============================================================
path                method    what
==================  ========  ============================================================
(none), ``page``    GET       the read-only HTML page (``?refresh=N`` seconds, 0: never)
``health``          GET       ``{"status": "ok", "operations": 39}``
``ledger``          GET       ``world.ledger()``
``counters``        GET       per-operation and total request counts
``faults``          GET       the fault settings in force
``faults``          POST      merge a JSON object of settings; returns the new settings
``clock``           GET       ``{"now": epoch_seconds, "offset": seconds}``
``clock``           POST      ``{"advance": seconds}``; returns the new ``clock``
``reset``           POST      world to its initial state, counters zeroed, buckets refilled;
                              ``{"faults": true}`` also restores the starting faults
``world``           GET       ``{"strict": bool, "trailing_next_token": bool}``
``world``           POST      set ``{"trailing_next_token": bool}``
``workforce``       GET       ``{"settings": {...} | null}``: the simulated workforce
==================  ========  ============================================================

Bad input gets HTTP 400 ``{"error": "..."}``; unknown paths 404; wrong methods 405.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
import structlog
from aiohttp import web

from turkbatch.sim.clock import Clock
from turkbatch.sim.counters import Counters
from turkbatch.sim.faults import FaultSettings
from turkbatch.sim.page import DEFAULT_REFRESH, render
from turkbatch.sim.world import World

log = structlog.get_logger()

ADMIN_PREFIX = "/_turkbatch/"
"""The path prefix reserved for the admin API."""

_Route = Callable[[dict[str, Any]], Awaitable[object]]


class AdminInputError(ValueError):
    """An admin request the simulator cannot act on (answered with HTTP 400)."""


class Steerable(Protocol):
    """
    What the admin API needs of a simulator, and nothing more (so this module never
    imports the server, which imports it).
    """

    world: World
    clock: Clock
    counters: Counters
    faults: FaultSettings

    def operations(self) -> tuple[str, ...]:
        """Return the operations served."""
        ...

    def reset(self, *, faults: bool = False) -> None:
        """Restore the world and counters (and the starting faults, when asked)."""
        ...


class Control:
    """
    The admin routes of one simulator.

    Args:
        sim: the simulator to inspect and steer, seen through :class:`Steerable`.
    """

    def __init__(self, sim: Steerable) -> None:
        self._sim = sim
        self._routes: dict[tuple[str, str], _Route] = {
            ("GET", "health"): self._health,
            ("GET", "ledger"): self._ledger,
            ("GET", "counters"): self._counters,
            ("GET", "faults"): self._faults,
            ("POST", "faults"): self._set_faults,
            ("GET", "clock"): self._clock,
            ("POST", "clock"): self._advance,
            ("POST", "reset"): self._reset,
            ("GET", "world"): self._world,
            ("GET", "workforce"): self._workforce,
            ("POST", "world"): self._set_world,
        }
        self._names = {name for _, name in self._routes}

    async def handle(self, request: web.BaseRequest) -> web.Response:
        """Answer one admin request."""
        name = request.path[len(ADMIN_PREFIX) :].rstrip("/")
        if name in ("", "page") and request.method == "GET":
            return self._page(request)
        route = self._routes.get((request.method, name))
        if route is None:
            if name in self._names:
                allowed = ", ".join(sorted(m for m, n in self._routes if n == name))
                return _json(405, {"error": f"use {allowed}"}, {"Allow": allowed})
            return _json(404, {"error": f"no admin endpoint {request.path!r}"})
        try:
            body = await request.read()
            payload = orjson.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise AdminInputError("the body must be a JSON object")
            return _json(200, await route(payload))
        except (orjson.JSONDecodeError, AdminInputError, ValueError) as exc:
            return _json(400, {"error": str(exc)})
        except Exception as exc:
            log.exception("sim.admin_failed", path=request.path)
            return _json(500, {"error": f"{type(exc).__name__}: {exc}"})

    def _page(self, request: web.BaseRequest) -> web.Response:
        """Render the read-only HTML page (:mod:`turkbatch.sim.page`)."""
        try:
            refresh = max(0, int(request.query.get("refresh", DEFAULT_REFRESH)))
        except ValueError:
            return _json(400, {"error": "refresh must be a whole number of seconds"})
        world = self._sim.world
        settings = world.workforce
        body = render(
            world.view(),
            world.ledger(),
            self._sim.counters.to_json(),
            workforce=None if settings is None else settings.to_json(),
            refresh=refresh,
        )
        headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
        return web.Response(status=200, body=body.encode(), headers=headers)

    async def _health(self, _: dict[str, Any]) -> object:
        return {"status": "ok", "operations": len(self._sim.operations())}

    async def _ledger(self, _: dict[str, Any]) -> object:
        return self._sim.world.ledger()

    async def _counters(self, _: dict[str, Any]) -> object:
        return self._sim.counters.to_json()

    async def _faults(self, _: dict[str, Any]) -> object:
        return self._sim.faults.to_json()

    async def _set_faults(self, body: dict[str, Any]) -> object:
        new = self._sim.faults.merge(body)
        unknown = sorted(set(new.op_throttle) - set(self._sim.operations()))
        if unknown:
            raise AdminInputError(f"op_throttle names unknown operations: {', '.join(unknown)}")
        self._sim.faults = new
        return new.to_json()

    async def _clock(self, _: dict[str, Any]) -> object:
        clock = self._sim.clock
        return {"now": clock.time(), "offset": clock.offset}

    async def _advance(self, body: dict[str, Any]) -> object:
        extra = set(body) - {"advance"}
        seconds = body.get("advance")
        if extra or isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise AdminInputError('expected {"advance": seconds}')
        self._sim.clock.advance(float(seconds))
        return await self._clock(body)

    async def _reset(self, body: dict[str, Any]) -> object:
        extra = set(body) - {"faults"}
        faults = body.get("faults", False)
        if extra or not isinstance(faults, bool):
            raise AdminInputError('expected {} or {"faults": true|false}')
        self._sim.reset(faults=faults)
        return {"reset": True, "faults": self._sim.faults.to_json()}

    async def _world(self, _: dict[str, Any]) -> object:
        world = self._sim.world
        return {"strict": world.strict, "trailing_next_token": bool(world.trailing_next_token)}

    async def _workforce(self, _: dict[str, Any]) -> object:
        settings = self._sim.world.workforce
        return {"settings": None if settings is None else settings.to_json()}

    async def _set_world(self, body: dict[str, Any]) -> object:
        extra = set(body) - {"trailing_next_token"}
        value = body.get("trailing_next_token")
        if extra or (value is not None and not isinstance(value, bool)):
            raise AdminInputError('expected {"trailing_next_token": true|false}')
        if value is not None:
            self._sim.world.trailing_next_token = value
        return await self._world(body)


def _json(status: int, payload: object, extra: dict[str, str] | None = None) -> web.Response:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
    if extra:
        headers.update(extra)
    return web.Response(status=status, body=orjson.dumps(payload), headers=headers)
