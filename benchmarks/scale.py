"""
How big each measurement is: the full scale of the issue, and a quick one for smoke tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Scale:
    """
    Sizes, durations and settings of every measurement.

    Attributes:
        overhead_ops: SendBonus calls per engine-overhead run (turkbatch and bare loop).
        overhead_concurrency: calls in flight in both.
        overhead_rounds: runs of each, taking turns; the ratio of their medians counts.
        latency_ms: simulated latency for latency hiding and the throughput curve.
        boto3_ops: calls of the sequential boto3 loop.
        curve: concurrencies of the throughput curve; its last one is the hiding figure.
        curve_seconds: how long each curve point would take at ``concurrency / latency``.
        curve_max_ops: most operations in one curve point.
        throttle_rate: the simulator's token bucket rate for the adaptive run.
        throttle_burst: that bucket's size.
        adaptive_ops: operations of the adaptive run.
        adaptive_ceiling: its ``--rate``.
        memory_small: operations of the small memory run.
        memory_large: operations of the large memory run.
        memory_concurrency: calls in flight in the memory runs.
        big_lines: lines of the big jobs (validate, first call) and records of the big journal.
        scan_rounds: runs of each scan (and first call) and of its orjson loop; the ratio of
            medians counts.
        capacity_seconds: how long each simulator capacity load lasts.
        capacity_concurrency: connections of each capacity load.
        timeout: seconds any one child process may take.
    """

    overhead_ops: int = 2_000
    overhead_concurrency: int = 32
    overhead_rounds: int = 11
    latency_ms: float = 100.0
    boto3_ops: int = 50
    curve: tuple[int, ...] = (1, 4, 16, 64, 256)
    curve_seconds: float = 4.0
    curve_max_ops: int = 4_000
    throttle_rate: float = 100.0
    throttle_burst: float = 10.0
    adaptive_ops: int = 2_500
    adaptive_ceiling: float = 1_000.0
    memory_small: int = 10_000
    memory_large: int = 100_000
    memory_concurrency: int = 64
    big_lines: int = 1_000_000
    scan_rounds: int = 3
    capacity_seconds: float = 5.0
    capacity_concurrency: int = 64
    timeout: float = 600.0


FULL = Scale()
"""The issue's scale: about 6 minutes on 2 idle cores."""

QUICK = Scale(
    overhead_ops=100,
    overhead_rounds=1,
    boto3_ops=5,
    curve=(8,),
    curve_seconds=0.5,
    curve_max_ops=24,
    adaptive_ops=40,
    memory_small=20,
    memory_large=200,
    big_lines=20_000,
    scan_rounds=1,
    capacity_seconds=0.3,
    capacity_concurrency=8,
    timeout=60.0,
)
"""Tiny sizes that exercise every part in seconds: for the smoke test, not for figures."""
