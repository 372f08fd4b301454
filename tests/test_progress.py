"""Progress: the terminal bar and the plain lines, in-process and end to end."""

from __future__ import annotations

import fcntl
import io
import json
import os
import struct
import subprocess
import sys
import termios
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import orjson
from structlog.testing import capture_logs

from turkbatch.progress import Bar, Lines, Pace, clock
from turkbatch.summary import Snapshot

SNAP = Snapshot(
    total=200,
    done=90,
    failed=2,
    skipped=8,
    pending=0,
    in_flight=16,
    requests=95,
    retries=3,
    throttles=1,
    rate_ceiling=10.0,
    bonus_paid=Decimal("45.00"),
    fees_paid=Decimal("9.00"),
    elapsed=10.0,
)


def test_bar_shows_everything_on_a_wide_terminal() -> None:
    """Done, failed, in flight, rate and ceiling, throttles, ETA and money, in one line."""
    line = Bar(io.StringIO(), width=200).line(SNAP)
    assert line.startswith("[########........]  50% 100/200")
    for part in ("2 failed", "8 skipped", "16 in flight", "/10.0 req/s", "1 throttled"):
        assert part in line, part
    assert "ETA 0:11" in line and "paid $45.00 + $9.00 fees" in line


def test_bar_drops_the_least_important_first() -> None:
    """On a narrow terminal the line never wraps; the counts and the money stay longest."""
    line = Bar(io.StringIO(), width=70).line(SNAP)
    assert len(line) <= 69 and "100/200" in line and "2 failed" in line
    assert "throttled" not in line and "skipped" not in line
    assert len(Bar(io.StringIO(), width=10).line(SNAP)) <= 9


def test_bar_redraws_in_place_and_log_lines_clear_it() -> None:
    """Each draw returns to the line start; a log write erases the bar first."""
    out = io.StringIO()
    bar = Bar(out, width=120)
    bar(SNAP)
    bar(replace(SNAP, done=100))
    guarded = bar.guard()
    guarded.write("log line\n")
    assert not bar.visible
    text = out.getvalue()
    assert text.count("\r\x1b[K[") == 2 and text.endswith("\r\x1b[Klog line\n")
    bar.clear()  # nothing showing: nothing written
    assert out.getvalue() == text


def test_lines_log_progress_events() -> None:
    """Plain mode: one run.progress event per snapshot, with percent, rate and ETA."""
    with capture_logs() as events:
        Lines()(SNAP)
    (event,) = events
    assert event["event"] == "run.progress" and event["percent"] == 50
    assert event["eta_s"] == 11 and event["bonus_paid"] == "45.00"


def test_pace_and_clock() -> None:
    """The request rate is measured over recent snapshots; times print as m:ss or h:mm:ss."""
    pace = Pace(window=5.0)
    for t in range(11):
        rate = pace.update(replace(SNAP, elapsed=float(t), requests=t * 20 if t <= 5 else 100))
    assert rate == 0.0  # nothing sent in the last five seconds
    assert clock(None) == "?" and clock(56.4) == "0:56" and clock(3723) == "1:02:03"


def _job(tmp_path: Path, n: int) -> Path:
    """Write a job of n bonuses."""
    job = tmp_path / "job.jsonl"
    bonus = {"op": "SendBonus", "BonusAmount": "0.10", "Reason": "thanks"}
    lines = [{**bonus, "WorkerId": f"A{i:06d}", "AssignmentId": f"3A{i:06d}"} for i in range(n)]
    job.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    return job


def run_on_pty(args: list[str], columns: int = 160) -> tuple[int, str]:
    """Run ``python -m turkbatch ARGS`` on a pseudo-terminal; return its code and output."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "turkbatch", *args], stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=60), out.decode()


def test_terminal_shows_a_live_bar(tmp_path: Path) -> None:
    """On a terminal: a bar redrawn in place, erased before the summary."""
    job = _job(tmp_path, 60)
    code, out = run_on_pty(["run", str(job), "--sim", "--rate", "40"])
    assert code == 0, out
    bars = [part for part in out.split("\r\x1b[K") if part.startswith("[")]
    assert len(bars) >= 3, out
    assert all(" req/s" in bar and "ETA" in bar and "paid $" in bar for bar in bars)
    summary = out[out.rindex("\r\x1b[K") :]
    assert "operation" in summary and "SendBonus" in summary


def test_plain_lines_off_a_terminal(tmp_path: Path) -> None:
    """Off a terminal: periodic run.progress lines (JSON by default); --quiet: none."""
    job = _job(tmp_path, 40)
    args = [sys.executable, "-m", "turkbatch", "run", str(job), "--sim", "--rate", "40"]
    plain = subprocess.run([*args, "--progress", "0.2"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    events = [json.loads(line) for line in plain.stderr.splitlines() if line.startswith("{")]
    progress = [e for e in events if e["event"] == "run.progress"]
    assert len(progress) >= 2 and "\r" not in plain.stderr
    assert {"percent", "eta_s", "req_per_s", "rate_ceiling", "in_flight"} <= set(progress[0])
    quiet = subprocess.run(
        [*args, "--progress", "0.2", "--quiet", "--journal", str(tmp_path / "q.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert quiet.returncode == 0 and "run.progress" not in quiet.stderr


def test_bar_counts_calls_and_says_when_listings_may_find_more() -> None:
    """The bar counts API calls; while a listing runs, the total is shown as a lower bound."""
    assert "100/200 calls" in Bar(io.StringIO(), width=200).line(SNAP)
    listing = replace(SNAP, total=1203, done=1100, skipped=80, unlisted=1)
    assert "1,182/1,203+ calls" in Bar(io.StringIO(), width=200).line(listing)
    with capture_logs() as events:
        Lines()(listing)
    assert events[0]["total"] == 1203 and events[0]["unlisted"] == 1
