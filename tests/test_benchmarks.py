"""
Smoke tests of ``benchmarks/``: the machinery runs end to end at a tiny scale.

These check that every figure is measured and written under its exact key; they never
check a figure's value (timings belong to ``python -m benchmarks``, not to tests).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The issue's keys, exactly: the JSON output is a contract with whoever reads it.
KEYS = {
    "engine_overhead_ratio",
    "latency_hiding_ratio",
    "adaptive_rate_ratio",
    "throttled_fraction",
    "memory_growth_ratio",
    "peak_rss_mb",
    "resume_scan_ratio",
    "validate_ratio",
    "first_call_ratio",
    "sim_capacity_ratio",
}


def _benchmarks(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _figures(path: Path) -> dict[str, object]:
    figures = orjson.loads(path.read_bytes())
    assert isinstance(figures, dict)
    return figures


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
def test_quick_run_measures_every_key(tmp_path: Path) -> None:
    """``--quick --json`` measures every figure and writes exactly the issue's keys."""
    out = tmp_path / "figures.json"
    done = _benchmarks("--quick", "--json", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    figures = _figures(out)
    assert set(figures) == KEYS
    assert all(_numeric(v) for v in figures.values()), figures
    for key in KEYS:
        assert key in done.stdout  # one table row per key, with its verdict
    assert "machine:" in done.stdout


def test_only_measures_just_those_keys(tmp_path: Path) -> None:
    """``--only`` measures the keys named and writes no other."""
    out = tmp_path / "figures.json"
    done = _benchmarks("--quick", "--only", "sim_capacity_ratio", "--json", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    figures = _figures(out)
    assert set(figures) == {"sim_capacity_ratio"}
    assert _numeric(figures["sim_capacity_ratio"])


def test_first_call_stops_the_run_at_its_first_bonus(tmp_path: Path) -> None:
    """
    ``first_call_ratio`` runs ``turkbatch run`` until the simulator has paid its first
    bonus, stops it there, and times that bonus from the simulator's own ledger.
    """
    out, details = tmp_path / "figures.json", tmp_path / "details.json"
    done = _benchmarks(
        "--quick", "--only", "first_call_ratio", "--json", str(out), "--details", str(details)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = _figures(out)
    assert set(figures) == {"first_call_ratio"}
    assert _numeric(figures["first_call_ratio"])
    measured = _figures(details)["measurements"]
    assert isinstance(measured, dict)
    for turn in measured["first_call"]["turns"]:
        assert turn["paid_before_stop"] >= 1, turn
        assert turn["first_call_s"] > 0 and turn["seen_after_s"] > 0, turn
        assert turn["stop"] == "killed", turn


@pytest.mark.parametrize(
    "args",
    [("--only", "engine_speed"), ("--quick", "--save"), ("--only", "peak_rss_mb", "--save")],
)
def test_bad_usage_exits_2(args: tuple[str, ...]) -> None:
    """An unknown key, or --save of anything but a full run, is a usage error (exit 2)."""
    done = _benchmarks(*args, timeout=60)
    assert done.returncode == 2, done.stderr
