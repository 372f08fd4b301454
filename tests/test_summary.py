"""The run summary: counts, money with fees, pace, exit codes, JSON; and the snapshot."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from turkbatch.summary import ExitCode, Outcome, Snapshot, Summary, table


def summary() -> Summary:
    """A summary of a small run with one failure."""
    s = Summary(
        bonus_paid=Decimal("1.75"),
        fees_paid=Decimal("0.35"),
        bonus_total=Decimal("2.75"),
        fees_total=Decimal("0.55"),
        requests=10,
        elapsed=2.0,
        calls=6,
    )
    for outcome in (Outcome.DONE, Outcome.DONE, Outcome.ALREADY, Outcome.FAILED):
        s.count("SendBonus", outcome)
    s.count("NotifyWorkers", Outcome.DONE)
    s.count("NotifyWorkers", Outcome.SKIPPED)
    return s


def test_render_shows_table_fees_and_pace() -> None:
    """The closing text has a row per operation, the fees and the effective rate."""
    text = summary().render()
    lines = text.splitlines()
    assert lines[0].split() == ["operation", "done", "already", "failed", "skipped", "pending"]
    assert lines[2].split() == ["NotifyWorkers", "1", "0", "0", "1", "0"]
    assert lines[5].split() == ["total", "3", "1", "1", "1", "0"]
    assert "bonus paid this run: $1.75 + fees $0.35 = $2.10" in text
    assert "job bonus paid in all: $2.75 + fees $0.55 = $3.30" in text
    assert "requests: 10 (5.0/s)" in text and "effective rate: 2.5 calls/s" in text


def test_exit_codes() -> None:
    """0 all done, 1 some failed or a stop left some unsent, 130 interrupted."""
    assert Summary().exit_code == ExitCode.OK
    assert summary().exit_code == ExitCode.FAILED
    stopped = Summary(stopped="--max-spend $1.00 reached")
    assert stopped.exit_code == ExitCode.FAILED and "stopped early" in stopped.render()
    assert Summary(interrupted=True, stopped="x").exit_code == ExitCode.INTERRUPTED


def test_as_dict_is_json() -> None:
    """--output json prints the summary as one JSON object, amounts as strings."""
    record = json.loads(json.dumps(summary().as_dict()))
    assert record["by_op"]["SendBonus"] == {
        "done": 2,
        "already": 1,
        "failed": 1,
        "skipped": 0,
        "pending": 0,
    }
    assert record["spent"] == "2.10" and record["fees_total"] == "0.55"
    assert record["exit_code"] == 1 and record["effective_rate"] == 2.5


def test_snapshot_eta() -> None:
    """The ETA is the work left at this run's pace; skipped lines take no time."""
    s = Snapshot(
        total=100,
        done=20,
        failed=0,
        skipped=30,
        pending=0,
        in_flight=4,
        requests=20,
        retries=0,
        throttles=0,
        rate_ceiling=10.0,
        bonus_paid=Decimal(0),
        fees_paid=Decimal(0),
        elapsed=10.0,
    )
    assert s.finished == 50 and s.eta == 25.0
    assert replace(s, done=0).eta is None  # no pace yet
    assert replace(s, done=70).eta == 0.0


def test_table_alignment() -> None:
    """The first column is left-aligned, numbers right-aligned, rules around the total."""
    lines = table(("name", "n"), [("a", 1), ("bbb", 22)], ("total", 23))
    assert lines == ["name    n", "-----  --", "a       1", "bbb    22", "-----  --", "total  23"]


def test_render_counts_calls_and_money_by_who_paid() -> None:
    """The calls are counted, "+" while listings did not finish; bonuses MTurk said were
    paid already, or a lookup found paid, are their own lines, not "paid this run"."""
    s = summary()
    assert "calls: 6" in s.render()
    s.unlisted, s.bonus_already, s.reconciled = 1, Decimal("0.50"), 2
    s.bonus_reconciled, s.fees_reconciled = Decimal("1.00"), Decimal("0.20")
    text = s.render()
    assert "calls: 6+ (1 listing not finished" in text
    assert "bonus paid this run: $1.75 + fees $0.35 = $2.10" in text
    assert "said was paid already (an earlier attempt; not paid again): $0.50" in text
    assert "2 bonuses found already paid at MTurk" in text and "$1.00 + fees $0.20" in text
    record = s.as_dict()
    assert (record["calls"], record["unlisted"]) == (6, 1)
    assert (record["bonus_paid"], record["bonus_already"], record["bonus_reconciled"]) == (
        "1.75",
        "0.50",
        "1.00",
    )
