"""
Bonus a whole HIT: one SendBonus line with a HITId pays every assignment in its statuses,
once, across runs and across tools, with the money guards on the listed total.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest
from support import (
    admin,
    drain,
    kill_when,
    paid,
    received,
    settings_for,
    sim_bonuses,
    start_run,
    turkbatch,
    write_job,
)

from turkbatch import engine, jobs, verify
from turkbatch.errors import JobError, Refused
from turkbatch.sim import Clock, Simulator, World
from turkbatch.status import status
from turkbatch.summary import ExitCode

HIT = "3HITBONUS000000000000000000001"
LINE = {"op": "SendBonus", "HITId": HIT, "BonusAmount": "0.50", "Reason": "Study 2 bonus"}


def assignment(n: int, status: str) -> dict[str, Any]:
    """An assignment of the HIT, by worker ``n``."""
    return {
        "AssignmentId": f"3ASG{n:026d}",
        "WorkerId": f"A{n:013d}",
        "HITId": HIT,
        "AssignmentStatus": status,
    }


def forty() -> list[dict[str, Any]]:
    """30 Approved, 5 Submitted, 5 Rejected assignments."""
    statuses = ["Approved"] * 30 + ["Submitted"] * 5 + ["Rejected"] * 5
    return [assignment(n, status) for n, status in enumerate(statuses)]


def world_of(assignments: list[dict[str, Any]]) -> dict[str, Any]:
    """A strict world with the HIT and its assignments."""
    return {
        "balance": "1000.00",
        "hits": [{"HITId": HIT, "Title": "t", "Reward": "0.10", "MaxAssignments": 1000}],
        "assignments": assignments,
    }


def bonus_for(a: dict[str, Any], line: dict[str, Any] = LINE) -> dict[str, Any]:
    """The payment a HIT line makes to one assignment."""
    return {
        "WorkerId": a["WorkerId"],
        "AssignmentId": a["AssignmentId"],
        "BonusAmount": line["BonusAmount"],
        "Reason": line["Reason"],
    }


async def test_a_hit_line_pays_every_approved_assignment_once_and_late_ones_later(
    tmp_path: Path,
) -> None:
    """40 assignments (30 Approved, 5 Submitted, 5 Rejected): exactly the 30 are paid; 5
    more approved, the same job pays exactly those 5; a third run pays nothing."""
    assignments = forty()
    world = World.from_dict(world_of(assignments), clock=Clock())
    async with Simulator(world=world) as sim:
        job = write_job(tmp_path / "job.jsonl", [LINE])
        first = await engine.run(job, settings_for(sim))
        assert first.exit_code == ExitCode.OK and first.totals().done == 30
        assert first.calls == 30 and first.bonus_paid == Decimal("15.00")
        assert paid(sim.world.ledger()["bonuses"]) == paid(map(bonus_for, assignments[:30]))
        for a in assignments[30:35]:
            sim.world.call("ApproveAssignment", {"AssignmentId": a["AssignmentId"]})
        second = await engine.run(job, settings_for(sim))
        assert (second.totals().done, second.totals().skipped) == (5, 30)
        assert paid(sim.world.ledger()["bonuses"]) == paid(map(bonus_for, assignments[:35]))
        third = await engine.run(job, settings_for(sim))
        assert third.totals().done == 0 and third.totals().skipped == 35
    text = status(tmp_path / "job.journal.jsonl").render()
    assert "the job: 35 of 35 calls done, 0 failed, 0 in doubt, 0 to send" in text


async def test_statuses_and_filters_choose_the_assignments(tmp_path: Path) -> None:
    """`statuses` adds the Submitted ones; `except_workers` leaves a worker out."""
    assignments = forty()
    world = World.from_dict(world_of(assignments), clock=Clock())
    line = {**LINE, "statuses": ["Approved", "Submitted"], "except_workers": ["A0000000000000"]}
    async with Simulator(world=world) as sim:
        summary = await engine.run(write_job(tmp_path / "job.jsonl", [line]), settings_for(sim))
        assert summary.totals().done == 34
        assert paid(sim.world.ledger()["bonuses"]) == paid(map(bonus_for, assignments[1:35]))


async def test_unless_paid_skips_what_another_tool_paid(tmp_path: Path) -> None:
    """`unless_paid`: an assignment boto3 already bonused for the same reason is skipped;
    one bonused for another reason is paid."""
    assignments = forty()[:10]
    world = World.from_dict(world_of(assignments), clock=Clock())
    async with Simulator(world=world) as sim:
        client = boto3.client(
            "mturk",
            region_name="us-east-1",
            endpoint_url=sim.endpoint_url,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
        )
        for a, reason in ((assignments[0], LINE["Reason"]), (assignments[1], "other")):
            call = partial(client.send_bonus, **{**bonus_for(a), "Reason": reason})
            await anyio.to_thread.run_sync(call)  # (boto3 blocks: not on the server's loop)
        job = write_job(tmp_path / "job.jsonl", [{**LINE, "unless_paid": True}])
        summary = await engine.run(job, settings_for(sim))
        assert summary.totals().done == 9
        bonuses = sim.world.ledger()["bonuses"]
        assert Counter(b["AssignmentId"] for b in bonuses if b["Reason"] == LINE["Reason"]) == {
            a["AssignmentId"]: 1 for a in assignments
        }


async def test_money_guards_see_the_listed_total(tmp_path: Path) -> None:
    """--max-spend below the listed total (30 × $0.50 + fees = $18.00) refuses with nothing
    sent; `plan` shows the count and the total; the typo guard applies to the line."""
    world = World.from_dict(world_of(forty()), clock=Clock())
    async with Simulator(world=world) as sim:
        job = write_job(tmp_path / "job.jsonl", [LINE])
        with pytest.raises(Refused, match=r"would spend \$18\.00"):
            await engine.run(job, settings_for(sim, max_spend=Decimal("17.99")))
        assert not sim.world.ledger()["bonuses"]
        plan = await engine.plan(
            job, settings_for(sim, journal=tmp_path / "job.journal.jsonl"), sim=False
        )
        sb = plan.by_op["SendBonus"]
        assert (sb.lines, sb.to_send) == (30, 30)
        assert plan.spend.total == Decimal("18.00") and plan.spend.bonuses == 30
        big = write_job(tmp_path / "big.jsonl", [{**LINE, "BonusAmount": "25.00"}])
        with pytest.raises(Refused, match="typo guard"):
            await engine.run(big, settings_for(sim))
        assert not sim.world.ledger()["bonuses"]


def test_bad_hit_lines_are_refused_with_their_line(tmp_path: Path) -> None:
    """A HIT line with a WorkerId, a token, bad statuses or an unknown key is an error on
    its line; nothing is sent."""
    job = write_job(
        tmp_path / "job.jsonl",
        [
            {**LINE, "WorkerId": "A1"},
            {**LINE, "UniqueRequestToken": "t"},
            {**LINE, "statuses": ["Paid"]},
            {**LINE, "unless_payed": True},
        ],
    )
    with pytest.raises(JobError) as caught:
        jobs.check_job(job)
    text = caught.value.render()
    assert ":1: give WorkerId and AssignmentId (one payment) or HITId" in text
    assert ":2: a bonus-by-HIT line takes no UniqueRequestToken" in text
    assert ":3: statuses must be a list of assignment statuses" in text
    assert ":4: unknown key 'unless_payed'" in text and "did you mean 'unless_paid'" in text


def test_an_unknown_hit_refuses_before_anything_is_sent(sim_process: Any, tmp_path: Path) -> None:
    """A HIT MTurk does not know: the run refuses with the line and the reason (exit 2)."""
    world = tmp_path / "world.json"
    world.write_text(json.dumps(world_of(forty())))
    url = sim_process("--world", str(world))
    job = write_job(tmp_path / "job.jsonl", [bonus_line("3NOSUCHHIT0000000000000000000")])
    result = turkbatch("run", str(job), "--endpoint-url", url)
    assert result.returncode == ExitCode.USAGE and "Traceback" not in result.stderr
    assert "line 1: cannot list the assignments of HIT 3NOSUCHHIT" in result.stderr
    assert "SendBonus" not in received(url)


def bonus_line(hit: str) -> dict[str, Any]:
    """The HIT line, for another HIT."""
    return {**LINE, "HITId": hit}


def test_kills_and_lost_answers_leave_each_assignment_paid_once(
    sim_process: Any, tmp_path: Path
) -> None:
    """SIGKILL a HIT-wide payout at random moments while answers are lost and tokens
    expire between runs: in the end every approved assignment is paid exactly once."""
    assignments = [assignment(n, "Approved") for n in range(300)]
    world = tmp_path / "world.json"
    world.write_text(json.dumps(world_of(assignments) | {"balance": "10000.00"}))
    url = sim_process("--world", str(world), "--lost-rate", "0.1", "--latency", "5", "--seed", "4")
    job = write_job(tmp_path / "job.jsonl", [LINE])
    journal = tmp_path / "job.journal.jsonl"
    for threshold in (40, 120, 200):
        proc = start_run(job, url, journal, "--concurrency", "8")
        kill_when(proc, lambda t=threshold: received(url).get("SendBonus", 0) >= t)
        drain(url)  # the killed run's last requests land, then a day passes
        admin(url, lambda a: a.advance(25 * 3600))
    for _ in range(4):
        done = turkbatch("run", str(job), "--endpoint-url", url, "--journal", str(journal))
        if done.returncode == 0:
            break
        assert done.returncode == ExitCode.FAILED, done.stderr  # in doubt: run again
    assert done.returncode == 0, done.stderr
    assert paid(sim_bonuses(url)) == paid(map(bonus_for, assignments))


async def test_verify_checks_a_hit_line_like_any_bonus(tmp_path: Path) -> None:
    """After a HIT-wide payout, `verify` lists the HIT and finds every payment exact."""
    world = World.from_dict(world_of(forty()), clock=Clock())
    async with Simulator(world=world) as sim:
        job = write_job(tmp_path / "job.jsonl", [LINE])
        await engine.run(job, settings_for(sim))
        result = await verify.verify(job, settings_for(sim))
        assert result.exit_code == ExitCode.OK
        assert Counter(c.status for c in result.checks if c.op == "SendBonus") == {"exact": 30}
