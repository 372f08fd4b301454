"""Tests for turkbatch.sim.faults: settings, token buckets and seeded fate decisions."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turkbatch.sim.faults import (
    Fate,
    FaultInjector,
    FaultSettings,
    Limit,
    TokenBucket,
    parse_limit,
    parse_op_throttle,
)


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fates(injector: FaultInjector, n: int, op: str = "SendBonus") -> list[Fate]:
    """Return the next ``n`` fates of ``op``."""
    return [injector.decide(op)[0] for _ in range(n)]


# --- settings ---------------------------------------------------------------------------


def test_limit_burst_defaults_to_one_second_of_tokens() -> None:
    """A limit without a burst gets max(1, rate)."""
    assert Limit.of(5) == Limit(rate=5.0, burst=5.0)
    assert Limit.of(0.5) == Limit(rate=0.5, burst=1.0)
    assert Limit.of(2, 10) == Limit(rate=2.0, burst=10.0)


def test_parse_limit_and_op_throttle() -> None:
    """``R``, ``R:B`` and ``Op=R[:B]`` parse; junk is a ValueError."""
    assert parse_limit("3") == Limit(rate=3.0, burst=3.0)
    assert parse_limit("3:7") == Limit(rate=3.0, burst=7.0)
    assert parse_op_throttle("SendBonus=2:4") == ("SendBonus", Limit(rate=2.0, burst=4.0))
    for bad in ("SendBonus", "=3", "SendBonus=x", "SendBonus=-1", "SendBonus=1:nan"):
        with pytest.raises(ValueError):
            parse_op_throttle(bad)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fault_rate": -0.1},
        {"fault_rate": 1.5},
        {"fault_rate": 0.5, "unavailable_rate": 0.3, "lost_rate": 0.3},
        {"latency_ms": -1.0},
        {"latency_jitter_ms": float("inf")},
        {"throttle_burst": 5.0},
        {"throttle_rate": -1.0},
    ],
)
def test_impossible_settings_are_refused(kwargs: dict[str, float]) -> None:
    """Negative or non-finite values, rates over 1, and a burst without a rate are errors."""
    with pytest.raises(ValueError):
        FaultSettings(**kwargs)  # type: ignore[arg-type]


def test_merge_applies_admin_json() -> None:
    """merge() takes the admin API's JSON, including every op_throttle spelling."""
    new = FaultSettings().merge(
        {
            "seed": 9,
            "throttle_rate": 10,
            "fault_rate": "0.25",
            "op_throttle": {"SendBonus": 2, "NotifyWorkers": "1:3", "GetHIT": {"rate": 4}},
        }
    )
    assert new.seed == 9
    assert new.overall_limit() == Limit(rate=10.0, burst=10.0)
    assert new.fault_rate == 0.25
    assert dict(new.op_throttle) == {
        "SendBonus": Limit(rate=2.0, burst=2.0),
        "NotifyWorkers": Limit(rate=1.0, burst=3.0),
        "GetHIT": Limit(rate=4.0, burst=4.0),
    }
    assert new.merge({"throttle_rate": None}).overall_limit() is None


@pytest.mark.parametrize(
    "update",
    [
        {"nope": 1},
        {"seed": 1.5},
        {"fault_rate": True},
        {"fault_rate": "lots"},
        {"op_throttle": [1, 2]},
        {"op_throttle": {"SendBonus": {"burst": 2}}},
        {"op_throttle": {"SendBonus": {"rate": 1, "extra": 2}}},
    ],
)
def test_merge_refuses_bad_json(update: dict[str, object]) -> None:
    """Unknown keys and wrongly typed values are a ValueError naming the problem."""
    with pytest.raises(ValueError):
        FaultSettings().merge(update)


def test_to_json_round_trips_through_merge() -> None:
    """Settings rendered by to_json() merge back to equal settings."""
    original = FaultSettings(
        seed=3,
        throttle_rate=4.0,
        throttle_burst=8.0,
        op_throttle={"SendBonus": Limit(rate=1.0, burst=2.0)},
        fault_rate=0.1,
        unavailable_rate=0.2,
        lost_rate=0.3,
        latency_ms=5.0,
        latency_jitter_ms=1.0,
    )
    assert FaultSettings().merge(original.to_json()) == original


# --- token buckets ----------------------------------------------------------------------


def test_token_bucket_spends_its_burst_then_refills_at_rate() -> None:
    """A full bucket lets ``burst`` through at once, then one per 1/rate seconds."""
    bucket = TokenBucket(Limit(rate=2.0, burst=3.0), now=0.0)
    passed = 0
    while bucket.ready(0.0):
        bucket.take()
        passed += 1
    assert passed == 3
    assert not bucket.ready(0.25)
    assert bucket.ready(0.5)
    bucket.take()
    assert bucket.ready(100.0)  # refills, but never beyond the burst
    for _ in range(3):
        bucket.take()
    assert not bucket.ready(100.0)


def test_overall_and_per_operation_buckets_throttle_independently() -> None:
    """The per-op bucket throttles its op only; the overall one throttles everything."""
    clock = FakeMonotonic()
    injector = FaultInjector(
        FaultSettings(
            throttle_rate=1.0, throttle_burst=5.0, op_throttle={"SendBonus": Limit.of(1, 2)}
        ),
        monotonic=clock,
    )
    assert fates(injector, 3, "SendBonus") == [Fate.OK, Fate.OK, Fate.THROTTLED]
    assert fates(injector, 4, "GetHIT") == [Fate.OK, Fate.OK, Fate.OK, Fate.THROTTLED]
    clock.now += 1.0
    assert fates(injector, 2, "SendBonus") == [Fate.OK, Fate.THROTTLED]


def test_throttled_requests_do_not_spend_tokens() -> None:
    """A throttled request takes no token from either bucket."""
    clock = FakeMonotonic()
    injector = FaultInjector(
        FaultSettings(throttle_rate=1.0, throttle_burst=1.0, op_throttle={"A": Limit.of(1, 1)}),
        monotonic=clock,
    )
    assert fates(injector, 1, "A") == [Fate.OK]
    clock.now += 1.0
    assert fates(injector, 1, "B") == [Fate.OK]
    # "A" refilled but the overall bucket is empty: throttled without spending A's token
    assert fates(injector, 1, "A") == [Fate.THROTTLED]
    clock.now += 1.0
    assert fates(injector, 1, "A") == [Fate.OK]


def test_update_keeps_buckets_whose_limit_did_not_change() -> None:
    """Changing one setting at run time does not refill an unchanged bucket."""
    clock = FakeMonotonic()
    injector = FaultInjector(FaultSettings(throttle_rate=0.0, throttle_burst=1.0), monotonic=clock)
    assert fates(injector, 2) == [Fate.OK, Fate.THROTTLED]
    injector.update(injector.settings.merge({"latency_ms": 0.0, "fault_rate": 0.0}))
    assert fates(injector, 1) == [Fate.THROTTLED]
    injector.update(injector.settings.merge({"throttle_burst": 2.0}))
    assert fates(injector, 3) == [Fate.OK, Fate.OK, Fate.THROTTLED]
    injector.reset()
    assert fates(injector, 1) == [Fate.OK]


# --- seeded fates -----------------------------------------------------------------------


def test_no_faults_means_every_request_is_ok_without_delay() -> None:
    """The default injector never interferes."""
    injector = FaultInjector()
    assert {injector.decide("SendBonus") for _ in range(100)} == {(Fate.OK, 0.0)}


def test_same_seed_same_fates_different_seed_different_fates() -> None:
    """Fates reproduce from the seed and differ for another seed."""
    mixed = FaultSettings(seed=42, fault_rate=0.2, unavailable_rate=0.2, lost_rate=0.2)
    first = fates(FaultInjector(mixed), 200)
    assert fates(FaultInjector(mixed), 200) == first
    assert fates(FaultInjector(mixed.merge({"seed": 43})), 200) != first
    assert set(first) == {Fate.OK, Fate.FAULT, Fate.UNAVAILABLE, Fate.LOST}


def test_latency_settings_do_not_change_which_requests_fail() -> None:
    """Latency draws come from their own generator."""
    base = FaultSettings(seed=5, fault_rate=0.3)
    slow = base.merge({"latency_ms": 20, "latency_jitter_ms": 10})
    assert fates(FaultInjector(base), 300) == fates(FaultInjector(slow), 300)


def test_reset_reseeds_and_update_reseeds_only_on_a_new_seed() -> None:
    """reset() replays the run from its start; an update keeps the stream unless seeded."""
    injector = FaultInjector(FaultSettings(seed=1, fault_rate=0.5))
    first = fates(injector, 50)
    injector.reset()
    assert fates(injector, 50) == first
    injector.reset()
    fates(injector, 10)
    injector.update(injector.settings.merge({"fault_rate": 0.5}))
    assert fates(injector, 40) == first[10:]
    injector.update(injector.settings.merge({"seed": 1}))  # same seed: no reseed either
    injector.update(injector.settings.merge({"seed": 2}))
    injector.update(injector.settings.merge({"seed": 1}))
    assert fates(injector, 50) == first


def test_reset_with_faults_restores_the_initial_settings() -> None:
    """reset(faults=True) goes back to the settings the injector started with."""
    start = FaultSettings(seed=8, fault_rate=0.1)
    injector = FaultInjector(start)
    injector.update(start.merge({"fault_rate": 0.9}))
    injector.reset()
    assert injector.settings.fault_rate == 0.9
    injector.reset(faults=True)
    assert injector.settings == start == injector.initial


def test_latency_has_the_requested_mean_and_spread() -> None:
    """Lognormal latency: never negative, mean and deviation near the settings."""
    injector = FaultInjector(FaultSettings(latency_ms=20.0, latency_jitter_ms=5.0))
    delays = [injector.decide("GetHIT")[1] for _ in range(20_000)]
    assert min(delays) > 0
    assert statistics.fmean(delays) == pytest.approx(0.020, rel=0.05)
    assert statistics.stdev(delays) == pytest.approx(0.005, rel=0.1)
    fixed = FaultInjector(FaultSettings(latency_ms=7.0))
    assert {fixed.decide("GetHIT")[1] for _ in range(10)} == {0.007}


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    weights=st.lists(st.integers(min_value=0, max_value=10), min_size=4, max_size=4),
)
def test_fate_frequencies_follow_the_rates(seed: int, weights: list[int]) -> None:
    """Over many requests each fate's share is close to its rate, for any seed and rates."""
    total = sum(weights) or 1
    fault, unavailable, lost = (w / total for w in weights[:3])
    injector = FaultInjector(
        FaultSettings(seed=seed, fault_rate=fault, unavailable_rate=unavailable, lost_rate=lost)
    )
    n = 4000
    drawn = fates(injector, n)
    for fate, rate in ((Fate.FAULT, fault), (Fate.UNAVAILABLE, unavailable), (Fate.LOST, lost)):
        assert abs(drawn.count(fate) / n - rate) < 0.05
        if rate == 0:
            assert fate not in drawn
