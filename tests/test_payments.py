"""
Payments, not lines: exactly once when the job file changes between runs.

Each test does to a payout what a hurried requester does (edits a line, re-exports the
file, adds ids, rewrites legacy names, reuses the file, tries it on the simulator first,
loses answers) and the simulator's ledger is the judge: every payment made exactly once,
or a refusal with nothing sent. Crash tests SIGKILL real ``turkbatch run`` processes.
"""

from __future__ import annotations

import io
import os
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from support import (
    admin,
    bonus,
    kill_when,
    paid,
    received,
    settings_for,
    sim_bonuses,
    start_run,
    turkbatch,
    write_job,
)

from turkbatch import engine, jobs, payments
from turkbatch.errors import EndpointMismatch, JobError, LookupFailed, Refused
from turkbatch.journal import Journal
from turkbatch.ledger import normal_amount
from turkbatch.report import write_report
from turkbatch.sim import FaultSettings, Simulator
from turkbatch.status import status
from turkbatch.summary import ExitCode


def test_a_sim_trial_never_shares_a_journal_with_the_real_run(
    sim_process: Any, tmp_path: Path
) -> None:
    """`run --sim` first, then the real endpoint: the trial's journal is its own, so the
    real run pays everyone; given one journal for both, the real run refuses."""
    url = sim_process()
    job = write_job(tmp_path / "payouts.jsonl", [bonus(n) for n in range(5)])
    trial = turkbatch("run", str(job), "--sim", "--quiet")
    assert trial.returncode == 0, trial.stderr
    assert (tmp_path / "payouts.sim.journal.jsonl").exists()
    real = turkbatch("run", str(job), "--endpoint-url", url, "--quiet")
    assert real.returncode == 0, real.stderr
    assert paid(sim_bonuses(url)) == paid(bonus(n) for n in range(5))

    shared = tmp_path / "shared.journal.jsonl"
    assert turkbatch("run", str(job), "--sim", "--journal", str(shared)).returncode == 0
    other = sim_process()
    refused = turkbatch("run", str(job), "--endpoint-url", other, "--journal", str(shared))
    assert refused.returncode == ExitCode.USAGE
    assert "records runs against sim:embedded" in refused.stderr
    assert "--journal" in refused.stderr and "Traceback" not in refused.stderr
    assert "SendBonus" not in received(other)


async def test_a_journal_refuses_another_endpoint_unless_told_it_moved(
    tmp_path: Path,
) -> None:
    """A journal of one endpoint refuses a run against another, writing nothing;
    ``endpoint_moved`` goes on (and a resume there pays nothing twice)."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1), bonus(2)])
    journal = tmp_path / "j.jsonl"
    async with Simulator() as first:
        await engine.run(job, settings_for(first, journal=journal))
    before = journal.read_bytes()
    async with Simulator() as second:
        with pytest.raises(EndpointMismatch, match=r"not http://127\.0\.0\.1"):
            await engine.run(job, settings_for(second, journal=journal))
        assert journal.read_bytes() == before
        summary = await engine.run(job, settings_for(second, journal=journal, endpoint_moved=True))
        assert summary.totals().skipped == 2 and not second.world.ledger()["bonuses"]


async def lose_every_answer(job: Path, journal: Path, sim: Simulator) -> engine.Summary:
    """Run ``job`` while the simulator commits every call and loses every answer."""
    sim.faults = FaultSettings(lost_rate=1.0)
    try:
        return await engine.run(job, settings_for(sim, journal=journal, max_attempts=2))
    finally:
        sim.faults = FaultSettings()


async def test_a_bonus_whose_every_answer_is_lost_stays_in_doubt(
    sim: Simulator, tmp_path: Path
) -> None:
    """Every attempt lost: the bonuses stay in doubt (never "failed"), the run exits 1;
    the next run, even a day later with --retry-failed, looks them up and pays nothing."""
    records = [bonus(n) for n in range(4)]
    job = write_job(tmp_path / "job.jsonl", records)
    journal = tmp_path / "j.jsonl"
    summary = await lose_every_answer(job, journal, sim)
    assert summary.in_doubt == 4 and summary.exit_code == ExitCode.FAILED
    state = Journal.read(journal)
    assert not state.failed and len(state.in_doubt) == 4
    assert paid(sim.world.ledger()["bonuses"]) == paid(records)  # MTurk paid them all
    sim.clock.advance(25 * 3600)  # the tokens protect nothing now
    again = await engine.run(job, settings_for(sim, journal=journal, retry_failed=True))
    assert again.exit_code == ExitCode.OK and again.reconciled == 4
    assert again.totals().already == 4 and again.totals().done == 0
    # Found paid by a lookup: reconciled, not "paid this run".
    assert again.bonus_paid == 0 and again.bonus_reconciled == Decimal("1.00")
    assert again.bonus_total == Decimal("1.00") and "reconciled" in again.render()
    assert paid(sim.world.ledger()["bonuses"]) == paid(records)


@pytest.mark.parametrize("edit", ["Reason", "BonusAmount"])
async def test_an_in_doubt_line_edited_before_the_resume_is_not_paid_twice(
    sim: Simulator, tmp_path: Path, edit: str
) -> None:
    """A bonus paid (answer lost), then its reason or amount edited: the resume looks it up
    with the intent's own payment, finds it, and refuses the edited line with nothing
    sent; --edited-payments counted settles it with nothing paid."""
    records = [bonus(1), bonus(2)]
    job = write_job(tmp_path / "job.jsonl", records)
    journal = tmp_path / "j.jsonl"
    await lose_every_answer(job, journal, sim)
    sim.clock.advance(25 * 3600)
    edited = {**records[0], edit: "Typo fixed" if edit == "Reason" else "0.30"}
    write_job(job, [edited, records[1]])
    with pytest.raises(Refused) as refused:
        await engine.run(job, settings_for(sim, journal=journal))
    assert "worker A00000000001, assignment 3ASG00000000000001" in str(refused.value)
    assert "--edited-payments counted" in str(refused.value)
    assert paid(sim.world.ledger()["bonuses"]) == paid(records)
    how = payments.EditedPayments.COUNTED
    summary = await engine.run(job, settings_for(sim, journal=journal, edited_payments=how))
    assert summary.counted == 1 and summary.exit_code == ExitCode.OK
    assert paid(sim.world.ledger()["bonuses"]) == paid(records)
    # Settled for good: the next run needs no flag and sends nothing.
    calm = await engine.run(job, settings_for(sim, journal=journal))
    assert calm.totals().skipped == 2 and calm.requests == 0


async def test_pay_again_pays_the_edited_line_too(sim: Simulator, tmp_path: Path) -> None:
    """--edited-payments pay-again: the edited line is a payment of its own, paid once."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1)])
    journal = tmp_path / "j.jsonl"
    await engine.run(job, settings_for(sim, journal=journal))
    write_job(job, [bonus(1, amount="0.50", reason="Second study")])
    how = payments.EditedPayments.PAY_AGAIN
    for _ in range(2):
        await engine.run(job, settings_for(sim, journal=journal, edited_payments=how))
    assert paid(sim.world.ledger()["bonuses"]) == paid(
        [bonus(1), bonus(1, amount="0.50", reason="Second study")]
    )


async def test_a_reused_job_file_pays_the_new_batch(sim: Simulator, tmp_path: Path) -> None:
    """Next week's batch written over the same file with the same ids: every new payment is
    paid, none is skipped by its id."""
    job = tmp_path / "job.jsonl"
    journal = tmp_path / "j.jsonl"
    week1 = [bonus(n, id=f"row-{n}") for n in range(5)]
    week2 = [bonus(n + 10, id=f"row-{n}") for n in range(5)]
    await engine.run(write_job(job, week1), settings_for(sim, journal=journal))
    summary = await engine.run(write_job(job, week2), settings_for(sim, journal=journal))
    assert summary.totals().done == 5 and summary.exit_code == ExitCode.OK
    assert paid(sim.world.ledger()["bonuses"]) == paid(week1 + week2)


def respelled(records: list[dict[str, Any]], how: str) -> list[dict[str, Any]]:
    """The same payments, written another way."""
    if how == "ids added":
        return [{**r, "id": f"row-{i}"} for i, r in enumerate(records)]
    if how == "amounts re-exported":
        return [{**r, "BonusAmount": r["BonusAmount"].rstrip("0")} for r in records]
    if how == "legacy names":
        return [
            {
                "op": "GrantBonus",
                "WorkerId": r["WorkerId"],
                "AssignmentId": r["AssignmentId"],
                "BonusAmount": {"Amount": r["BonusAmount"], "CurrencyCode": "USD"},
                "Reason": r["Reason"],
            }
            for r in records
        ]
    assert how == "lines reordered"
    return list(reversed(records))


@pytest.mark.parametrize(
    "how", ["ids added", "amounts re-exported", "legacy names", "lines reordered"]
)
async def test_a_respelt_job_pays_nobody_again(sim: Simulator, tmp_path: Path, how: str) -> None:
    """A finished job written another way (ids added, "1.50" → "1.5", GrantBonus for
    SendBonus, lines reordered, two identical lines among them): nothing is sent again."""
    records = [bonus(n, amount="1.50") for n in range(6)] + [bonus(0, amount="1.50")]
    job = tmp_path / "job.jsonl"
    journal = tmp_path / "j.jsonl"
    await engine.run(write_job(job, records), settings_for(sim, journal=journal))
    summary = await engine.run(
        write_job(job, respelled(records, how)), settings_for(sim, journal=journal)
    )
    assert summary.totals().skipped == 7 and summary.requests == 0
    assert summary.exit_code == ExitCode.OK
    assert paid(sim.world.ledger()["bonuses"]) == paid(records)


async def test_a_reason_fixed_after_60_of_100_were_paid_refuses(
    sim: Simulator, tmp_path: Path
) -> None:
    """60 of 100 paid, then the reason's typo fixed in the whole file: the run refuses,
    naming them, with nothing sent; counted, the other 40 are paid, each worker once."""
    typo = [bonus(n, reason="Thnaks") for n in range(100)]
    fixed = [bonus(n, reason="Thanks") for n in range(100)]
    job = tmp_path / "job.jsonl"
    journal = tmp_path / "j.jsonl"
    await engine.run(write_job(job, typo[:60]), settings_for(sim, journal=journal))
    write_job(job, fixed)
    with pytest.raises(Refused) as refused:
        await engine.run(job, settings_for(sim, journal=journal))
    assert "60 bonus lines" in str(refused.value) and "and 50 more" in str(refused.value)
    assert len(sim.world.ledger()["bonuses"]) == 60
    how = payments.EditedPayments.COUNTED
    summary = await engine.run(job, settings_for(sim, journal=journal, edited_payments=how))
    assert summary.counted == 60 and summary.totals().done == 40
    assert paid(sim.world.ledger()["bonuses"]) == paid(typo[:60] + fixed[60:])


async def test_a_line_s_own_token_used_elsewhere_is_not_counted_paid(
    sim: Simulator, tmp_path: Path
) -> None:
    """A line's own UniqueRequestToken that another call used: MTurk's "already processed"
    is checked against ListBonusPayments, and the line fails rather than counts as paid."""
    params = {k: v for k, v in bonus(9).items() if k != "op"}
    sim.world.call("SendBonus", {**params, "UniqueRequestToken": "mine-1"})
    job = write_job(tmp_path / "job.jsonl", [bonus(1, UniqueRequestToken="mine-1")])
    summary = await engine.run(job, settings_for(sim, journal=tmp_path / "j.jsonl"))
    assert summary.exit_code == ExitCode.FAILED and summary.totals().failed == 1
    (failed,) = Journal.read(tmp_path / "j.jsonl").failed.values()
    assert "used by another call" in failed.message
    assert [b["WorkerId"] for b in sim.world.ledger()["bonuses"]] == [bonus(9)["WorkerId"]]


def test_a_token_shared_by_lines_and_an_id_with_a_slash_are_refused(tmp_path: Path) -> None:
    """A UniqueRequestToken on two lines, and an id that could name a bulk line's item,
    are errors with their line numbers, before anything is sent."""
    job = write_job(
        tmp_path / "job.jsonl",
        [
            bonus(1, UniqueRequestToken="t-1"),
            bonus(2, UniqueRequestToken="t-1"),
            {"op": "ApproveAssignment", "AssignmentId": "3A", "id": "hit-1/A1"},
        ],
    )
    result = turkbatch("plan", str(job), "--offline")
    assert result.returncode == ExitCode.USAGE
    assert f"{job}:2: UniqueRequestToken 't-1' is used by an earlier line" in result.stderr
    assert f"{job}:3: id 'hit-1/A1' contains '/'" in result.stderr
    with pytest.raises(JobError):
        jobs.check_job(job)


def test_a_reconcile_recovery_killed_midway_pays_the_missing_payment(
    sim_process: Any, tmp_path: Path
) -> None:
    """Two identical bonuses, one paid before the journal was lost: a --reconcile recovery
    is SIGKILLed right after it found the one; the next recovery counts that finding and
    pays the missing one: two payments in all, never three, never one."""
    url = sim_process("--latency", "150")
    records = [bonus(1), bonus(1)]
    once = write_job(tmp_path / "once.jsonl", records[:1])
    assert turkbatch("run", str(once), "--endpoint-url", url, "--quiet").returncode == 0
    job = write_job(tmp_path / "job.jsonl", records)
    journal = tmp_path / "recovered.journal.jsonl"

    def found() -> bool:
        return journal.exists() and b'"reconciled":true' in journal.read_bytes()

    kill_when(start_run(job, url, journal, "--reconcile"), found)
    assert found()
    done = turkbatch("run", str(job), "--endpoint-url", url, "--journal", str(journal))
    assert done.returncode == 0, done.stderr
    assert paid(sim_bonuses(url)) == paid(records)


def test_messages_resent_after_kills_are_at_most_those_in_flight(
    sim_process: Any, tmp_path: Path
) -> None:
    """A 20,000-worker message killed three times: the workers messaged twice are at most
    3 × concurrency × 100, as each call's outcome is on disk before the next is taken."""
    url = sim_process("--latency", "20")
    workers = [f"A{n:013d}" for n in range(20_000)]
    line = {
        "op": "NotifyWorkers",
        "Subject": "Study 2",
        "MessageText": "Open",
        "WorkerIds": workers,
    }
    job = write_job(tmp_path / "job.jsonl", [line])
    journal = tmp_path / "j.jsonl"
    concurrency = 8
    for threshold in (40, 100, 160):  # calls received so far, of the 200 the job makes
        proc = start_run(job, url, journal, "--concurrency", str(concurrency), "--rate", "1000")
        kill_when(proc, lambda t=threshold: received(url).get("NotifyWorkers", 0) >= t)
    finish = turkbatch("run", str(job), "--endpoint-url", url, "--journal", str(journal))
    assert finish.returncode == 0, finish.stderr
    notes = admin(url, lambda a: a.ledger())["notifications"]
    sent = Counter(n["WorkerId"] for n in notes)
    assert set(sent) == set(workers)
    duplicates = sum(count - 1 for count in sent.values())
    assert duplicates <= 3 * concurrency * 100


def test_journal_records_name_their_endpoint(tmp_path: Path) -> None:
    """The run record says which endpoint (and key scheme) the journal describes."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1)])
    assert turkbatch("run", str(job), "--sim", "--quiet").returncode == 0
    first = orjson.loads((tmp_path / "job.sim.journal.jsonl").read_bytes().splitlines()[0])
    assert first["t"] == "run" and first["endpoint"] == "sim:embedded" and first["keys"] == 2


# --- any sequence of runs, lost answers, expired tokens and edits ------------------------

EDITS = ("none", "respell", "ids", "reorder", "duplicate", "drop", "legacy", "reason", "amount")
RUNS = ("clean", "lossy", "expire")


def canon(record: dict[str, Any]) -> tuple[str, str, str, str]:
    """What a job record pays, whatever its spelling."""
    amount = record["BonusAmount"]
    if isinstance(amount, dict):
        amount = amount["Amount"]
    return (record["WorkerId"], record["AssignmentId"], normal_amount(amount), record["Reason"])


def edited(records: list[dict[str, Any]], edit: str, pick: int, step: int) -> list[dict[str, Any]]:
    """Apply one edit a requester might make between runs."""
    out = [dict(r) for r in records]
    i = pick % len(out)
    target = out[i]
    if edit == "respell":
        amount = target["BonusAmount"]
        if isinstance(amount, str):  # "0.50" ⇄ "0.5"; "0.75" → "00.75"
            cents = amount.partition(".")[2]
            if amount.endswith("0") and cents:
                amount = amount.rstrip("0")
            else:
                amount = amount + "0" if len(cents) == 1 else "0" + amount
            target["BonusAmount"] = amount
    elif edit == "ids":
        for n, r in enumerate(out):
            if "id" in r:
                del r["id"]
            else:
                r["id"] = f"row-{step}-{n}"
    elif edit == "reorder":
        out.reverse()
    elif edit == "duplicate":
        copy = dict(target)
        if "id" in copy:
            copy["id"] = f"copy-{step}"
        out.append(copy)
    elif edit == "drop" and len(out) > 1:
        del out[i]
    elif edit == "legacy" and target["op"] == "SendBonus":
        amount = target.pop("BonusAmount")
        target |= {"op": "GrantBonus", "BonusAmount": {"Amount": amount, "CurrencyCode": "USD"}}
    elif edit == "reason":
        target["Reason"] = f"edited {step}"
    elif edit == "amount":
        target["op"], target["BonusAmount"] = "SendBonus", "0.75"
    return out


@hsettings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(EDITS), st.sampled_from(RUNS), st.integers(0, 9)),
        min_size=1,
        max_size=4,
    )
)
def test_no_sequence_of_runs_edits_and_lost_answers_pays_twice(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, str, int]]
) -> None:
    """
    Runs that lose answers (the state a kill leaves: intents durable, outcomes missing,
    payments made), tokens expiring and edits between runs, in any order: no run pays a
    payment beyond what some job asked for, a refused run sends nothing, and once the last
    job runs to the end (edited lines settled as counted) every line is paid for, exactly
    once per payment its job asks for.
    """
    tmp = tmp_path_factory.mktemp("sequence")
    job, journal = tmp / "job.jsonl", tmp / "job.journal.jsonl"
    records = [bonus(n, amount="0.50") for n in range(3)] + [bonus(0, amount="0.50")]

    async def scenario() -> None:
        nonlocal records
        asked: Counter[tuple[str, str, str, str]] = Counter()
        per_pair: Counter[tuple[str, str]] = Counter()  # most lines one job had per pair
        async with Simulator() as sim:
            for step, (edit, mode, pick) in enumerate(steps):
                records = edited(records, edit, pick, step)
                asked |= Counter(map(canon, records))
                per_pair |= Counter((w, a) for w, a, _, _ in map(canon, records))
                write_job(job, records)
                before = paid(sim.world.ledger()["bonuses"])
                if mode == "expire":
                    sim.clock.advance(25 * 3600)
                sim.faults = (
                    FaultSettings(lost_rate=0.5, seed=step) if mode == "lossy" else FaultSettings()
                )
                try:
                    await engine.run(job, settings_for(sim, journal=journal, max_attempts=2))
                except Refused:
                    assert paid(sim.world.ledger()["bonuses"]) == before
                now = paid(sim.world.ledger()["bonuses"])
                assert all(now[p] <= asked[p] for p in now), (now, asked)
                # an edited line is never paid beside its old self without the option
                pairs = Counter((w, a) for w, a, _, _ in now.elements())
                assert all(n <= per_pair[pair] for pair, n in pairs.items()), pairs
            sim.faults = FaultSettings()
            how = payments.EditedPayments.COUNTED
            summary = await engine.run(job, settings_for(sim, journal=journal, edited_payments=how))
            assert summary.exit_code == ExitCode.OK
            final = paid(sim.world.ledger()["bonuses"])
            assert all(final[p] <= asked[p] for p in final)
            pairs = Counter((w, a) for w, a, _, _ in final.elements())
            lines = Counter((w, a) for w, a, _, _ in map(canon, records))
            assert all(pairs[pair] >= n for pair, n in lines.items())
            assert all(n <= per_pair[pair] for pair, n in pairs.items())
            if not any(edit in ("reason", "amount") for edit, _, _ in steps):
                want = Counter(map(canon, records))
                assert all(final[p] >= n for p, n in want.items())

    anyio.run(scenario)


def old_journal(path: Path, paid_records: list[dict[str, Any]], doubt: dict[str, Any]) -> None:
    """Write a journal as turkbatch 0.1 did: keys by line, payments only in intents."""
    at = time.time()
    recs: list[dict[str, Any]] = [
        {"t": "run", "job": "old", "job_path": None, "pid": 1, "at": at, "version": "0.1.0"}
    ]
    for n, r in enumerate([*paid_records, doubt]):
        key, p = (
            f"{n:024x}",
            {k: r[k] for k in ("WorkerId", "AssignmentId", "BonusAmount", "Reason")},
        )
        recs.append(
            {"t": "intent", "k": key, "op": "SendBonus", "tok": f"tb1-{n}", "at": at, "p": p}
        )
        if r is not doubt:
            recs.append({"t": "done", "k": key, "op": "SendBonus", "at": at})
    recs.append({"t": "end", "pid": 1, "at": at})
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    os.chmod(path, 0o600)


async def test_a_journal_of_turkbatch_0_1_resumes_by_payment(
    sim: Simulator, tmp_path: Path
) -> None:
    """A journal written before bonuses were keyed by payment (its keys are line digests):
    the resume counts its payments from the intents, looks up the one in doubt, and pays
    nobody twice, even with the amounts respelt since."""
    records = [bonus(n, amount="1.50") for n in range(4)]
    journal = tmp_path / "old.journal.jsonl"
    old_journal(journal, records[:3], records[3])
    for r in records:  # all four were paid; the last one's answer was lost
        sim.world.call("SendBonus", {k: v for k, v in r.items() if k != "op"})
    job = write_job(tmp_path / "job.jsonl", [{**r, "BonusAmount": "1.5"} for r in records])
    summary = await engine.run(job, settings_for(sim, journal=journal))
    assert summary.exit_code == ExitCode.OK and summary.totals().done == 0
    assert (summary.totals().skipped, summary.totals().already) == (3, 1)
    assert paid(sim.world.ledger()["bonuses"]) == paid(records)


async def test_an_old_bonus_outcome_without_its_payment_needs_reconcile(
    sim: Simulator, tmp_path: Path
) -> None:
    """An old --reconcile record that does not say what it paid: the run refuses rather
    than guess, and --reconcile counts it from MTurk's records, paying nothing twice."""
    journal = tmp_path / "old.journal.jsonl"
    old_journal(journal, [bonus(1)], bonus(2))
    with journal.open("ab") as f:  # turkbatch 0.1's reconciled bonus: no intent, no payment
        f.write(
            orjson.dumps(
                {"t": "done", "k": "f" * 24, "op": "SendBonus", "at": 1.0, "reconciled": True}
            )
            + b"\n"
        )
    records = [bonus(1), bonus(2), bonus(3)]
    for r in records:
        sim.world.call("SendBonus", {k: v for k, v in r.items() if k != "op"})
    job = write_job(tmp_path / "job.jsonl", records)
    with pytest.raises(Refused, match="--reconcile"):
        await engine.run(job, settings_for(sim, journal=journal))
    summary = await engine.run(job, settings_for(sim, journal=journal, reconcile=True))
    assert summary.exit_code == ExitCode.OK and summary.totals().done == 0
    assert paid(sim.world.ledger()["bonuses"]) == paid(records)


async def test_plan_shows_the_conflicts_run_would_refuse(sim: Simulator, tmp_path: Path) -> None:
    """`plan` lists an edited line's conflict among the refusals, and counts by payment:
    a respelt finished line is done, not to send."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1, amount="1.50"), bonus(2)])
    journal = tmp_path / "job.journal.jsonl"
    await engine.run(job, settings_for(sim, journal=journal))
    write_job(job, [bonus(1, amount="1.5"), bonus(2, reason="edited")])
    plan = await engine.plan(job, engine.Settings(journal=journal), offline=True)
    sb = plan.by_op["SendBonus"]
    assert (sb.done, sb.to_send) == (1, 1)
    refusals = plan.refusals()
    assert any("worker A00000000002" in r and "'edited'" in r for r in refusals)


async def test_status_and_report_name_counted_and_unpaid_bonuses(
    sim: Simulator, tmp_path: Path
) -> None:
    """An edited line counted as paid is "counted" (no money twice in status); an in-doubt
    bonus found never paid is "not_paid" until it is sent, then "done"."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1), bonus(2)])
    journal = tmp_path / "job.journal.jsonl"
    await engine.run(job, settings_for(sim, journal=journal))
    write_job(job, [bonus(1, reason="edited"), bonus(2)])
    how = payments.EditedPayments.COUNTED
    await engine.run(job, settings_for(sim, journal=journal, edited_payments=how))
    now = status(journal)
    assert now.total().counted == 1 and now.bonuses == 2 and now.bonus_paid == Decimal("0.50")
    out = io.StringIO()
    write_report(journal, out, fmt="jsonl", job=job)
    rows = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [r["outcome"] for r in rows if r["line"] == 1] == ["counted"]
    assert rows[0]["reason"] == "edited" and rows[0]["fee"] == ""

    with journal.open("ab") as f:  # a third bonus sent, its answer lost, never paid
        third = write_job(tmp_path / "third.jsonl", [bonus(3)])
        (op,) = [o for o in jobs.read_job(third) if isinstance(o, jobs.Operation)]
        intent = {"t": "intent", "k": op.key, "op": "SendBonus", "tok": op.token, "at": 1.0}
        f.write(orjson.dumps(intent | {"p": {k: bonus(3)[k] for k in bonus(3) if k != "op"}}))
        f.write(b"\n")
    write_job(job, [bonus(1, reason="edited"), bonus(2), bonus(3)])
    summary = await engine.run(job, settings_for(sim, journal=journal))
    assert summary.totals().done == 1 and paid(sim.world.ledger()["bonuses"])[canon(bonus(3))] == 1
    out = io.StringIO()
    write_report(journal, out, fmt="jsonl", job=job)
    rows = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [r["outcome"] for r in rows] == ["counted", "done", "done", "done"]
    assert rows[-1]["line"] == "" and rows[-1]["reason"] == "thanks"  # the earlier payment
    assert journal.read_bytes().count(b'"t":"unpaid"') == 1  # looked up before it was sent


def test_a_line_edited_after_a_kill_is_refused_or_paid_once(
    sim_process: Any, tmp_path: Path
) -> None:
    """SIGKILL a payout once its intents are on disk, fix a reason in the file, run again:
    each worker whose bonus MTurk made is refused with nothing sent, and once settled as
    counted every worker has exactly one payment."""
    url = sim_process("--latency", "200")
    records = [bonus(n, reason="Thnaks") for n in range(6)]
    job = write_job(tmp_path / "job.jsonl", records)
    journal = tmp_path / "job.journal.jsonl"

    def intents() -> bool:
        return journal.exists() and journal.read_bytes().count(b'"t":"intent"') >= 6

    kill_when(start_run(job, url, journal, "--concurrency", "6"), intents)
    time.sleep(0.5)  # let the killed run's requests land (or not) at the simulator
    made = paid(sim_bonuses(url))
    write_job(job, [bonus(n, reason="Thanks") for n in range(6)])
    again = turkbatch("run", str(job), "--endpoint-url", url, "--journal", str(journal))
    if made:  # the usual case: the killed run's requests were committed
        assert again.returncode == ExitCode.USAGE, again.stderr
        assert "--edited-payments counted" in again.stderr
        assert paid(sim_bonuses(url)) == made
        again = turkbatch(
            "run",
            str(job),
            "--endpoint-url",
            url,
            "--journal",
            str(journal),
            "--edited-payments",
            "counted",
        )
    assert again.returncode == 0, again.stderr
    per_worker = Counter(b["WorkerId"] for b in sim_bonuses(url))
    assert per_worker == Counter(r["WorkerId"] for r in records)


async def test_lookups_that_keep_failing_stop_the_run_and_keep_the_doubt(
    sim: Simulator, tmp_path: Path
) -> None:
    """A resume whose ListBonusPayments keeps failing stops with a clear error, sends no
    bonus, and leaves the payment in doubt for the next run, which settles it."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1)])
    journal = tmp_path / "j.jsonl"
    await lose_every_answer(job, journal, sim)
    sim.faults = FaultSettings(unavailable_rate=1.0)
    with pytest.raises(LookupFailed, match="stays in doubt"):
        await engine.run(job, settings_for(sim, journal=journal, max_attempts=2))
    assert len(Journal.read(journal).in_doubt) == 1
    sim.faults = FaultSettings()
    summary = await engine.run(job, settings_for(sim, journal=journal))
    assert summary.totals().already == 1 and len(sim.world.ledger()["bonuses"]) == 1
