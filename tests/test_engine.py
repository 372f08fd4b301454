"""End-to-end tests of turkbatch.engine: real aiobotocore client, simulator on 127.0.0.1."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from turkbatch import engine, jobs
from turkbatch.backoff import Backoff
from turkbatch.client import ClientSettings, MTurkClient
from turkbatch.errors import JobError, JournalLocked, UsageError
from turkbatch.journal import Journal
from turkbatch.sim import Clock, FaultSettings, Simulator, World
from turkbatch.summary import ExitCode, Summary

FAST = Backoff(base=0.001, cap=0.01)


def write_job(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write records as a JSONL job file."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def settings(sim: Simulator, **kw: Any) -> engine.Settings:
    """Engine settings pointing at the simulator, with fast retries."""
    kw.setdefault("rate", 2000.0)
    kw.setdefault("concurrency", 16)
    kw.setdefault("backoff", FAST)
    return engine.Settings(client=ClientSettings(endpoint_url=sim.endpoint_url), **kw)


def bonus(n: int, amount: str = "0.50") -> dict[str, Any]:
    """A SendBonus job record for worker/assignment number n."""
    return {
        "op": "SendBonus",
        "WorkerId": f"A{n:012d}",
        "AssignmentId": f"3ASG{n:020d}",
        "BonusAmount": amount,
        "Reason": "Thanks for your careful work",
    }


def paid_assignments(sim: Simulator) -> Counter[str]:
    """How many bonuses the simulator's ledger shows per assignment."""
    return Counter(b["AssignmentId"] for b in sim.world.ledger()["bonuses"])


async def test_mixed_job_of_common_operations(sim: Simulator, tmp_path: Path) -> None:
    """Every common operation in one job runs to done, and the world shows each effect."""
    job = write_job(
        tmp_path / "job.jsonl",
        [
            {"op": "ApproveAssignment", "AssignmentId": "3AAA1", "RequesterFeedback": "Thanks"},
            {
                "op": "RejectAssignment",
                "AssignmentId": "3AAA2",
                "RequesterFeedback": "Did not follow",
            },
            {"barrier": True},
            {
                "op": "SendBonus",
                "WorkerId": "A1W1",
                "AssignmentId": "3AAA1",
                "BonusAmount": "1.25",
                "Reason": "Great",
            },
            {
                "op": "AssociateQualificationWithWorker",
                "QualificationTypeId": "3QT1",
                "WorkerId": "A1W1",
                "IntegerValue": 80,
            },
            {
                "op": "DisassociateQualificationFromWorker",
                "QualificationTypeId": "3QT1",
                "WorkerId": "A1W2",
                "Reason": "closed",
            },
            {"op": "CreateWorkerBlock", "WorkerId": "A1W9", "Reason": "bot"},
            {"op": "NotifyWorkers", "Subject": "Hi", "MessageText": "Paid", "WorkerIds": ["A1W1"]},
            {"op": "GetAccountBalance"},
        ],
    )
    summary = await engine.run(job, settings(sim))
    assert summary.exit_code == ExitCode.OK, summary.render()
    totals = summary.totals()
    assert totals.failed == 0 and totals.done + totals.already == 8
    ledger = sim.world.ledger()
    assert [b["AssignmentId"] for b in ledger["bonuses"]] == ["3AAA1"]
    assert [n["WorkerId"] for n in ledger["notifications"]] == ["A1W1"]
    assert summary.bonus_paid == summary.bonus_total
    assert str(summary.bonus_paid) == "1.25"
    assert (tmp_path / "job.journal.jsonl").exists()


async def test_invalid_job_sends_nothing(sim: Simulator, tmp_path: Path) -> None:
    """An invalid line anywhere stops the run before the first request, with line numbers."""
    job = write_job(
        tmp_path / "job.jsonl",
        [bonus(1), {**bonus(2), "BonusAmount": "1.234"}, bonus(3), {"op": "SendBonsu"}],
    )
    with pytest.raises(JobError) as info:
        await engine.run(job, settings(sim))
    lines = [e.line for e in info.value.errors]
    assert lines == sorted(lines) and 2 in lines and 4 in lines
    assert sim.counters.totals()["received"] == 0
    assert not (tmp_path / "job.journal.jsonl").exists()


async def test_rerun_skips_what_is_done(sim: Simulator, tmp_path: Path) -> None:
    """Running the same job again sends nothing and pays nothing more."""
    job = write_job(tmp_path / "job.jsonl", [bonus(n) for n in range(20)])
    first = await engine.run(job, settings(sim))
    received = sim.counters.totals()["received"]
    second = await engine.run(job, settings(sim))
    assert first.totals().done == 20
    assert second.totals().skipped == 20 and second.requests == 0
    assert sim.counters.totals()["received"] == received
    assert second.bonus_total == first.bonus_paid and second.bonus_paid == 0
    assert set(paid_assignments(sim).values()) == {1}


async def test_throttling_far_above_the_limit_fails_nothing(tmp_path: Path) -> None:
    """With --rate far above what the service allows, every operation still succeeds."""
    faults = FaultSettings(throttle_rate=100.0, throttle_burst=10.0)
    async with Simulator(faults=faults) as sim:
        job = write_job(tmp_path / "job.jsonl", [bonus(n) for n in range(150)])
        summary = await engine.run(job, settings(sim, rate=5000.0, concurrency=32))
        assert summary.totals().done == 150 and summary.totals().failed == 0
        assert sim.counters.totals()["throttled"] > 0
        assert summary.throttles > 0
        assert set(paid_assignments(sim).values()) == {1} and len(paid_assignments(sim)) == 150


async def test_transient_faults_are_retried(tmp_path: Path) -> None:
    """500 ServiceFault and empty 503s are retried until every bonus is paid, once."""
    faults = FaultSettings(seed=7, fault_rate=0.2, unavailable_rate=0.2)
    async with Simulator(faults=faults) as sim:
        job = write_job(tmp_path / "job.jsonl", [bonus(n) for n in range(100)])
        # 40% of requests fail: 20 attempts make exhausting them (0.4^20) vanishingly rare.
        summary = await engine.run(job, settings(sim, max_attempts=20))
        assert summary.totals().done == 100, summary.render()
        assert summary.retries > 0
        assert set(paid_assignments(sim).values()) == {1} and len(paid_assignments(sim)) == 100


async def test_lost_responses_pay_once(tmp_path: Path) -> None:
    """A bonus whose response is lost is resent with its token and not paid again."""
    faults = FaultSettings(seed=3, lost_rate=0.3)
    async with Simulator(faults=faults) as sim:
        job = write_job(tmp_path / "job.jsonl", [bonus(n) for n in range(100)])
        summary = await engine.run(job, settings(sim, max_attempts=20))  # 30% lost
        assert summary.totals().failed == 0, summary.render()
        assert summary.totals().already > 0  # resends refused as already processed
        # "Paid this run" is what MTurk confirmed to this run; "already" is its own line.
        t, each = summary.totals(), Decimal("0.50")
        assert summary.bonus_paid == each * t.done and summary.bonus_already == each * t.already
        assert summary.bonus_total == each * 100 and "said was paid already" in summary.render()
        assert sim.counters.totals()["lost"] > 0
        paid = paid_assignments(sim)
        assert len(paid) == 100 and set(paid.values()) == {1}


async def test_permanent_errors_are_recorded(tmp_path: Path) -> None:
    """A permanent error fails its operation (exit 1), is journaled, and others go on."""
    async with Simulator(world=World(clock=Clock(), balance="2.00")) as sim:
        job = write_job(tmp_path / "job.jsonl", [bonus(1, "1.00"), bonus(2, "5.00")])
        summary = await engine.run(job, settings(sim))
        assert summary.exit_code == ExitCode.FAILED
        assert summary.by_op["SendBonus"].done == 1 and summary.by_op["SendBonus"].failed == 1
        state = Journal.read(tmp_path / "job.journal.jsonl")
        (error,) = state.failed.values()
        assert "insufficient funds" in str(error)
        again = await engine.run(job, settings(sim))
        assert again.failed_earlier == 1 and again.requests == 0


async def test_approve_of_a_rejected_assignment_is_not_already_done(
    sim: Simulator, tmp_path: Path
) -> None:
    """'can be called with a status of' counts as done only if the state is the wanted one."""
    job = write_job(
        tmp_path / "job.jsonl",
        [
            {"op": "RejectAssignment", "AssignmentId": "3ZZZ1", "RequesterFeedback": "no"},
            {"op": "ApproveAssignment", "AssignmentId": "3ZZZ2"},
            {"barrier": True},
            {"op": "ApproveAssignment", "AssignmentId": "3ZZZ1"},
            {"op": "ApproveAssignment", "AssignmentId": "3ZZZ2", "id": "again"},
        ],
    )
    summary = await engine.run(job, settings(sim))
    approve = summary.by_op["ApproveAssignment"]
    assert approve.done == 1 and approve.already == 1 and approve.failed == 1


async def test_python_api_with_items_and_embedded_sim(tmp_path: Path) -> None:
    """The Python API takes an iterable of records, and sim=True needs no endpoint."""
    journal = tmp_path / "items.journal.jsonl"
    summary = await engine.run(
        [bonus(1), bonus(2)], engine.Settings(journal=journal, backoff=FAST), sim=True
    )
    assert summary.totals().done == 2 and summary.exit_code == ExitCode.OK
    with pytest.raises(UsageError):
        await engine.run([bonus(1)], engine.Settings())


async def test_second_run_on_a_journal_in_use_refuses(sim: Simulator, tmp_path: Path) -> None:
    """A journal held by one run cannot be used by another."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1)])
    held = await Journal.open(tmp_path / "job.journal.jsonl", job_digest="x")
    try:
        with pytest.raises(JournalLocked):
            await engine.run(job, settings(sim))
    finally:
        await held.close()
    assert sim.counters.totals()["received"] == 0


async def test_a_stopped_run_accounts_for_every_call(sim: Simulator, tmp_path: Path) -> None:
    """Stopped by the spend cap: every call known is accounted for, those of a WorkerIds
    line never handed out as pending, and a listed line never listed makes the total a
    lower bound ("8+ calls")."""
    workers = [f"A{n:012d}" for n in range(5)]
    job = write_job(
        tmp_path / "job.jsonl",
        [
            bonus(1, "5.00"),
            {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m", "WorkerIds": workers},
            bonus(2, "5.00"),
            {"op": "CreateWorkerBlock", "WorkerIds": workers, "Reason": "bot"},
            {"op": "ApproveAssignment", "HITId": "3HIT00000000000000000000000001"},
        ],
    )
    s = settings(sim, max_spend=Decimal("6.00"), concurrency=1)
    summary = Summary(unlisted=1)  # the engine's count of listed lines, from the job
    async with (
        MTurkClient(s.client) as client,
        await Journal.open(tmp_path / "j.jsonl", job_digest="x") as journal,
    ):
        runner = engine._Run(s, client, journal, summary)  # past the pre-flight spend guard
        await runner.run(lambda: jobs.read_job(job), "x")
    assert summary.stopped and summary.calls == 8 and summary.unlisted == 1
    t = summary.totals()
    assert (t.done, t.pending) == (2, 6) and t.total == summary.calls
    assert summary.by_op["CreateWorkerBlock"].pending == 5
    assert "calls: 8+ (1 listing not finished" in summary.render()
    assert "6 calls not sent" in summary.render()
