"""Plans: what a job will do and cost, the warnings, and what run's guards refuse."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from turkbatch import engine, jobs
from turkbatch import plan as planning
from turkbatch.cli import render
from turkbatch.client import ClientSettings
from turkbatch.journal import Journal
from turkbatch.plan import Expansion, survey
from turkbatch.sim import Simulator


def write_job(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write records as a JSONL job file."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def bonus(n: int, amount: str = "1.00", assignment: str | None = None) -> dict[str, Any]:
    """A SendBonus line for worker n."""
    return {
        "op": "SendBonus",
        "WorkerId": f"A{n:06d}",
        "AssignmentId": assignment or f"3ASG{n:06d}",
        "BonusAmount": amount,
        "Reason": "thanks",
    }


def notify(*workers: str) -> dict[str, Any]:
    """A NotifyWorkers line."""
    return {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m", "WorkerIds": list(workers)}


def plan_of(job: Path, **kw: Any) -> planning.Plan:
    """Survey a job file as `turkbatch plan` does (no journal unless given)."""
    return survey(str(job), jobs.read_job(job), **kw)


def test_counts_and_money(tmp_path: Path) -> None:
    """Operations by type, bonuses with per-payment fees, HIT rewards with theirs."""
    job = write_job(
        tmp_path / "job.jsonl",
        [
            bonus(1, "1.25"),
            bonus(2, "0.01"),
            {"barrier": True},
            {"op": "ApproveAssignment", "AssignmentId": "3A"},
            {
                "op": "CreateHIT",
                "LifetimeInSeconds": 600,
                "AssignmentDurationInSeconds": 600,
                "Reward": "0.50",
                "Title": "t",
                "Description": "d",
                "MaxAssignments": 10,
                "Question": "<q/>",
            },
        ],
    )
    p = plan_of(job)
    assert p.operations == 4 and p.barriers == 1
    assert p.by_op["SendBonus"].lines == 2 and p.by_op["SendBonus"].to_send == 2
    assert p.spend.bonus == Decimal("1.26") and p.spend.bonus_fees == Decimal("0.26")
    assert p.spend.rewards == Decimal("5.00") and p.spend.reward_fees == Decimal("2.00")
    assert p.spend.total == Decimal("8.52") == p.job_spend.total
    assert list(p.iam) == [
        "mechanicalturk:ApproveAssignment",
        "mechanicalturk:CreateHIT",
        "mechanicalturk:GetAccountBalance",
        "mechanicalturk:GetAssignment",
        "mechanicalturk:ListBonusPayments",
        "mechanicalturk:SendBonus",
    ]
    assert p.refusals() == []


def test_warnings(tmp_path: Path) -> None:
    """An assignment bonused twice, a worker messaged twice, a bonus above the typo guard."""
    job = write_job(
        tmp_path / "job.jsonl",
        [
            bonus(1, "150.00", "3SAME"),
            bonus(2, "1.00", "3SAME"),
            notify("A1", "A2"),
            notify("A2", "A3"),
        ],
    )
    p = plan_of(job)
    kinds = {f.kind: f for f in p.findings}
    assert kinds["duplicate_bonus"].lines == (1, 2)
    assert "3SAME" in kinds["duplicate_bonus"].message
    assert kinds["messaged_twice"].lines == (3, 4) and "A2" in kinds["messaged_twice"].message
    assert kinds["over_limit"].lines == (1,)
    (refusal,) = p.refusals()
    assert "typo guard" in refusal and "line 1 ($150.00)" in refusal
    assert plan_of(job, max_bonus=Decimal("200")).refusals() == []
    assert plan_of(job, max_bonus=None).refusals() == []


def test_spend_cap_and_balance(tmp_path: Path) -> None:
    """--max-spend and the balance refuse a run that would pay more than they allow."""
    job = write_job(tmp_path / "job.jsonl", [bonus(n, "5.00") for n in range(10)])
    p = plan_of(job)
    assert p.spend.total == Decimal("60.00")
    assert p.refusals(max_spend=Decimal("60.00")) == []
    (cap,) = p.refusals(max_spend=Decimal("59.99"))
    assert "$60.00" in cap and "--max-spend $59.99" in cap
    p.balance = Decimal("59.99")
    (short,) = p.refusals()
    assert "balance $59.99 does not cover" in short
    p.balance = Decimal("60.00")
    assert p.refusals() == []


def test_unknown_costs_cannot_be_capped(tmp_path: Path) -> None:
    """A HIT created at its type's reward has a cost the job does not say: no cap can hold."""
    line = {"op": "CreateHITWithHITType", "HITTypeId": "3T", "LifetimeInSeconds": 60}
    job = write_job(tmp_path / "job.jsonl", [{**line, "Question": "<q/>"}])
    p = plan_of(job)
    assert p.spend.unknown == 1 and p.spend.total == 0
    assert "unknown_cost" in p.counts
    (refusal,) = p.refusals(max_spend=Decimal("1000"))
    assert "cannot be kept" in refusal


async def test_journal_progress_is_counted(tmp_path: Path) -> None:
    """Done lines are not to send or spend; failed ones only with --retry-failed."""
    records = [bonus(n) for n in range(4)]
    job = write_job(tmp_path / "job.jsonl", records)
    ops = [item for item in jobs.read_job(job) if isinstance(item, jobs.Operation)]
    journal_path = tmp_path / "job.journal.jsonl"
    async with await Journal.open(journal_path, job_digest="other") as journal:
        await journal.intent(ops[0].key, op="SendBonus", token=ops[0].token)
        await journal.done(ops[0].key, op="SendBonus")
        await journal.failed(ops[1].key, op="SendBonus", error={"code": "RequestError"})
        await journal.intent(ops[2].key, op="SendBonus", token=ops[2].token)
    state = Journal.read(journal_path)
    digest = jobs.check_job(job).digest
    p = plan_of(job, state=state, journal=str(journal_path), digest=digest)
    sb = p.by_op["SendBonus"]
    assert (sb.done, sb.failed, sb.in_doubt, sb.to_send) == (1, 1, 1, 2)
    assert p.spend.total == Decimal("2.40") and p.job_spend.total == Decimal("4.80")
    assert {"already_done", "failed_earlier", "in_doubt", "job_changed"} <= set(p.counts)
    again = plan_of(job, state=state, retry_failed=True)
    assert again.by_op["SendBonus"].to_send == 3


def test_expansion_hook(tmp_path: Path) -> None:
    """A bulk-expansion hook says how many calls a bulk line becomes, or that listing will tell."""
    job = write_job(
        tmp_path / "job.jsonl",
        [{"op": "ApproveAssignment", "HITId": "3H"}, notify(*[f"A{n}" for n in range(250)])],
    )

    def expand(op: jobs.Operation) -> Expansion:
        if op.op == "ApproveAssignment":
            return Expansion(calls=None, listing="ListAssignmentsForHIT")
        return Expansion(calls=3)

    p = plan_of(job, expand=expand)
    assert p.by_op["ApproveAssignment"].expanding == 1 and p.by_op["NotifyWorkers"].calls == 3
    assert p.by_op["NotifyWorkers"].to_send == 3 and p.by_op["ApproveAssignment"].to_send == 0
    assert "mechanicalturk:ListAssignmentsForHIT" in p.iam
    assert "ListAssignmentsForHIT" in next(f for f in p.findings if f.kind == "expansion").message
    assert "1+?" not in render.plan_text(p) and "0+?" in render.plan_text(p)


def test_notify_workers_is_one_call_per_hundred() -> None:
    """Without a hook, a message to 250 workers counts as 3 calls."""
    op = jobs.Operation(line=1, key="k", op="NotifyWorkers", params=notify(*["A1"] * 250))
    assert planning.single_call(op).calls == 3


def test_price() -> None:
    """What one operation costs the account, fees included; None when the job can't say."""

    def op(name: str, **params: Any) -> jobs.Operation:
        return jobs.Operation(line=1, key="k", op=name, params=params)

    assert planning.price(op("SendBonus", BonusAmount="1.00")) == Decimal("1.20")
    assert planning.price(op("CreateHIT", Reward="0.50", MaxAssignments=10)) == Decimal("7.00")
    assert planning.price(op("CreateAdditionalAssignmentsForHIT", HITId="3H")) is None
    assert planning.price(op("ApproveAssignment", AssignmentId="3A")) == 0


def test_render_and_json(tmp_path: Path) -> None:
    """The text shows the table, money, balance, IAM and verdict; JSON has the same."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1, "2.50"), notify("A1")])
    p = plan_of(job)
    p.balance, p.endpoint = Decimal("2.00"), "http://sim"
    text = render.plan_text(p, max_spend=Decimal("100"))
    for part in (
        "SendBonus",
        "1 bonus $2.50 + MTurk fees $0.50",
        "to spend now: $3.00",
        "does NOT cover it ($1.00 short)",
        "mechanicalturk:GetAccountBalance",
        "run would refuse to start",
        "spend cap (--max-spend): $100.00",
    ):
        assert part in text, part
    record = json.loads(json.dumps(p.as_dict(max_spend=Decimal("100"))))
    assert record["to_spend"]["total"] == "3.00" and record["covered"] is False
    assert record["by_op"]["NotifyWorkers"]["recipients"] == 1 and record["refusals"]
    confirm = render.confirmation(p, "https://prod")
    assert "PRODUCTION" in confirm and "$3.00" in confirm and "$2.00" in confirm


async def test_engine_plan_looks_up_the_balance(sim: Simulator, tmp_path: Path) -> None:
    """engine.plan asks GetAccountBalance and nothing else; offline asks nothing."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1)])
    settings = engine.Settings(client=ClientSettings(endpoint_url=sim.endpoint_url))
    p = await engine.plan(job, settings)
    assert p.balance == Decimal("10000.00") and p.endpoint == sim.endpoint_url
    assert sim.counters.to_json()["operations"].keys() == {"GetAccountBalance"}
    offline = await engine.plan(job, settings, offline=True)
    assert offline.balance is None and sim.counters.totals()["received"] == 1
    assert not (tmp_path / "job.journal.jsonl").exists()


async def test_engine_plan_says_why_there_is_no_balance(tmp_path: Path) -> None:
    """An unreachable endpoint leaves the balance unknown, with the reason, not a crash."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1)])
    client = ClientSettings(endpoint_url="http://127.0.0.1:9", connect_timeout=1.0)
    p = await engine.plan(job, engine.Settings(client=client))
    assert p.balance is None and p.balance_error
    assert "balance: unknown" in render.plan_text(p)


def test_repeats_are_reported_exactly_in_a_big_job(tmp_path: Path) -> None:
    """
    Thousands of assignments and workers, a few repeated far apart: every repeat is found
    with every line and amount, in the order a repeat was first seen, and nothing else.
    """
    records: list[dict[str, Any]] = [bonus(n, f"0.{n % 90 + 10}") for n in range(1, 3001)]
    records += [notify(*(f"A{n:05d}" for n in range(k, k + 50))) for k in range(0, 3000, 50)]
    records += [
        bonus(9001, "2.00", "3ASG002999"),  # line 3061: the assignment of line 2999
        bonus(9002, "3.00", "3ASG000007"),  # line 3062: of line 7
        notify("A00011", "A02999"),  # line 3063: workers of lines 3001 and 3060
        bonus(9003, "4.00", "3ASG000007"),  # line 3064: of line 7, again
    ]
    p = plan_of(write_job(tmp_path / "big.jsonl", records))
    found = [(f.kind, f.message, f.lines) for f in p.findings if f.kind != "over_limit"]
    assert found == [
        (
            "duplicate_bonus",
            "assignment 3ASG002999 is bonused on 2 lines: line 2999 ($0.39), line 3061 ($2.00)",
            (2999, 3061),
        ),
        (
            "duplicate_bonus",
            "assignment 3ASG000007 is bonused on 3 lines: line 7 ($0.17), line 3062 ($3.00), "
            "line 3064 ($4.00)",
            (7, 3062, 3064),
        ),
        ("messaged_twice", "worker A00011 is messaged 2 times (lines 3001, 3063)", (3001, 3063)),
        ("messaged_twice", "worker A02999 is messaged 2 times (lines 3060, 3063)", (3060, 3063)),
    ]
    assert p.counts == {"duplicate_bonus": 2, "messaged_twice": 2}
