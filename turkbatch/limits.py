"""
The adaptive rate limiter: pace requests, and find the rate the service allows (AIMD).

``--rate`` is a ceiling. Every throttled answer is a congestion signal: the rate is cut
multiplicatively, once per congestion event; every successful answer raises it a little,
back toward the ceiling. Against a token-bucket server this settles into a shallow sawtooth
around the server's rate, so a run goes about as fast as the account allows without failing
anything. Pacing is an :class:`aiolimiter.AsyncLimiter` with a burst of two requests, built
inside the running event loop.

Pacing: aiolimiter 1.3 has no public way to change a limiter's rate, so a rate change
builds a new ``AsyncLimiter`` (carrying on from the last release, so it neither bursts nor
stalls), and the one request waiting in the old one (an ``anyio.Lock`` queues the rest,
first come first served) is cancelled and re-queued at the new rate.

Constants, and why. Measured against the simulator's token bucket of 100/s (burst 100) at
``--rate 1000``: 102 successful requests/s and 0.9 % throttled (3000 SendBonus, 16
workers, engine and aiobotocore end to end).

* ``DECREASE = 0.8``: the sawtooth runs from 80 % to just over 100 % of the server's rate,
  and the tokens saved in the low part are spent in the high part. 0.5 halves the rate on
  every event and wastes more of the server's rate (97.7/s rather than 103/s, same model).
* The increase is proportional to the rate: each success adds ``rate / RAMP_SUCCESSES``.
  Climbing back from a 20 % cut takes ~110 successes at any rate, so an event (one to a
  few throttled requests) comes about once per ~110 requests: 1-2 % throttled. From 50 %
  back to the ceiling takes ~350 successes: 0.35 s at 1000/s, 3.5 s at 100/s.
* One congestion event: throttled answers to requests sent before the last cut belong to
  that cut, for up to ``COOLDOWN`` seconds (longer than any normal MTurk round trip).
  Answers are matched to send times first in, first out; a throttled request sent after
  the cut is news, so a rate far above the server's comes down in a few round trips. With
  a cooldown alone, the same run had 15 % (0.5 s) to 36 % (1 s) of requests throttled.
* A cut starts from the measured send rate when that is lower, so a ceiling the workers
  never reached is not cut step by step.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import anyio
import anyio.lowlevel
from aiolimiter import AsyncLimiter

DECREASE = 0.8
"""Factor applied to the rate on a congestion event."""

RAMP_SUCCESSES = 500.0
"""Each success adds ``rate / RAMP_SUCCESSES`` requests per second."""

COOLDOWN = 1.0
"""Longest span, in seconds, over which throttles of earlier requests count as one event."""

MIN_RATE = 0.5
"""The lowest rate the limiter cuts to, and so the lowest ceiling (``--rate``) it accepts."""

BURST = 2.0
"""Requests the pacer may send back to back: makes up for late timer wake-ups, no more."""

_SEND_WINDOW = 64  # recent send times kept to measure the send rate
_HORIZON = 30.0  # seconds after which an unanswered send is forgotten (its answer was lost)
_RETUNE = 0.02  # relative increase that is worth a new pacer


class AdaptiveLimiter:
    """
    Pace requests at an adaptive rate between ``floor`` and ``ceiling`` requests per second.

    Call :meth:`acquire` before each request, and report every answer exactly once with
    :meth:`on_success`, :meth:`on_throttle` or :meth:`on_error`: answers are matched to send
    times in order (an unreported request is forgotten after ``_HORIZON`` seconds, and
    until then blurs which throttles belong to which cut). Use it from one event loop.

    Args:
        ceiling: the highest rate, requests per second (``--rate``).
        floor: the lowest rate the cuts go down to.
        start: the first rate; default the ceiling.
        increase: requests per second added per success; default ``rate / RAMP_SUCCESSES``.
        decrease: factor applied on a congestion event.
        cooldown: longest span over which throttles of earlier requests count as one event.
        clock: monotonic seconds, for the adaptation (pacing uses the event loop's clock).

    Raises:
        ValueError: a parameter is out of range.
    """

    def __init__(
        self,
        ceiling: float,
        *,
        floor: float = MIN_RATE,
        start: float | None = None,
        increase: float | None = None,
        decrease: float = DECREASE,
        cooldown: float = COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(ceiling) and ceiling > 0):
            raise ValueError(f"rate ceiling must be a positive number, not {ceiling!r}")
        if not (math.isfinite(floor) and 0 < floor <= ceiling):
            raise ValueError(f"rate floor must be in (0, {ceiling}], not {floor!r}")
        start = ceiling if start is None else start
        if not floor <= start <= ceiling:
            raise ValueError(f"start rate must be in [{floor}, {ceiling}], not {start!r}")
        if increase is not None and not (math.isfinite(increase) and increase > 0):
            raise ValueError(f"increase must be a positive number, not {increase!r}")
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be in (0, 1), not {decrease!r}")
        if not (math.isfinite(cooldown) and cooldown >= 0):
            raise ValueError(f"cooldown must be >= 0 seconds, not {cooldown!r}")
        self.ceiling = float(ceiling)
        self.floor = float(floor)
        self.increase = increase
        self.decrease = decrease
        self.cooldown = cooldown
        self.throttles = 0
        self._clock = clock
        self._rate = float(start)
        self._last_cut = -math.inf
        self._unanswered: deque[float] = deque()  # send times, oldest first
        self._recent: deque[float] = deque(maxlen=_SEND_WINDOW)  # send times
        # Loop-bound, so built by acquire() inside the running loop (again in a new loop):
        self._loop: anyio.lowlevel.EventLoopToken | None = None
        self._pacer: AsyncLimiter | None = None
        self._pacer_rate = 0.0
        self._lock: anyio.Lock | None = None
        self._waiting: anyio.CancelScope | None = None
        self._released = -math.inf  # loop time of the last release

    @property
    def rate(self) -> float:
        """The current rate, requests per second."""
        return self._rate

    async def acquire(self) -> None:
        """Wait for the next slot at the current rate."""
        loop = anyio.lowlevel.current_token()
        if self._lock is None or loop != self._loop:
            # fast_acquire: an uncontended acquire does not yield to the event loop, so
            # requests that are ready leave together instead of one per loop pass.
            self._loop, self._lock, self._pacer = loop, anyio.Lock(fast_acquire=True), None
        pacer = self._pacer
        if (
            pacer is not None
            and not self._lock.locked()
            and not self._stale()
            and pacer.has_capacity()
        ):
            # The common case: a slot is free and nobody is queued for one, so take it
            # without queueing (no lock, no cancel scope; pacer.acquire does not wait).
            await pacer.acquire()
            self._released = anyio.current_time()
        else:
            await self._wait_for_slot()
        now = self._clock()
        self._unanswered.append(now)
        self._recent.append(now)

    async def _wait_for_slot(self) -> None:
        """Queue for a slot behind other waiters; re-paced if a throttle cuts the rate."""
        assert self._lock is not None
        async with self._lock:  # one waiter in the pacer at a time: FIFO, and re-pacable
            while True:
                pacer = await self._current_pacer()
                with anyio.CancelScope() as scope:
                    self._waiting = scope
                    try:
                        await pacer.acquire()
                    finally:
                        self._waiting = None
                if not scope.cancelled_caught:
                    break
            self._released = anyio.current_time()

    def on_success(self) -> None:
        """Count a successful answer: raise the rate a little, up to the ceiling."""
        self._answered()
        if self._rate < self.ceiling:
            step = self._rate / RAMP_SUCCESSES if self.increase is None else self.increase
            self._rate = min(self.ceiling, self._rate + step)

    def on_throttle(self) -> None:
        """Count a throttled answer: cut the rate, once per congestion event."""
        self.throttles += 1
        sent = self._answered()
        now = self._clock()
        if sent < self._last_cut and now - self._last_cut < self.cooldown:
            return  # sent before the last cut: part of the event that caused it
        self._last_cut = now
        self._rate = max(self.floor, min(self._rate, self._send_rate(now)) * self.decrease)
        if self._waiting is not None:
            self._waiting.cancel()  # so the waiting request is paced at the new rate

    def on_error(self) -> None:
        """Count an answer that says nothing about the rate (a transient error)."""
        self._answered()

    def _answered(self) -> float:
        """Forget the oldest unanswered send and return its time (-inf when none is known)."""
        unanswered = self._unanswered
        if unanswered and unanswered[0] < self._clock() - _HORIZON:
            cutoff = self._clock() - _HORIZON  # answers that never came: forget them
            while unanswered and unanswered[0] < cutoff:
                unanswered.popleft()
        return unanswered.popleft() if unanswered else -math.inf

    def _send_rate(self, now: float) -> float:
        """Return the measured recent send rate, or infinity when too little is known."""
        recent = self._recent
        if len(recent) < 8 or now <= recent[0]:
            return math.inf
        return (len(recent) - 1) / (now - recent[0])

    def _stale(self) -> bool:
        """Whether the current pacer paces at a rate the limiter has since left."""
        return self._rate < self._pacer_rate or self._rate > self._pacer_rate * (1 + _RETUNE)

    async def _current_pacer(self) -> AsyncLimiter:
        """Return a pacer for the current rate, replacing a stale one."""
        rate, pacer = self._rate, self._pacer
        if pacer is None or self._stale():
            # A burst of 10 ms at the current rate (at least BURST): pacing stays smooth at
            # any rate, and at high rates requests leave in small groups, not one per tick.
            burst = max(1.0, min(max(BURST, rate * 0.01), rate))
            pacer = AsyncLimiter(burst, burst / rate)
            # Carry on from the last release as if the bucket had been full then, so a new
            # pacer neither bursts nor waits longer than one interval at the new rate.
            since = anyio.current_time() - self._released
            await pacer.acquire(min(burst, max(0.0, burst - since * rate)))
            self._pacer, self._pacer_rate = pacer, rate
        return pacer
