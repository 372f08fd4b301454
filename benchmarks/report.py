"""
What the benchmark shows: the table, the JSON files, and the throughput plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks.machine import one_line
from benchmarks.measurement import Figure
from benchmarks.targets import BY_KEY

RESULTS = Path(__file__).resolve().parent / "results"
"""Where ``--save`` writes: committed with the code that produced it."""


def shown(value: float) -> str:
    """Format a figure with about three significant digits."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def verdict(figure: Figure) -> str:
    """Return ``ok``, or ``MISSED`` with the reason when it is not the value alone."""
    if figure.problem:
        return f"MISSED ({figure.problem})"
    return "ok" if BY_KEY[figure.key].met(figure.value) else "MISSED"


def table(figures: Sequence[Figure], machine: Mapping[str, Any], *, quick: bool = False) -> str:
    """Return the results table: key, value, target, verdict and the baseline figures."""
    rows = [("key", "value", "target", "result", "baseline")]
    rows += [
        (f.key, shown(f.value), BY_KEY[f.key].shown(), verdict(f), f.baseline) for f in figures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[4]]) for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in [*widths, len(rows[0][4])]))
    missed = [f.key for f in figures if verdict(f) != "ok"]
    lines.append("")
    lines.append(f"machine: {one_line(machine)}; load average {machine['load_average']}")
    lines.append(f"MISSED: {', '.join(missed)}" if missed else "every target met")
    if quick:
        lines.append("--quick: sizes too small for these figures to mean anything")
    return "\n".join(lines)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON, keys in the order given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
    )


def plot(curve: Mapping[str, Any], machine: Mapping[str, Any], path: Path) -> bool:
    """
    Plot throughput against concurrency for turkbatch and the sequential boto3 loop.

    Returns:
        Whether the plot was written (matplotlib is an optional, ``bench`` dependency).
    """
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = curve["turkbatch"]
    xs = [p["concurrency"] for p in points]
    ideal = [c * 1000.0 / curve["latency_ms"] for c in xs]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.plot(xs, [p["ops_per_s"] for p in points], "o-", label="turkbatch run")
    ax.plot(xs, ideal, ":", color="grey", label="concurrency ÷ latency (ideal)")
    boto3 = curve["boto3_sequential_ops_per_s"]
    ax.axhline(boto3, color="tab:red", linestyle="--", label="sequential boto3 loop")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("concurrency (calls in flight)")
    ax.set_ylabel("SendBonus operations per second")
    ax.set_title(f"Throughput at {curve['latency_ms']:g} ms simulated latency", fontsize=11)
    ax.text(0.01, -0.2, one_line(machine), transform=ax.transAxes, fontsize=7, color="grey")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True
