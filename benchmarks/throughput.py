"""
Throughput and memory of ``turkbatch run`` against the simulator, each beside its baseline.

Every run gets a fresh journal (fsync on) and a freshly reset simulator, so every
operation is really sent; fault settings are restored after each measurement.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks import workload
from benchmarks.children import ChildError, python, run_json_child
from benchmarks.measurement import UNLIMITED_RATE, Bench, Figure, Measurement, say, take_turns
from benchmarks.runs import EngineRun, run_turkbatch

HIDING_RATE = 10_000.0
"""``--rate`` of the latency runs: high enough that only concurrency and latency limit."""

ADAPTIVE_CONCURRENCY = 16
"""Calls in flight in the adaptive run: turkbatch's default."""


def _engine(bench: Bench, job: Path, *, concurrency: int, rate: float) -> EngineRun:
    """Run ``turkbatch run`` on ``job`` against a freshly reset simulator."""
    bench.sim.reset()
    journal = job.with_suffix(".journal.jsonl")
    return run_turkbatch(
        job,
        url=bench.sim.url,
        journal=journal,
        rate=rate,
        concurrency=concurrency,
        timeout=bench.scale.timeout,
    )


def _complete(run: EngineRun, expected: int, what: str) -> EngineRun:
    """Return ``run`` if every one of ``expected`` operations was done; raise otherwise."""
    if run.exit_code != 0 or run.done != expected:
        raise ChildError(f"{what}: exit {run.exit_code}, {run.done}/{expected} done")
    return run


def _loop(bench: Bench, kind: str, job: Path, concurrency: int) -> dict[str, float]:
    """Run a baseline loop (``aiobotocore`` or ``boto3``) on ``job`` against a reset simulator."""
    bench.sim.reset()
    args = python("-m", "benchmarks.loads", kind, bench.sim.url, str(job))
    figures, _ = run_json_child(
        [*args, "--concurrency", str(concurrency)], timeout=bench.scale.timeout
    )
    if figures["errors"]:
        raise ChildError(f"the {kind} loop had {figures['errors']:.0f} errors")
    return figures


def engine_overhead(bench: Bench) -> Measurement:
    """
    ``turkbatch run`` ÷ a bare aiobotocore loop, same calls, concurrency and simulator.

    The figure is the median of turkbatch's runs over the median of the loop's, the two
    taking turns (:func:`~benchmarks.measurement.take_turns`).
    """
    s = bench.scale
    ops, concurrency = s.overhead_ops, s.overhead_concurrency
    job = workload.write_bonus_job(bench.work / "overhead.jsonl", ops, tag="OVH")

    def engine_run() -> EngineRun:
        run = _engine(bench, job, concurrency=concurrency, rate=UNLIMITED_RATE)
        return _complete(run, ops, "turkbatch run")

    engine, bare = take_turns(
        s.overhead_rounds,
        f"engine overhead ({ops} SendBonus at concurrency {concurrency})",
        engine_run,
        lambda: _loop(bench, "aiobotocore", job, concurrency),
    )
    turkbatch_rate = statistics.median(r.ops_per_s for r in engine)
    bare_rate = statistics.median(b["per_s"] for b in bare)
    figure = Figure(
        key="engine_overhead_ratio",
        value=turkbatch_rate / bare_rate,
        baseline=f"turkbatch {turkbatch_rate:.0f} vs aiobotocore {bare_rate:.0f} ops/s "
        f"(c={concurrency}, {ops} ops, medians of {len(engine)} runs each)",
    )
    details = {
        "operations": ops,
        "concurrency": concurrency,
        "round_ratios": [
            round(e.ops_per_s / b["per_s"], 4) for e, b in zip(engine, bare, strict=True)
        ],
        "turkbatch_runs": [r.figures() for r in engine],
        "aiobotocore_runs": bare,
    }
    return Measurement(figures=[figure], details=details)


def _curve_ops(bench: Bench, concurrency: int) -> int:
    """Operations for one curve point: ``curve_seconds`` at the ideal rate, within bounds."""
    s = bench.scale
    ideal = concurrency * 1000.0 / s.latency_ms
    return max(20, min(s.curve_max_ops, round(ideal * s.curve_seconds)))


def _curve_point(bench: Bench, concurrency: int) -> EngineRun:
    ops = _curve_ops(bench, concurrency)
    say(f"latency {bench.scale.latency_ms:g} ms: turkbatch run, {ops} ops at c={concurrency}")
    job = workload.write_bonus_job(
        bench.work / f"curve{concurrency}.jsonl", ops, tag=f"C{concurrency}"
    )
    run = _engine(bench, job, concurrency=concurrency, rate=HIDING_RATE)
    return _complete(run, ops, f"turkbatch run at concurrency {concurrency}")


def latency_hiding(bench: Bench) -> Measurement:
    """The throughput curve at 100 ms latency; its top concurrency ÷ a sequential boto3 loop."""
    s = bench.scale
    bench.sim.admin("set_faults", latency_ms=s.latency_ms)
    try:
        say(f"latency {s.latency_ms:g} ms: sequential boto3 loop, {s.boto3_ops} SendBonus")
        job = workload.write_bonus_job(bench.work / "boto3.jsonl", s.boto3_ops, tag="SEQ")
        boto3 = _loop(bench, "boto3", job, 1)
        points = {c: _curve_point(bench, c) for c in s.curve}
    finally:
        bench.sim.admin("reset", faults=True)
    top = s.curve[-1]
    hiding = points[top].ops_per_s
    figure = Figure(
        key="latency_hiding_ratio",
        value=hiding / boto3["per_s"],
        baseline=f"turkbatch {hiding:.0f} ops/s (c={top}) vs boto3 {boto3['per_s']:.2f} ops/s",
    )
    curve = {
        "latency_ms": s.latency_ms,
        "boto3_sequential_ops_per_s": boto3["per_s"],
        "turkbatch": [
            {"concurrency": c, "ops_per_s": round(run.ops_per_s, 2), "operations": run.done}
            for c, run in points.items()
        ],
    }
    details = {"boto3": boto3, "curve": curve, "runs": {c: r.figures() for c, r in points.items()}}
    return Measurement(figures=[figure], details=details)


def adaptive_rate(bench: Bench) -> Measurement:
    """``--rate 1000`` against a simulator throttling at 100/s: what gets through, and how."""
    s = bench.scale
    ops = s.adaptive_ops
    job = workload.write_bonus_job(bench.work / "adaptive.jsonl", ops, tag="ADA")
    say(f"throttled at {s.throttle_rate:g}/s: --rate {s.adaptive_ceiling:g}, {ops} ops")
    bench.sim.reset()
    bench.sim.admin("set_faults", throttle_rate=s.throttle_rate, throttle_burst=s.throttle_burst)
    try:
        run = run_turkbatch(
            job,
            url=bench.sim.url,
            journal=job.with_suffix(".journal.jsonl"),
            rate=s.adaptive_ceiling,
            concurrency=ADAPTIVE_CONCURRENCY,
            timeout=s.timeout,
        )
        totals = bench.sim.totals()
    finally:
        bench.sim.admin("reset", faults=True)
    failed = run.failed + (ops - run.done)
    problem = None if run.exit_code == 0 and not failed else f"{failed} ops not done"
    success = run.done / run.elapsed
    throttled = totals["throttled"] / max(1, totals["received"])
    figures = [
        Figure(
            key="adaptive_rate_ratio",
            value=success / s.throttle_rate,
            baseline=f"{success:.1f} ok ops/s vs {s.throttle_rate:g}/s allowed, {failed} failed",
            problem=problem,
        ),
        Figure(
            key="throttled_fraction",
            value=throttled,
            baseline=f"{totals['throttled']} throttled of {totals['received']} requests",
        ),
    ]
    details = {
        "run": run.figures(),
        "simulator_counters": totals,
        "concurrency": ADAPTIVE_CONCURRENCY,
    }
    return Measurement(figures=figures, details=details)


def memory(bench: Bench) -> Measurement:
    """Peak RSS of a large run ÷ that of a run a tenth its size: does memory grow with the job?"""
    s = bench.scale
    runs: dict[int, EngineRun] = {}
    for ops in (s.memory_small, s.memory_large):
        say(f"memory: turkbatch run, {ops} SendBonus at c={s.memory_concurrency}")
        job = workload.write_bonus_job(bench.work / f"memory{ops}.jsonl", ops, tag=f"M{ops}")
        run = _engine(bench, job, concurrency=s.memory_concurrency, rate=UNLIMITED_RATE)
        runs[ops] = _complete(run, ops, f"turkbatch run of {ops} ops")
        job.unlink()
    small, large = runs[s.memory_small], runs[s.memory_large]
    figure = Figure(
        key="memory_growth_ratio",
        value=large.peak_rss_mb / small.peak_rss_mb,
        baseline=f"{large.peak_rss_mb:.1f} MiB ({s.memory_large} ops) vs "
        f"{small.peak_rss_mb:.1f} MiB ({s.memory_small} ops)",
    )
    details = {str(ops): run.figures() for ops, run in runs.items()}
    peak = {f"turkbatch run, {s.memory_large} ops": large.peak_rss_mb}
    return Measurement(figures=[figure], details=details, peak_rss=peak)
