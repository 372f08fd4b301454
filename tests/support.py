"""Helpers the payment tests share: job writers, the bonus factory, subprocesses, the ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from turkbatch import engine
from turkbatch.backoff import Backoff
from turkbatch.cli.main import main
from turkbatch.client import ClientSettings
from turkbatch.ledger import normal_amount
from turkbatch.sim import SimAdmin, Simulator

#: Retries without waiting to speak of.
FAST = Backoff(base=0.001, cap=0.01)


def bonus(n: int, amount: str = "0.25", reason: str = "thanks", **extra: Any) -> dict[str, Any]:
    """A SendBonus record for worker and assignment ``n``."""
    return {
        "op": "SendBonus",
        "WorkerId": f"A{n:011d}",
        "AssignmentId": f"3ASG{n:014d}",
        "BonusAmount": amount,
        "Reason": reason,
        **extra,
    }


def write_job(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """Write records as a JSONL job."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def settings_for(sim: Simulator, **kw: Any) -> engine.Settings:
    """Engine settings for an in-process simulator: fast retries, no pacing to speak of."""
    kw.setdefault("rate", 5000.0)
    kw.setdefault("backoff", FAST)
    return engine.Settings(client=ClientSettings(endpoint_url=sim.endpoint_url), **kw)


def paid(bonuses: Iterable[dict[str, Any]]) -> Counter[tuple[str, str, str, str]]:
    """Count payments by (worker, assignment, amount as a number, reason)."""
    return Counter(
        (b["WorkerId"], b["AssignmentId"], normal_amount(b["BonusAmount"]), b["Reason"])
        for b in bonuses
    )


def turkbatch(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m turkbatch ARGS`` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "turkbatch", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def admin(url: str, call: Callable[[SimAdmin], Any]) -> Any:
    """Run one admin call against a simulator in another process."""

    async def go() -> Any:
        async with SimAdmin(url) as a:
            return await call(a)

    return anyio.run(go)


def sim_bonuses(url: str) -> list[dict[str, Any]]:
    """Every bonus a simulator in another process has paid."""
    bonuses: list[dict[str, Any]] = admin(url, lambda a: a.ledger())["bonuses"]
    return bonuses


def received(url: str) -> dict[str, int]:
    """Requests a simulator in another process received, by operation."""
    ops = admin(url, lambda a: a.counters())["operations"]
    return {op: c["received"] for op, c in ops.items() if c["received"]}


def kill_when(proc: subprocess.Popen[str], ready: Any, timeout: float = 60) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true (or it ends)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def start_run(job: Path, url: str, journal: Path, *extra: str) -> subprocess.Popen[str]:
    """Start ``turkbatch run`` in a process of its own."""
    args = [sys.executable, "-m", "turkbatch", "run", str(job), "--endpoint-url", url]
    args += ["--journal", str(journal), "--progress", "0", "--quiet", *extra]
    return subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy()
    )


def drain(url: str, timeout: float = 10.0) -> None:
    """
    Wait until a simulator in another process has answered every request it got, and no
    more come in.

    A killed run's last requests may still be in the simulator's socket buffers or
    sleeping out their latency; tests move the clock 25 hours only after they land, as no
    request waits a day in flight to MTurk.
    """
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        totals = admin(url, lambda a: a.counters())["totals"]
        ended = sum(v for k, v in totals.items() if k != "received")
        if totals["received"] == ended and totals == last:
            return
        last = totals
        time.sleep(0.05)
    raise AssertionError("the simulator kept receiving requests after the run was killed")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command line in this process: its exit code, stdout and stderr."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's --help and usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
