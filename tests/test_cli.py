"""The command line end to end: real processes, real signals, a simulator subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from turkbatch.sim import SimAdmin

ROOT = Path(__file__).resolve().parent.parent


def turkbatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m turkbatch`` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "turkbatch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=os.environ.copy(),
    )


def write_bonuses(path: Path, n: int) -> Path:
    """Write a job of n distinct bonuses."""
    lines = [
        orjson.dumps(
            {
                "op": "SendBonus",
                "WorkerId": f"A{i:010d}",
                "AssignmentId": f"3ASSIGN{i:010d}",
                "BonusAmount": "0.10",
                "Reason": "thanks",
            }
        )
        for i in range(n)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def ledger(url: str) -> dict[str, Any]:
    """Fetch the simulator's ledger through its admin API."""

    async def fetch() -> dict[str, Any]:
        async with SimAdmin(url) as admin:
            return await admin.ledger()

    return anyio.run(fetch)


def test_demo_job_runs_and_resumes(tmp_path: Path) -> None:
    """The README's demo job runs on the embedded simulator; a second run skips it all."""
    journal = tmp_path / "demo.journal.jsonl"
    first = turkbatch("run", str(ROOT / "jobs" / "demo.jsonl"), "--sim", "--journal", str(journal))
    assert first.returncode == 0, first.stderr
    assert "SendBonus" in first.stdout and "1.75" in first.stdout
    second = turkbatch(
        "run", str(ROOT / "jobs" / "demo.jsonl"), "--sim", "--journal", str(journal), "--quiet"
    )
    assert second.returncode == 0, second.stderr
    assert "requests: 0" in second.stdout


def test_invalid_job_exits_2_with_line_numbers(tmp_path: Path) -> None:
    """Every bad line is reported compiler-style and the exit code is 2."""
    job = tmp_path / "bad.jsonl"
    job.write_text('{"op": "SendBonus"}\n# fine\n{not json\n')
    result = turkbatch("run", str(job), "--sim")
    assert result.returncode == 2
    assert f"{job}:1:" in result.stderr and f"{job}:3:" in result.stderr
    assert "nothing was sent" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    """Conflicting endpoints and a missing file are usage errors, and --help explains."""
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    assert turkbatch("run", str(job), "--sim", "--production").returncode == 2
    assert turkbatch("run", str(tmp_path / "missing.jsonl"), "--sim").returncode == 2
    helped = turkbatch("run", "--help")
    assert helped.returncode == 0 and "exit codes" in helped.stdout and "--rate" in helped.stdout


def test_production_needs_confirmation(tmp_path: Path) -> None:
    """--production without a terminal and without --yes refuses before sending anything."""
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    result = turkbatch("run", str(job), "--production")
    assert result.returncode == 2 and "--yes" in result.stderr


@pytest.mark.parametrize("signals", [1, 2])
def test_interrupt_and_resume_pays_each_bonus_once(
    sim_process: Callable[..., str], tmp_path: Path, signals: int
) -> None:
    """SIGINT (once: graceful; twice: at once) exits 130; running again finishes exactly once."""
    url = sim_process("--latency", "100")
    n = 120
    job = write_bonuses(tmp_path / "job.jsonl", n)
    args = [
        sys.executable,
        "-m",
        "turkbatch",
        "run",
        str(job),
        "--endpoint-url",
        url,
        "--concurrency",
        "8",
        "--rate",
        "40",
        "--progress",
        "0",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(ledger(url)["bonuses"]) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(signals):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Resume with" in err
    paid_before = len(ledger(url)["bonuses"])
    assert paid_before < n
    resumed = turkbatch(
        "run",
        str(job),
        "--endpoint-url",
        url,
        "--concurrency",
        "16",
        "--rate",
        "500",
        "--quiet",
    )
    assert resumed.returncode == 0, resumed.stderr
    paid = Counter(b["AssignmentId"] for b in ledger(url)["bonuses"])
    assert len(paid) == n and set(paid.values()) == {1}
