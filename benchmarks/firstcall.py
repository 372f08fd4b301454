"""
The wait before the first payment: from starting ``turkbatch run`` on a million-line
SendBonus job to the simulator receiving its first SendBonus, over a bare orjson loop.

The run is a real subprocess with the CLI's defaults (typo guard and balance check on; the
bonuses are one cent, under the $10.00 typo guard), its journal the default one beside the
job, deleted before every turn so that every turn is a first run. The simulator runs in a
process of its own, with a balance that covers the job (the balance check refuses a
million one-cent bonuses against the default $10,000: with fees they cost $20,000).

When it is received: the simulator stamps every bonus it pays with ``GrantTime``, its
clock's epoch seconds (``time.time()`` plus the clock's offset) read as it handles the
SendBonus, once the request's small body has been read, well under a millisecond after the
request arrived on loopback. The start is ``time.time()`` read just before the run is
spawned, on the same clock of the same machine, so the first bonus's ``GrantTime`` minus
the offset minus the start is the wait, to about a millisecond, however often the
benchmark looks. It looks only to know when to stop the run: at the journal file every
:data:`POLL` seconds (a ``stat``, which costs nothing; ``run`` creates the journal just
before it starts sending), then at the simulator's counters until a SendBonus is counted.
Then the run is killed (SIGKILL to its session: it is abandoned and its journal deleted,
and an interrupted million-line run took a further ~13 s to stop). A reset before each
turn makes the first bonus in the ledger that turn's.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import statistics
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from benchmarks import workload
from benchmarks.bigfiles import run_scan
from benchmarks.children import ROOT, ChildError, child_env, python
from benchmarks.measurement import Bench, Figure, Measurement, say, take_turns
from benchmarks.simulator import SimProcess, simulator
from turkbatch.sim.control import ADMIN_PREFIX

POLL = 0.01
"""Seconds between looks at the journal, then at the simulator's counters."""

COST = Decimal("0.02")
"""What one bonus of the job costs with MTurk's minimum fee: one cent plus one cent."""


def funding(lines: int) -> str:
    """Return a starting balance that covers ``lines`` one-cent bonuses twice over."""
    return f"{max(Decimal('10000.00'), 2 * lines * COST):.2f}"


def first_call(bench: Bench) -> Measurement:
    """Seconds to the first SendBonus of a 1,000,000-line run ÷ an orjson loop over it."""
    lines = bench.scale.big_lines
    job = bench.work / "firstcall.jsonl"
    say(f"first call: writing a {lines}-line SendBonus job")
    workload.write_bonus_job(job, lines, tag="FST")
    with simulator(balance=funding(lines)) as sim:
        turns, loops = take_turns(
            bench.scale.scan_rounds,
            f"first call of a {lines}-line run",
            lambda: _turn(sim, job, timeout=bench.scale.timeout),
            lambda: run_scan(bench, "orjson", job)[0],
        )
    wait = statistics.median(t["first_call_s"] for t in turns)
    loop = statistics.median(loops)
    figure = Figure(
        key="first_call_ratio",
        value=wait / loop,
        baseline=f"first SendBonus {wait:.2f} s after start vs orjson loop {loop:.2f} s "
        f"({lines} lines)",
    )
    details = {
        "lines": lines,
        "job_bytes": job.stat().st_size,
        "first_call_s": wait,
        "orjson_loop_s": loop,
        "turns": turns,
        "orjson_loops_s": loops,
    }
    job.unlink()
    return Measurement(figures=[figure], details=details)


def _journal(job: Path) -> Path:
    """Return the run's default journal: ``firstcall.jsonl`` → ``firstcall.journal.jsonl``."""
    return job.with_suffix(".journal.jsonl")


def _turn(sim: SimProcess, job: Path, *, timeout: float) -> dict[str, Any]:
    """
    Run ``turkbatch run JOB`` until the simulator has its first SendBonus, then kill it.

    Returns:
        ``first_call_s`` (start to the first bonus's GrantTime) and what else was seen.

    Raises:
        ChildError: the run ended, or ran ``timeout`` seconds, before sending a bonus.
    """
    journal = _journal(job)
    journal.unlink(missing_ok=True)
    sim.reset()
    args = python("-m", "turkbatch", "run", str(job), "--endpoint-url", sim.url)
    with _Admin(sim.url) as admin, tempfile.TemporaryFile() as out:
        offset = float(admin.get("clock")["offset"])  # and the connection is open
        started = time.time()
        proc = subprocess.Popen(
            args, cwd=ROOT, env=child_env(), stdout=out, stderr=out, start_new_session=True
        )
        try:
            seen = _first_bonus(admin, proc, journal, started + timeout)
        finally:
            stopped, rss = _kill(proc)
            journal.unlink(missing_ok=True)
        if seen is None:
            raise ChildError(
                f"turkbatch run exited {proc.returncode} before a bonus:\n{_tail(out)}"
            )
        bonuses = admin.get("ledger")["bonuses"]
    if not bonuses:
        raise ChildError("the simulator counted a SendBonus but paid none")
    granted = min(float(b["GrantTime"]) for b in bonuses) - offset
    return {
        "first_call_s": round(granted - started, 4),
        "seen_after_s": round(seen - started, 4),
        "paid_before_stop": len(bonuses),
        "stop": stopped,
        "peak_rss_mb": None if rss is None else round(rss, 1),
    }


class _Admin:
    """
    GET requests to the simulator's admin API over one kept-alive loopback connection:
    a look at the counters costs the simulator and the benchmark a fraction of a
    millisecond, so looking every :data:`POLL` seconds takes nothing from the run.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)

    def __enter__(self) -> _Admin:
        return self

    def __exit__(self, *_: object) -> None:
        self._conn.close()

    def get(self, name: str) -> Any:
        """Return the JSON answer of ``GET /_turkbatch/NAME`` (reconnecting once if closed)."""
        try:
            self._conn.request("GET", ADMIN_PREFIX + name)
            response = self._conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):  # idle too long
            self._conn.close()
            self._conn.request("GET", ADMIN_PREFIX + name)
            response = self._conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise ChildError(f"GET {ADMIN_PREFIX}{name}: HTTP {response.status} {body[:200]!r}")
        return orjson.loads(body)


def _first_bonus(
    admin: _Admin, proc: subprocess.Popen[bytes], journal: Path, deadline: float
) -> float | None:
    """
    Wait for the journal to appear, then poll the counters until a SendBonus is received;
    return when it was seen (epoch seconds), or None if the run exited first.

    Raises:
        ChildError: ``deadline`` passed.
    """
    while time.time() < deadline:
        if journal.exists():
            counters = admin.get("counters")
            if counters["operations"].get("SendBonus", {}).get("received", 0):
                return time.time()
        if proc.poll() is not None:
            return None
        time.sleep(POLL)
    raise ChildError("turkbatch run sent no bonus before the timeout")


def _kill(proc: subprocess.Popen[bytes]) -> tuple[str, float | None]:
    """
    Kill the run and anything it started (its session), and reap it.

    Returns:
        How it ended, and its peak RSS (MiB) up to then, when it was still there to reap.
    """
    if proc.poll() is not None:
        return f"exited {proc.returncode}", None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
    return "killed", usage.ru_maxrss / 1024


def _tail(out: IO[bytes], lines: int = 15) -> str:
    out.seek(0)
    text = out.read().decode(errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:])
