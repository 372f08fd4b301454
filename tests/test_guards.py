"""run's safety guards, end to end through the engine: refusals send nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from turkbatch import engine, guards, jobs
from turkbatch import plan as planning
from turkbatch.backoff import Backoff
from turkbatch.client import ClientSettings, MTurkClient
from turkbatch.errors import Refused
from turkbatch.journal import Journal, JournalState
from turkbatch.sim import Clock, FaultSettings, Simulator, World
from turkbatch.summary import ExitCode, Snapshot, Summary

FAST = Backoff(base=0.001, cap=0.01)


def write_job(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write records as a JSONL job file."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def bonus(n: int, amount: str = "1.00") -> dict[str, Any]:
    """A SendBonus line for worker n."""
    return {
        "op": "SendBonus",
        "WorkerId": f"A{n:06d}",
        "AssignmentId": f"3ASG{n:06d}",
        "BonusAmount": amount,
        "Reason": "thanks",
    }


def settings(sim: Simulator, **kw: Any) -> engine.Settings:
    """Settings for the simulator with the CLI's guards on."""
    kw.setdefault("balance_check", True)
    kw.setdefault("rate", 2000.0)
    return engine.Settings(client=ClientSettings(endpoint_url=sim.endpoint_url), backoff=FAST, **kw)


def received(sim: Simulator) -> dict[str, int]:
    """Requests the simulator received, by operation."""
    ops = sim.counters.to_json()["operations"]
    return {op: counts["received"] for op, counts in ops.items() if counts["received"]}


async def test_typo_guard_refuses_before_anything(sim: Simulator, tmp_path: Path) -> None:
    """A bonus above --max-bonus refuses the run: no request, no journal."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1), bonus(2, "25.00")])
    with pytest.raises(Refused, match=r"typo guard: line 2 \(\$25.00\)"):
        await engine.run(job, settings(sim))
    assert received(sim) == {} and not (tmp_path / "job.journal.jsonl").exists()
    summary = await engine.run(job, settings(sim, max_bonus=Decimal("25.00")))
    assert summary.exit_code == ExitCode.OK


async def test_spend_cap_refuses_before_anything(sim: Simulator, tmp_path: Path) -> None:
    """A job that would spend more than --max-spend (fees included) is refused unsent."""
    job = write_job(tmp_path / "job.jsonl", [bonus(n, "5.00") for n in range(10)])
    with pytest.raises(Refused, match=r"would spend \$60.00"):
        await engine.run(job, settings(sim, max_spend=Decimal("59.99")))
    assert received(sim) == {}
    summary = await engine.run(job, settings(sim, max_spend=Decimal("60.00")))
    assert summary.totals().done == 10 and summary.fees_paid == Decimal("10.00")


async def test_balance_refusal_sends_only_the_balance_check(tmp_path: Path) -> None:
    """A balance that does not cover bonuses + fees refuses: only GetAccountBalance was sent."""
    async with Simulator(world=World(clock=Clock(), balance="11.99")) as sim:
        job = write_job(tmp_path / "job.jsonl", [bonus(n, "5.00") for n in range(2)])
        with pytest.raises(Refused, match=r"balance \$11.99 does not cover the \$12.00"):
            await engine.run(job, settings(sim))
        assert received(sim) == {"GetAccountBalance": 1}
        assert not (tmp_path / "job.journal.jsonl").exists()
        assert sim.world.ledger()["bonuses"] == []
        summary = await engine.run(job, settings(sim, balance_check=False))
        assert summary.by_op["SendBonus"].done == 1 and summary.by_op["SendBonus"].failed == 1


async def test_balance_check_counts_only_what_is_left(tmp_path: Path) -> None:
    """On resume, only the bonuses the journal does not record as done must be covered."""
    async with Simulator(world=World(clock=Clock(), balance="7.20")) as sim:
        job = write_job(tmp_path / "job.jsonl", [bonus(n, "5.00") for n in range(2)])
        ops = [item for item in jobs.read_job(job) if isinstance(item, jobs.Operation)]
        async with await Journal.open(tmp_path / "job.journal.jsonl", job_digest="x") as j:
            await j.intent(ops[0].key, op="SendBonus", token=ops[0].token)
            await j.done(ops[0].key, op="SendBonus")
        summary = await engine.run(job, settings(sim))
        assert summary.totals().done == 1 and summary.totals().skipped == 1


async def test_no_balance_check_without_money(sim: Simulator, tmp_path: Path) -> None:
    """A job that moves no money makes no balance call."""
    job = write_job(tmp_path / "job.jsonl", [{"op": "ApproveAssignment", "AssignmentId": "3A"}])
    await engine.run(job, settings(sim))
    assert received(sim) == {"ApproveAssignment": 1}


async def test_confirmation(sim: Simulator, tmp_path: Path) -> None:
    """The confirm hook sees the plan's totals and balance; 'no' sends nothing that pays."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1, "2.50")])
    seen: list[planning.Plan] = []

    def decline(plan: planning.Plan) -> bool:
        seen.append(plan)
        return False

    with pytest.raises(Refused, match="not confirmed"):
        await engine.run(job, settings(sim, confirm=decline))
    (plan,) = seen
    assert plan.spend.total == Decimal("3.00") and plan.balance == Decimal("10000.00")
    assert received(sim) == {"GetAccountBalance": 1}
    summary = await engine.run(job, settings(sim, confirm=lambda plan: True))
    assert summary.totals().done == 1


async def test_spend_cap_holds_at_run_time(sim: Simulator, tmp_path: Path) -> None:
    """Past the pre-flight check, a payment that would pass --max-spend is never sent."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1, "5.00"), bonus(2, "5.00")])
    ops = [item for item in jobs.read_job(job) if isinstance(item, jobs.Operation)]
    s = settings(sim, max_spend=Decimal("6.00"))
    summary = Summary(calls=2)
    async with (
        MTurkClient(s.client) as client,
        await Journal.open(tmp_path / "j.jsonl", job_digest="x") as journal,
    ):
        runner = engine._Run(s, client, journal, summary)  # past the pre-flight guards
        await runner.run(lambda: iter(ops), "x")
    assert summary.by_op["SendBonus"].done == 1 and summary.by_op["SendBonus"].pending == 1
    state = Journal.read(tmp_path / "j.jsonl")
    assert not state.in_doubt  # the second intent was staged, then withdrawn unsent
    assert summary.stopped and "--max-spend $6.00 reached" in summary.stopped
    assert summary.exit_code == ExitCode.FAILED
    assert len(sim.world.ledger()["bonuses"]) == 1


async def test_progress_callback_gets_snapshots(sim: Simulator, tmp_path: Path) -> None:
    """The progress callback is called with snapshots while the run goes on."""
    sim.faults = FaultSettings(latency_ms=20)
    job = write_job(tmp_path / "job.jsonl", [bonus(n, "0.10") for n in range(40)])
    snapshots: list[Snapshot] = []
    summary = await engine.run(
        job, settings(sim, rate=200.0, progress=snapshots.append, progress_interval=0.02)
    )
    assert summary.totals().done == 40 and snapshots
    last = snapshots[-1]
    assert last.total == 40 and last.requests >= last.done > 0
    assert last.bonus_paid == Decimal("0.10") * last.done


def test_a_first_run_s_guards_use_the_check_s_totals(tmp_path: Path) -> None:
    """With no journal yet and only single bonuses, the guards' numbers come from the
    check's own pass (no second read of the job) and equal the full survey's, fee by fee;
    a bonus above the typo guard still gets the full survey, which names its line."""
    amounts = ["1.", "0.04", "0.05", "9.99", "2.5", "0.01", "3.33"]
    job = write_job(tmp_path / "job.jsonl", [bonus(n, a) for n, a in enumerate(amounts * 3)])
    stats = jobs.check_job(job)
    cfg = engine.Settings(max_spend=Decimal("1000"))
    none = JournalState()  # no journal yet
    fast = guards.preflight(str(job), lambda: jobs.read_job(job), stats, cfg, tmp_path / "j", none)
    full = planning.survey(str(job), jobs.read_job(job, checked=True))
    assert fast is not None and not fast.by_op  # (the survey fills by_op: this did not run it)
    assert fast.spend == full.spend and fast.spend.bonuses == 21
    low = engine.Settings(max_bonus=Decimal("5.00"))
    with pytest.raises(Refused, match=r"line \d+ \(\$9\.99\)"):
        guards.preflight(str(job), lambda: jobs.read_job(job), stats, low, tmp_path / "j", none)


async def test_a_resume_refused_by_a_guard_leaves_the_journal_as_it_was(
    sim: Simulator, tmp_path: Path
) -> None:
    """The guards count against the run's own replay, under the journal's lock: a resume
    whose new line trips the spend cap sends nothing and writes nothing, and the cap counts
    only what is left to send (the three bonuses paid earlier are not counted again)."""
    journal = tmp_path / "job.journal.jsonl"
    job = write_job(tmp_path / "job.jsonl", [bonus(n) for n in range(3)])
    assert (await engine.run(job, settings(sim))).exit_code == ExitCode.OK
    before, paid = journal.read_bytes(), received(sim)["SendBonus"]
    job = write_job(tmp_path / "job.jsonl", [bonus(n) for n in range(3)] + [bonus(3, "5.00")])
    with pytest.raises(Refused, match="max-spend"):
        await engine.run(job, settings(sim, max_spend=Decimal("5.99")))
    assert journal.read_bytes() == before and received(sim)["SendBonus"] == paid
    summary = await engine.run(job, settings(sim, max_spend=Decimal("6.00")))  # $5 + $1 fee
    assert summary.exit_code == ExitCode.OK and summary.bonus_paid == Decimal("5.00")
