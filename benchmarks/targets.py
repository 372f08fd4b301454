"""
What is measured, and the target each figure must meet: the issue's table, as data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """
    One figure of the benchmark and its target.

    Attributes:
        key: its name in the JSON output.
        what: what it measures, for the table.
        at_least: the figure must be at least this.
        at_most: the figure must be at most this.
    """

    key: str
    what: str
    at_least: float | None = None
    at_most: float | None = None

    def met(self, value: float) -> bool:
        """Say whether ``value`` meets the target."""
        if self.at_least is not None and value < self.at_least:
            return False
        return self.at_most is None or value <= self.at_most

    def shown(self) -> str:
        """Return the target as ``>= 0.85`` or ``<= 150``."""
        if self.at_least is not None:
            return f">= {self.at_least:g}"
        return f"<= {self.at_most:g}"


TARGETS = (
    Target(
        key="engine_overhead_ratio",
        what="turkbatch run ÷ bare aiobotocore loop, SendBonus ops/s, same concurrency",
        at_least=0.85,
    ),
    Target(
        key="latency_hiding_ratio",
        what="turkbatch run ÷ sequential boto3 loop, ops/s at 100 ms latency",
        at_least=50,
    ),
    Target(
        key="adaptive_rate_ratio",
        what="successful ops/s ÷ 100, simulator throttling at 100/s, --rate 1000, 0 failed",
        at_least=0.90,
    ),
    Target(
        key="throttled_fraction",
        what="throttled responses ÷ all requests in the adaptive run",
        at_most=0.10,
    ),
    Target(
        key="memory_growth_ratio",
        what="peak RSS of a 100,000-op run ÷ that of a 10,000-op run",
        at_most=1.2,
    ),
    Target(
        key="peak_rss_mb",
        what="largest peak RSS: 100,000-op run, plan/validate 1M lines, resume 1M records",
        at_most=150,
    ),
    Target(
        key="resume_scan_ratio",
        what="load a 1,000,000-record journal ÷ bare orjson loop over its lines",
        at_most=3,
    ),
    Target(
        key="validate_ratio",
        what="validate a 1,000,000-line job ÷ bare orjson loop over its lines",
        at_most=10,
    ),
    Target(
        key="first_call_ratio",
        what="start of turkbatch run to first SendBonus, 1,000,000 lines ÷ bare orjson loop",
        at_most=8,
    ),
    Target(
        key="sim_capacity_ratio",
        what="simulator req/s under a raw-socket load ÷ under one aiobotocore process",
        at_least=3,
    ),
)

KEYS = tuple(target.key for target in TARGETS)
"""Every key of the JSON output, in table order."""

BY_KEY = {target.key: target for target in TARGETS}
