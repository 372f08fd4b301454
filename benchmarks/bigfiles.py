"""
Million-line files: replaying a journal for resume, validating (and planning) a job.

Each scan runs in a child of its own beside a bare ``orjson`` loop over the same file in
the same kind of child, taking turns, for ``scan_rounds`` rounds; the ratio of their
median times counts, so a neighbour's burst of load spoils one run, not the figure.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

from benchmarks import workload
from benchmarks.children import ChildError, ChildResult, python, run_child, run_json_child
from benchmarks.measurement import Bench, Figure, Measurement, say, take_turns
from benchmarks.runs import run_turkbatch


def run_scan(bench: Bench, kind: str, path: Path) -> tuple[float, ChildResult]:
    """Run ``benchmarks.scans KIND PATH`` and return its elapsed seconds and its process."""
    args = python("-m", "benchmarks.scans", kind, str(path))
    figures, result = run_json_child(args, timeout=bench.scale.timeout)
    return figures["elapsed"], result


def _rounds(bench: Bench, kind: str, path: Path) -> tuple[float, float, float]:
    """
    Run the ``kind`` scan and the orjson loop over ``path`` ``scan_rounds`` times each,
    taking turns (:func:`~benchmarks.measurement.take_turns`).

    Returns:
        The scan's median seconds over the loop's, the scan's median seconds, and the
        scan's peak RSS (MiB, the largest of the rounds).
    """
    scans, loops = take_turns(
        bench.scale.scan_rounds,
        f"{kind} scan of {path.name}",
        lambda: run_scan(bench, kind, path),
        lambda: run_scan(bench, "orjson", path)[0],
    )
    scan = statistics.median(elapsed for elapsed, _ in scans)
    rss = max(result.peak_rss_mb for _, result in scans)
    return scan / statistics.median(loops), scan, rss


def resume_scan(bench: Bench) -> Measurement:
    """Replay a 1,000,000-record journal ÷ an orjson loop; and a real resume's peak RSS."""
    records = bench.scale.big_lines
    journal = bench.work / "resume.journal.jsonl"
    say(f"resume: writing a {records}-record journal")
    keys = workload.write_journal(journal, records, tag="RES")
    ratio, replay, replay_rss = _rounds(bench, "journal", journal)
    resume = _real_resume(bench, journal, keys)
    figure = Figure(
        key="resume_scan_ratio",
        value=ratio,
        baseline=f"Journal.read {replay:.2f} s vs orjson loop {replay / ratio:.2f} s "
        f"({records} records)",
    )
    details = {
        "records": records,
        "journal_bytes": journal.stat().st_size,
        "journal_read_s": replay,
        "orjson_loop_s": replay / ratio,
        "journal_read_peak_rss_mb": round(replay_rss, 1),
        "turkbatch_run_resume": resume,
    }
    peak = {
        f"Journal.read, {records} records": replay_rss,
        f"turkbatch run resuming from {records} records": resume["peak_rss_mb"],
    }
    return Measurement(figures=[figure], details=details, peak_rss=peak)


def _real_resume(bench: Bench, journal: Path, keys: int) -> dict[str, float]:
    """
    Run ``turkbatch run`` on the job the journal finished: it must skip every line.

    The journal's run record names no real job digest, so the run notes a changed job;
    that costs nothing and changes nothing else.
    """
    job = workload.write_bonus_job(bench.work / "resume.jsonl", keys, tag="RES", with_id=True)
    copy = bench.work / "resume-copy.journal.jsonl"  # a run appends: keep the original
    shutil.copyfile(journal, copy)
    say(f"resume: turkbatch run of a {keys}-line job its journal finished")
    run = run_turkbatch(
        job,
        url=bench.sim.url,
        journal=copy,
        rate=10.0,
        concurrency=16,
        timeout=bench.scale.timeout,
        fresh=False,
    )
    if run.exit_code != 0 or run.skipped != keys or run.requests:
        raise ChildError(f"resume: exit {run.exit_code}, {run.skipped}/{keys} skipped")
    copy.unlink()
    job.unlink()
    return run.figures()


def plan_command(url: str) -> list[str] | None:
    """
    Return ``turkbatch plan``'s command line without the job, if this turkbatch has it.

    ``plan`` may look the balance up: it is pointed at the simulator (or told to stay
    offline), never at a real endpoint.
    """
    probe = run_child(python("-m", "turkbatch", "plan", "--help"), timeout=60)
    if probe.returncode != 0:
        return None
    command = python("-m", "turkbatch", "plan", "--output", "json")
    if "--endpoint-url" in probe.stdout:
        return [*command, "--endpoint-url", url]
    if "--offline" in probe.stdout:
        return [*command, "--offline"]
    return command


def validate(bench: Bench) -> Measurement:
    """Validate a 1,000,000-line job ÷ an orjson loop; and the peak RSS of planning it."""
    lines = bench.scale.big_lines
    job = bench.work / "validate.jsonl"
    say(f"validate: writing a {lines}-line job")
    workload.write_mixed_job(job, lines)
    ratio, checked, check_rss = _rounds(bench, "validate", job)
    figure = Figure(
        key="validate_ratio",
        value=ratio,
        baseline=f"check_job {checked:.2f} s vs orjson loop {checked / ratio:.2f} s "
        f"({lines} lines)",
    )
    details = {
        "lines": lines,
        "job_bytes": job.stat().st_size,
        "check_job_s": checked,
        "orjson_loop_s": checked / ratio,
        "check_job_peak_rss_mb": round(check_rss, 1),
    }
    peak = {f"check_job, {lines} lines": check_rss}
    plan = plan_command(bench.sim.url)
    if plan is not None:
        say(f"validate: turkbatch plan of the {lines}-line job")
        result = run_child([*plan, str(job)], timeout=bench.scale.timeout)
        if result.returncode != 0:
            raise ChildError(f"turkbatch plan exited {result.returncode}:\n{result.tail()}")
        details["plan"] = {"wall_s": result.wall, "peak_rss_mb": round(result.peak_rss_mb, 1)}
        peak[f"turkbatch plan, {lines} lines"] = result.peak_rss_mb
    return Measurement(figures=[figure], details=details, peak_rss=peak)
