"""
``turkbatch run`` as users run it: a real subprocess, timed from its own summary.

The summary's rate is requests over the engine's elapsed time (from the first operation
taken to the last finished, after validation and journal replay), printed to 0.1/s, so
``requests / rate`` recovers the elapsed time far more precisely than the printed seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from benchmarks.children import ChildError, python, run_child

_REQUESTS = re.compile(
    r"requests: (?P<requests>\d+) \((?P<rate>[\d.]+)/s\), retries: (?P<retries>\d+), "
    r"throttled: (?P<throttled>\d+), elapsed: (?P<elapsed>[\d.]+)s"
)
_TOTAL = re.compile(r"^total\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineRun:
    """
    What one ``turkbatch run`` did, from its summary and its process.

    Attributes:
        exit_code: the process's exit code (0: every operation done).
        done: operations done (including "already").
        failed: operations failed.
        skipped: operations the journal already had done.
        requests: requests sent, retries included.
        throttled: throttled answers.
        elapsed: the engine's seconds, from its summary.
        wall: seconds from spawn to exit (start-up, validation, replay included).
        peak_rss_mb: the run's peak resident set size, MiB.
    """

    exit_code: int
    done: int
    failed: int
    skipped: int
    requests: int
    throttled: int
    elapsed: float
    wall: float
    peak_rss_mb: float

    @property
    def ops_per_s(self) -> float:
        """Operations done per second of the engine's elapsed time."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def figures(self) -> dict[str, float]:
        """Return every figure, for the details file."""
        names = ("exit_code", "done", "failed", "skipped", "requests", "throttled")
        out: dict[str, float] = {name: getattr(self, name) for name in names}
        out |= {
            "elapsed_s": round(self.elapsed, 4),
            "wall_s": round(self.wall, 3),
            "ops_per_s": round(self.ops_per_s, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }
        return out


def run_turkbatch(
    job: Path,
    *,
    url: str,
    journal: Path,
    rate: float,
    concurrency: int,
    timeout: float,
    fresh: bool = True,
) -> EngineRun:
    """
    Run ``turkbatch run JOB`` against ``url`` with journal and fsync on, and measure it.

    Args:
        fresh: delete the journal first, so that nothing is skipped.

    Raises:
        ChildError: it printed no summary (a usage or journal error), or timed out.
    """
    if fresh:
        journal.unlink(missing_ok=True)
    args = python("-m", "turkbatch", "run", str(job), "--endpoint-url", url)
    args += ["--rate", f"{rate:g}", "--concurrency", str(concurrency), "--quiet"]
    args += ["--progress", "0", "--journal", str(journal)]
    result = run_child(args, timeout=timeout)
    requests, total = _REQUESTS.search(result.stdout), _TOTAL.search(result.stdout)
    if requests is None or total is None:
        raise ChildError(f"turkbatch run exited {result.returncode}:\n{result.tail()}")
    done, already, failed, skipped, _ = map(int, total.groups())
    count, rate_shown = int(requests["requests"]), float(requests["rate"])
    elapsed = count / rate_shown if rate_shown > 0 else float(requests["elapsed"])
    return EngineRun(
        exit_code=result.returncode,
        done=done + already,
        failed=failed,
        skipped=skipped,
        requests=count,
        throttled=int(requests["throttled"]),
        elapsed=elapsed,
        wall=result.wall,
        peak_rss_mb=result.peak_rss_mb,
    )
