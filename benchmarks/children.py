"""
Measured child processes: run one command, and know its exit, output, wall time and peak RSS.

Each measured program runs as a direct child of the benchmark process and is reaped with
``os.wait4``, whose resource usage belongs to that one process (and to children of its own
it waited for; none of the measured programs has any). ``ru_maxrss`` is its peak resident
set, the kernel's high-water mark, so no sampling can miss a peak.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
"""The project root: children run here, so ``-m benchmarks`` and ``-m turkbatch`` resolve."""

POLL = 0.01
"""Seconds between checks for a child's exit."""

#: Fake credentials: every endpoint here is a simulator on loopback that checks no signature.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDBENCHMARK0000000",
    "AWS_SECRET_ACCESS_KEY": "benchmark-secret-not-real",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


class ChildError(RuntimeError):
    """A measured child failed, timed out, or printed something unexpected."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildResult:
    """
    How one child process ended.

    Attributes:
        returncode: its exit code (negative: killed by that signal).
        stdout: what it printed on standard output.
        stderr: what it printed on standard error.
        wall: seconds from spawn to exit.
        peak_rss_mb: its peak resident set size, MiB.
    """

    returncode: int
    stdout: str
    stderr: str
    wall: float
    peak_rss_mb: float

    def tail(self, lines: int = 15) -> str:
        """Return the last lines of standard error, for error messages."""
        return "\n".join(self.stderr.strip().splitlines()[-lines:])


def python(*args: str) -> list[str]:
    """Return the command line running this interpreter with ``args``."""
    return [sys.executable, *args]


def child_env() -> dict[str, str]:
    """Return this environment with every real ``AWS_*`` variable replaced by the fakes."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(FAKE_CREDENTIALS)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_child(args: Sequence[str], *, timeout: float) -> ChildResult:
    """
    Run ``args`` from the project root to completion and measure it.

    Raises:
        ChildError: it ran longer than ``timeout`` seconds (it is killed).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(args), cwd=ROOT, env=child_env(), stdout=out, stderr=err)
        try:
            usage = _reap(proc, timeout)
        finally:
            if proc.returncode is None:
                proc.kill()
                proc.wait()
        wall = time.perf_counter() - started
        return ChildResult(
            returncode=proc.returncode,
            stdout=_text(out),
            stderr=_text(err),
            wall=wall,
            peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        )


def run_json_child(args: Sequence[str], *, timeout: float) -> tuple[dict[str, float], ChildResult]:
    """
    Run a child that prints one JSON object as its last stdout line; return it and the run.

    Raises:
        ChildError: it failed, timed out or printed no JSON object.
    """
    import orjson

    result = run_child(args, timeout=timeout)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise ChildError(f"{' '.join(args)} exited {result.returncode}:\n{result.tail()}")
    try:
        figures = orjson.loads(lines[-1])
    except orjson.JSONDecodeError as exc:
        raise ChildError(f"{' '.join(args)} printed no JSON: {lines[-1]!r}") from exc
    return figures, result


def _reap(proc: subprocess.Popen[bytes], timeout: float) -> resource.struct_rusage:
    """Wait for ``proc`` with ``wait4`` (its own resource usage), up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            # Tell Popen it is reaped, so it never signals or waits for a recycled pid.
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        time.sleep(POLL)
    command = " ".join(map(str, proc.args)) if isinstance(proc.args, list) else str(proc.args)
    raise ChildError(f"{command} ran longer than {timeout:.0f} s")


def _text(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace")
