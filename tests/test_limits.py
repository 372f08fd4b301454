"""Tests for turkbatch.limits: AIMD adaptation on a fake clock, and real pacing."""

from __future__ import annotations

import math

import anyio
import pytest

from turkbatch.limits import RAMP_SUCCESSES, AdaptiveLimiter


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


def test_starts_at_the_ceiling_and_validates() -> None:
    """The rate starts at the ceiling (or ``start``); nonsense parameters are refused."""
    assert AdaptiveLimiter(50).rate == 50
    assert AdaptiveLimiter(50, start=5).rate == 5
    for bad in (
        dict(ceiling=0),
        dict(ceiling=math.inf),
        dict(ceiling=10, floor=20),
        dict(ceiling=10, start=11),
        dict(ceiling=10, decrease=1.0),
        dict(ceiling=10, increase=0),
        dict(ceiling=10, cooldown=-1),
    ):
        with pytest.raises(ValueError):
            AdaptiveLimiter(**bad)


def test_throttles_within_cooldown_are_one_event(clock: FakeClock) -> None:
    """Many throttles at once cut the rate once; after the cooldown, again."""
    limiter = AdaptiveLimiter(100, decrease=0.5, cooldown=0.5, clock=clock)
    for _ in range(10):
        limiter.on_throttle()
    assert limiter.rate == 50
    assert limiter.throttles == 10
    clock.advance(0.4)
    limiter.on_throttle()
    assert limiter.rate == 50
    clock.advance(0.2)
    limiter.on_throttle()
    assert limiter.rate == 25
    assert limiter.throttles == 12


async def test_throttle_of_a_request_sent_after_the_cut_is_news(clock: FakeClock) -> None:
    """Answers to requests sent before a cut are that cut's; a later request's is a new event."""
    limiter = AdaptiveLimiter(1000, decrease=0.5, cooldown=10, clock=clock)
    for _ in range(3):
        await limiter.acquire()  # three requests in flight
    clock.advance(0.01)
    limiter.on_throttle()  # the first answer: cut
    assert limiter.rate == 500
    clock.advance(0.01)
    limiter.on_throttle()  # sent before the cut: same event
    assert limiter.rate == 500
    await limiter.acquire()  # sent after the cut
    clock.advance(0.01)
    limiter.on_throttle()  # the third old request: same event
    assert limiter.rate == 500
    limiter.on_throttle()  # the new one: the rate is still too high
    assert limiter.rate == 250


def test_never_below_the_floor(clock: FakeClock) -> None:
    """However many congestion events, the rate stays at or above the floor."""
    limiter = AdaptiveLimiter(100, floor=2, cooldown=1, clock=clock)
    for _ in range(100):
        limiter.on_throttle()
        clock.advance(1)
    assert limiter.rate == 2


def test_climbs_back_to_the_ceiling_and_no_further(clock: FakeClock) -> None:
    """From half the ceiling, ~RAMP·ln 2 successes bring the rate back; never above it."""
    limiter = AdaptiveLimiter(1000, decrease=0.5, clock=clock)
    limiter.on_throttle()
    assert limiter.rate == 500
    successes = 0
    while limiter.rate < 1000:
        limiter.on_success()
        successes += 1
    assert successes == pytest.approx(RAMP_SUCCESSES * math.log(2), rel=0.05)
    for _ in range(1000):
        limiter.on_success()
    assert limiter.rate == 1000


def test_fixed_increase_per_success(clock: FakeClock) -> None:
    """An explicit ``increase`` adds that many requests per second per success."""
    limiter = AdaptiveLimiter(100, start=10, increase=2, clock=clock)
    for _ in range(5):
        limiter.on_success()
    assert limiter.rate == 20


async def test_acquire_paces_at_the_rate() -> None:
    """At 200/s, 100 acquires take about half a second (loose bounds: timers are coarse)."""
    limiter = AdaptiveLimiter(200)
    started = anyio.current_time()
    for _ in range(100):
        await limiter.acquire()
    elapsed = anyio.current_time() - started
    assert 0.35 < elapsed < 1.5


async def test_no_burst_at_start() -> None:
    """A fresh limiter at a high rate lets a couple through at once, not the whole ceiling."""
    limiter = AdaptiveLimiter(20)
    started = anyio.current_time()
    for _ in range(5):
        await limiter.acquire()
    assert anyio.current_time() - started > 0.1  # ≥ 3 intervals of 50 ms


async def test_concurrent_acquires_share_the_rate() -> None:
    """Many tasks acquiring at once are paced together, not each at the full rate."""
    limiter = AdaptiveLimiter(100)
    count = 0

    async def worker() -> None:
        nonlocal count
        while True:
            await limiter.acquire()
            count += 1

    with anyio.move_on_after(0.5):
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(worker)
    # ~52: 0.5 s at 100/s plus a burst of 2 (fewer on a busy machine, never more); each
    # task paced on its own would make ~1,000
    assert 0 < count < 80


async def test_a_cut_slows_the_request_already_waiting() -> None:
    """A throttle while a request waits re-paces it at the new, lower rate."""
    limiter = AdaptiveLimiter(100, floor=1, decrease=0.1)
    for _ in range(3):  # use up the burst, so the next request has to wait
        await limiter.acquire()
    waited = 0.0

    async def waiter() -> None:
        nonlocal waited
        started = anyio.current_time()
        await limiter.acquire()
        waited = anyio.current_time() - started

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.sleep(0.001)
        limiter.on_throttle()  # 100/s → 10/s
    assert limiter.rate == pytest.approx(10)
    assert waited > 0.05  # paced at 10/s, not 100/s


def test_one_limiter_across_event_loops() -> None:
    """Nothing is bound to a loop at construction, and a new loop gets its own pacer."""
    limiter = AdaptiveLimiter(1000)

    async def use() -> None:
        for _ in range(3):
            await limiter.acquire()

    anyio.run(use)
    anyio.run(use)


def test_transient_errors_keep_the_accounting(clock: FakeClock) -> None:
    """on_error forgets a request without changing the rate."""
    limiter = AdaptiveLimiter(100, clock=clock)
    limiter.on_error()
    assert limiter.rate == 100 and limiter.throttles == 0
