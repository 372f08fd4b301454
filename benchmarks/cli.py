"""
``python -m benchmarks``: measure, print the table, write the JSON (and, with --save, the
committed results).

Exit codes: 0 every figure was measured (targets missed or not: this is a measurement) ·
1 a measurement could not be made (a child failed; the others still ran) · 2 bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import bigfiles, capacity, firstcall, throughput
from benchmarks.children import ChildError
from benchmarks.machine import describe
from benchmarks.measurement import Bench, Figure, Measurement, say
from benchmarks.report import RESULTS, plot, table, verdict, write_json
from benchmarks.scale import FULL, QUICK
from benchmarks.simulator import simulator
from benchmarks.targets import BY_KEY, KEYS

PEAK = "peak_rss_mb"

#: Each measurement and the keys it gives (or, for peak_rss_mb, contributes to).
MEASUREMENTS: dict[str, tuple[Callable[[Bench], Measurement], tuple[str, ...]]] = {
    "engine_overhead": (throughput.engine_overhead, ("engine_overhead_ratio",)),
    "latency_hiding": (throughput.latency_hiding, ("latency_hiding_ratio",)),
    "adaptive_rate": (throughput.adaptive_rate, ("adaptive_rate_ratio", "throttled_fraction")),
    "memory": (throughput.memory, ("memory_growth_ratio", PEAK)),
    "resume_scan": (bigfiles.resume_scan, ("resume_scan_ratio", PEAK)),
    "validate": (bigfiles.validate, ("validate_ratio", PEAK)),
    "first_call": (firstcall.first_call, ("first_call_ratio",)),
    "sim_capacity": (capacity.sim_capacity, ("sim_capacity_ratio",)),
}


def _keys(text: str | None) -> tuple[str, ...]:
    if text is None:
        return KEYS
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(
            f"unknown key(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(KEYS)}"
        )
    return keys


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure turkbatch against baselines run on the same machine, in the same "
        "run, and print every figure beside its target.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--only", type=_keys, metavar="KEY[,KEY]", help="measure these keys")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write {key: value} here")
    parser.add_argument(
        "--details", type=Path, metavar="PATH", help="write every raw figure and the machine here"
    )
    parser.add_argument(
        "--save",
        action="store_true",
        help=f"write latest.json, latest-details.json and the plot to {RESULTS}",
    )
    return parser


def measure(keys: Sequence[str], *, quick: bool) -> tuple[list[Figure], dict[str, Any], list[str]]:
    """
    Run every measurement that gives one of ``keys``, against one simulator process.

    Returns:
        The figures (in table order), the details, and the measurements that failed.
    """
    scale = QUICK if quick else FULL
    results: dict[str, Measurement] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="turkbatch-bench-") as work, simulator() as sim:
        bench = Bench(scale=scale, sim=sim, work=Path(work))
        for name, (run, gives) in MEASUREMENTS.items():
            if not set(gives) & set(keys):
                continue
            try:
                results[name] = run(bench)
            except ChildError as exc:
                say(f"{name} could not be measured: {exc}")
                failed.append(name)
    figures = {f.key: f for m in results.values() for f in m.figures}
    peaks = {part: mb for m in results.values() for part, mb in m.peak_rss.items()}
    if peaks and not failed:
        part = max(peaks, key=peaks.__getitem__)
        figures[PEAK] = Figure(key=PEAK, value=peaks[part], baseline=f"largest: {part}")
    details = {
        "scale": dataclasses.asdict(scale),
        "peak_rss_parts_mb": {part: round(mb, 1) for part, mb in peaks.items()},
        "measurements": {name: m.details for name, m in results.items()},
    }
    return [figures[k] for k in KEYS if k in keys and k in figures], details, failed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and return the exit code."""
    args = build_parser().parse_args(argv)
    keys = args.only or KEYS
    if args.save and (args.quick or args.only):
        print("benchmarks: --save records a full run: not with --quick or --only", file=sys.stderr)
        return 2
    started = time.monotonic()
    machine = describe()
    try:
        figures, details, failed = measure(keys, quick=args.quick)
    except ChildError as exc:  # the simulator did not start: nothing can be measured
        print(f"benchmarks: {exc}", file=sys.stderr)
        return 1
    machine["load_average_after"] = list(describe()["load_average"])
    elapsed = time.monotonic() - started
    print(table(figures, machine, quick=args.quick))
    print(f"measured in {elapsed:.0f} s")
    values = {f.key: round(f.value, 4) for f in figures}
    if args.json:
        write_json(args.json, values)
    if args.details:
        write_json(args.details, _details(figures, details, machine, elapsed))
    if args.save:
        _save(values, figures, details, machine, elapsed)
    if failed:
        print(f"benchmarks: not measured: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _details(
    figures: list[Figure], details: dict[str, Any], machine: dict[str, Any], elapsed: float
) -> dict[str, Any]:
    """Return the details file: the machine, each figure with its verdict, every raw figure."""
    targets = {
        f.key: {
            "value": f.value,
            "target": BY_KEY[f.key].shown(),
            "result": verdict(f),
            "baseline": f.baseline,
        }
        for f in figures
    }
    return {"machine": machine, "elapsed_s": round(elapsed, 1), "figures": targets, **details}


def _save(
    values: dict[str, float],
    figures: list[Figure],
    details: dict[str, Any],
    machine: dict[str, Any],
    elapsed: float,
) -> None:
    """Write the committed results: the figures, the details and the throughput plot."""
    write_json(RESULTS / "latest.json", values)
    write_json(RESULTS / "latest-details.json", _details(figures, details, machine, elapsed))
    curve = details["measurements"].get("latency_hiding", {}).get("curve")
    if curve:
        write_json(RESULTS / "throughput.json", {"machine": machine, **curve})
        if not plot(curve, machine, RESULTS / "throughput.png"):
            say("matplotlib is not installed (pip install -e '.[bench]'): no plot")
