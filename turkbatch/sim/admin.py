"""
An async client for a simulator's admin API, for tests and benchmarks in another process.

::

    async with SimAdmin("http://127.0.0.1:43121") as admin:
        await admin.set_faults(fault_rate=0.1, seed=7)
        await admin.advance(86_400)
        print(await admin.counters())
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson

from turkbatch.sim.control import ADMIN_PREFIX


class SimAdminError(RuntimeError):
    """
    The simulator refused an admin request.

    Args:
        status: the HTTP status.
        message: the simulator's ``error`` text.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class SimAdmin:
    """
    Talk to ``/_turkbatch/`` on a running simulator.

    Args:
        endpoint_url: the simulator's URL, as it printed it (``http://127.0.0.1:43121``).
        timeout: seconds allowed per admin request.
    """

    def __init__(self, endpoint_url: str, *, timeout: float = 30.0) -> None:
        self._base = endpoint_url.rstrip("/") + ADMIN_PREFIX
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (safe to call twice)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _call(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        if self._session is None:
            # created lazily so that the session belongs to the loop that uses it
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else None
        async with self._session.request(
            method, self._base + name, data=data, headers=headers
        ) as response:
            raw = await response.read()
        payload = orjson.loads(raw) if raw else None
        if response.status != 200:
            error = payload.get("error") if isinstance(payload, dict) else None
            raise SimAdminError(response.status, str(error or raw[:200]))
        return payload

    async def health(self) -> dict[str, Any]:
        """Return ``{"status": "ok", ...}`` once the simulator answers."""
        result: dict[str, Any] = await self._call("GET", "health")
        return result

    async def ledger(self) -> dict[str, Any]:
        """Return the world's ledger."""
        result: dict[str, Any] = await self._call("GET", "ledger")
        return result

    async def counters(self) -> dict[str, Any]:
        """Return ``{"operations": {op: counts}, "unrouted": counts, "totals": counts}``."""
        result: dict[str, Any] = await self._call("GET", "counters")
        return result

    async def faults(self) -> dict[str, Any]:
        """Return the fault settings in force."""
        result: dict[str, Any] = await self._call("GET", "faults")
        return result

    async def set_faults(self, **settings: Any) -> dict[str, Any]:
        """
        Merge ``settings`` into the fault settings and return the new settings.

        Keys are :class:`~turkbatch.sim.faults.FaultSettings` field names, e.g.
        ``set_faults(throttle_rate=5, throttle_burst=5, op_throttle={"SendBonus": 1})``.

        Raises:
            SimAdminError: an unknown key or a bad value.
        """
        result: dict[str, Any] = await self._call("POST", "faults", settings)
        return result

    async def clock(self) -> dict[str, float]:
        """Return ``{"now": epoch_seconds, "offset": seconds}``."""
        result: dict[str, float] = await self._call("GET", "clock")
        return result

    async def advance(self, seconds: float) -> dict[str, float]:
        """Move the simulator's clock forward and return the new ``clock()``."""
        result: dict[str, float] = await self._call("POST", "clock", {"advance": seconds})
        return result

    async def reset(self, *, faults: bool = False) -> dict[str, Any]:
        """Reset the world, counters and buckets; with ``faults``, the fault settings too."""
        result: dict[str, Any] = await self._call("POST", "reset", {"faults": faults})
        return result

    async def workforce(self) -> dict[str, Any] | None:
        """Return the simulated workforce's settings, or None when nobody works."""
        result: dict[str, Any] = await self._call("GET", "workforce")
        settings: dict[str, Any] | None = result["settings"]
        return settings

    async def set_world(self, *, trailing_next_token: bool) -> dict[str, Any]:
        """Set run-time world options and return them."""
        body = {"trailing_next_token": trailing_next_token}
        result: dict[str, Any] = await self._call("POST", "world", body)
        return result
