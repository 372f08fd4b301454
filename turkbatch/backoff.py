"""
How long to wait before retrying a transient failure: capped exponential backoff with jitter.

This is the policy only. turkbatch.caller owns the one retry loop (botocore's retries are off) and
decides what is worth retrying; it asks :meth:`Backoff.delay` how long to sleep. Throttling
is not limited by attempts: the adaptive limiter slows the whole run down instead.

Tests do not wait: inside :func:`testing` every delay is zero, and the delays that would
have been used are recorded (after stamina's test mode).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_MAX_ATTEMPTS = 8
"""
Attempts for an operation that keeps failing transiently (the first try included).

Seven waits of the default policy come to about 6.4 s on average (12.7 s at most): enough
to ride out a burst of ServiceFaults or a short 503 spell, short enough that a worker is
not held for minutes by an endpoint that is really down. An item that still fails is
recorded as failed and can be sent again with ``--retry-failed``; token calls stay safe.
"""


class Jitter(StrEnum):
    """How a delay is randomized, so that many clients do not retry in lockstep."""

    FULL = "full"  # uniform in [0, d]: the least contention (AWS's recommendation)
    EQUAL = "equal"  # uniform in [d/2, d]: never retries immediately
    NONE = "none"  # exactly d


_testing: list[list[float]] = []  # the recorders of the active testing() blocks
_default_rng = random.Random()


@contextmanager
def testing() -> Iterator[list[float]]:
    """
    Make every :meth:`Backoff.delay` return 0 inside the block; yield the delays it would have used.

    Example::

        with backoff.testing() as delays:
            await engine.run(...)
        assert len(delays) == 3
    """
    recorded: list[float] = []
    _testing.append(recorded)
    try:
        yield recorded
    finally:
        _testing.remove(recorded)


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """
    Capped exponential backoff with jitter: retry ``n`` waits about ``base * factor**(n-1)``.

    Args:
        base: the delay before the first retry, in seconds (before jitter).
        cap: the longest delay, in seconds (before jitter).
        factor: the growth per retry.
        jitter: how the delay is randomized.
        rng: the random source; seed one for reproducible delays.

    Raises:
        ValueError: a parameter is out of range.
    """

    base: float = 0.1
    cap: float = 20.0
    factor: float = 2.0
    jitter: Jitter | str = Jitter.FULL
    rng: random.Random | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.base) and self.base > 0):
            raise ValueError(f"base must be a positive number of seconds, not {self.base!r}")
        if not (math.isfinite(self.cap) and self.cap >= self.base):
            raise ValueError(f"cap must be at least base ({self.base}), not {self.cap!r}")
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise ValueError(f"factor must be at least 1, not {self.factor!r}")
        object.__setattr__(self, "jitter", Jitter(self.jitter))

    def ceiling(self, attempt: int) -> float:
        """
        Return the un-jittered delay before retry number ``attempt`` (1 = the first retry).

        Raises:
            ValueError: ``attempt`` is less than 1.
        """
        if attempt < 1:
            raise ValueError(f"attempt counts retries from 1, not {attempt!r}")
        try:
            return min(self.cap, self.base * self.factor ** (attempt - 1))
        except OverflowError:
            return self.cap

    def delay(self, attempt: int) -> float:
        """
        Return the seconds to wait before retry number ``attempt`` (1 = the first retry).

        Raises:
            ValueError: ``attempt`` is less than 1.
        """
        d = self.ceiling(attempt)
        rng = self.rng or _default_rng
        if self.jitter is Jitter.FULL:
            d = rng.uniform(0.0, d)
        elif self.jitter is Jitter.EQUAL:
            d = rng.uniform(d / 2, d)
        if _testing:
            _testing[-1].append(d)
            return 0.0
        return d
