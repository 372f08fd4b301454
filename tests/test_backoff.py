"""Tests for turkbatch.backoff: growth, cap, jitter bounds, determinism, test mode."""

from __future__ import annotations

import random

import pytest

from turkbatch import backoff
from turkbatch.backoff import DEFAULT_MAX_ATTEMPTS, Backoff, Jitter


def test_grows_exponentially_up_to_the_cap() -> None:
    """Without jitter the delays double from ``base`` and stop at ``cap``."""
    policy = Backoff(base=0.1, cap=1.0, jitter="none")
    assert [policy.delay(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_huge_attempts_stay_at_the_cap() -> None:
    """Attempt numbers far past the cap neither overflow nor exceed it."""
    assert Backoff(jitter=Jitter.NONE).delay(10_000) == 20.0
    assert Backoff(factor=1.0, jitter="none").delay(50) == 0.1


@pytest.mark.parametrize("attempt", [1, 2, 5, 9, 30])
def test_full_jitter_bounds(attempt: int) -> None:
    """Full jitter draws uniformly from [0, ceiling]."""
    policy = Backoff(rng=random.Random(attempt))
    top = policy.ceiling(attempt)
    draws = [policy.delay(attempt) for _ in range(500)]
    assert all(0 <= d <= top for d in draws)
    assert min(draws) < top * 0.1 and max(draws) > top * 0.9


def test_equal_jitter_bounds() -> None:
    """Equal jitter draws from [ceiling/2, ceiling]: never an immediate retry."""
    policy = Backoff(jitter="equal", rng=random.Random(1))
    draws = [policy.delay(4) for _ in range(500)]
    assert all(0.4 <= d <= 0.8 for d in draws)


def test_seeded_delays_are_reproducible() -> None:
    """The same seed gives the same delays."""
    first = Backoff(rng=random.Random(7))
    second = Backoff(rng=random.Random(7))
    assert [first.delay(n) for n in range(1, 10)] == [second.delay(n) for n in range(1, 10)]


def test_bad_parameters_are_refused() -> None:
    """Nonsense parameters and attempt numbers raise ValueError."""
    for bad in (
        dict(base=0),
        dict(base=-1),
        dict(cap=0.01),
        dict(factor=0.5),
        dict(jitter="sometimes"),
    ):
        with pytest.raises(ValueError):
            Backoff(**bad)
    with pytest.raises(ValueError, match="from 1"):
        Backoff().delay(0)


def test_testing_mode_never_waits_and_records() -> None:
    """Inside ``testing()`` every delay is 0, and the delays it would have used are kept."""
    policy = Backoff(jitter="none")
    with backoff.testing() as delays:
        assert [policy.delay(n) for n in (1, 2, 3)] == [0.0, 0.0, 0.0]
    assert delays == pytest.approx([0.1, 0.2, 0.4])
    assert policy.delay(1) == pytest.approx(0.1)


def test_default_attempts_ride_out_a_short_outage() -> None:
    """The default attempts wait seconds, not minutes, in all (no jitter: the worst case)."""
    worst = Backoff(jitter="none")
    total = sum(worst.delay(n) for n in range(1, DEFAULT_MAX_ATTEMPTS))
    assert 5 < total < 30
