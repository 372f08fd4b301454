"""
The shapes every measurement shares: what it is given, and what it hands back.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.scale import Scale
from benchmarks.simulator import SimProcess

UNLIMITED_RATE = 100_000.0
"""``--rate`` for runs that must not be paced: far above what one process can send."""

_STARTED = time.monotonic()

A = TypeVar("A")
B = TypeVar("B")


def say(message: str) -> None:
    """Print a progress line on standard error, with the seconds since start."""
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def take_turns(
    rounds: int, what: str, measured: Callable[[], A], baseline: Callable[[], B]
) -> tuple[list[A], list[B]]:
    """
    Run ``measured`` and its ``baseline`` ``rounds`` times each, taking turns at going
    first, so a drift during the measurement favours neither; return both lists of runs.

    On a shared machine one run's speed moves by up to a third from the next's, whichever
    program it is, and independently of the run before: sum each side up by its own
    median (which one spoiled run cannot move) rather than by pairing runs.
    """
    runs: list[A] = []
    baselines: list[B] = []
    for n in range(rounds):
        say(f"{what}, round {n + 1}")
        if n % 2:
            baselines.append(baseline())
        runs.append(measured())
        if not n % 2:
            baselines.append(baseline())
    return runs, baselines


@dataclass(frozen=True, slots=True, kw_only=True)
class Bench:
    """
    What every measurement gets.

    Attributes:
        scale: how big to make things.
        sim: the simulator, in its own process; reset it before use, restore its faults after.
        work: a scratch directory for jobs and journals.
    """

    scale: Scale
    sim: SimProcess
    work: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """
    One figure of the output.

    Attributes:
        key: its key in the JSON output.
        value: the figure.
        baseline: the raw figures behind it, for the table (``"412 vs 451 ops/s"``).
        problem: a condition of the target that failed besides the value (``"2 failed"``).
    """

    key: str
    value: float
    baseline: str
    problem: str | None = None


@dataclass(slots=True, kw_only=True)
class Measurement:
    """
    What one measurement hands back.

    Attributes:
        figures: its figures.
        details: every raw figure, for ``latest-details.json``.
        peak_rss: named peak RSS figures (MiB) that count towards ``peak_rss_mb``.
    """

    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    peak_rss: dict[str, float] = field(default_factory=dict)
