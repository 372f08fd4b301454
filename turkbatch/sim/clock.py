"""The simulator's clock: real time (optionally sped up) plus an offset tests can advance."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """
    Wall-clock time that can be moved forward on demand, and optionally run faster.

    The simulator reads every timestamp (token expiry, CreationTime, the
    ``(<epoch-ms>)`` suffix on error messages) from one ``Clock``, so a test can
    jump 24 hours ahead in microseconds by calling :meth:`advance`.

    Args:
        offset: seconds added to the time from the start.
        speed: simulated seconds per real second from now on (``60``: a minute a second);
            1 keeps real time.
    """

    def __init__(self, *, offset: float = 0.0, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("the clock's speed must be above 0")
        self._offset = offset
        self.speed = speed
        self._origin = time.time()

    @property
    def offset(self) -> float:
        """Seconds added to real time so far."""
        return self._offset

    def time(self) -> float:
        """Return simulated epoch seconds."""
        if self.speed == 1.0:
            return time.time() + self._offset
        origin = self._origin
        return origin + (time.time() - origin) * self.speed + self._offset

    def epoch_ms(self) -> int:
        """Return simulated epoch milliseconds, as MTurk puts in its messages."""
        return int(self.time() * 1000)

    def now(self) -> datetime:
        """Return the simulated time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("the simulator's clock only moves forward")
        self._offset += seconds
