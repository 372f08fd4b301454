"""Reports: one row per operation (per worker for messages), from the journal."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from turkbatch import engine, jobs
from turkbatch.backoff import Backoff
from turkbatch.client import ClientSettings
from turkbatch.journal import Journal
from turkbatch.report import COLUMNS, write_report
from turkbatch.sim import Clock, Simulator, World

FAST = Backoff(base=0.001, cap=0.01)
WORLD = {
    "workers": [{"WorkerId": "A9MUTE", "notifiable": False}],
    "hits": [{"HITId": "3HIT1", "Reward": "0.50", "MaxAssignments": 5}],
    "assignments": [
        {"AssignmentId": "3AS1", "WorkerId": "A1ONE", "HITId": "3HIT1"},
        {"AssignmentId": "3AS2", "WorkerId": "A2TWO", "HITId": "3HIT1"},
    ],
}
JOB = [
    {"op": "ApproveAssignment", "AssignmentId": "3AS1"},
    {"barrier": True},
    {
        "op": "SendBonus",
        "WorkerId": "A1ONE",
        "AssignmentId": "3AS1",
        "BonusAmount": "1.25",
        "Reason": "Top 10%",
    },
    {
        "op": "SendBonus",
        "WorkerId": "A2TWO",
        "AssignmentId": "3NOPE",
        "BonusAmount": "0.50",
        "Reason": "x",
    },
    {
        "op": "NotifyWorkers",
        "Subject": "Hi",
        "MessageText": "Paid",
        "WorkerIds": ["A1ONE", "A9MUTE"],
    },
]


@pytest.fixture
async def ran(tmp_path: Path) -> AsyncIterator[Path]:
    """A job run against a strict world: one bonus paid, one failed, one worker unreachable."""
    job = tmp_path / "job.jsonl"
    job.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in JOB))
    async with Simulator(world=World.from_dict(WORLD, clock=Clock())) as sim:
        client = ClientSettings(endpoint_url=sim.endpoint_url)
        await engine.run(job, engine.Settings(client=client, backoff=FAST, rate=1000.0))
    yield tmp_path / "job.journal.jsonl"


def rows(journal: Path, **kw: Any) -> tuple[list[dict[str, str]], list[str]]:
    """The CSV report of a journal, parsed, and its notes."""
    out = io.StringIO()
    notes = write_report(journal, out, **kw)
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(parsed[0]) == list(COLUMNS)
    return parsed, notes


async def test_csv_rows(ran: Path) -> None:
    """A row per operation in job order, per worker for the message, with the books' fields."""
    report, notes = rows(ran)
    assert notes == []
    assert [(r["line"], r["op"], r["outcome"], r["worker_id"]) for r in report] == [
        ("1", "ApproveAssignment", "done", ""),
        ("3", "SendBonus", "done", "A1ONE"),
        ("4", "SendBonus", "failed", "A2TWO"),
        ("5", "NotifyWorkers", "done", "A1ONE"),
        ("5", "NotifyWorkers", "failed", "A9MUTE"),
    ]
    paid, failed, _, muted = report[1], report[2], report[3], report[4]
    assert (paid["bonus_amount"], paid["fee"], paid["reason"]) == ("1.25", "0.25", "Top 10%")
    assert paid["request_id"] and paid["token"].startswith("tb1-") and paid["time"].endswith("Z")
    assert failed["fee"] == "" and failed["error_code"] and "3NOPE" in failed["error"]
    assert muted["error_code"] == "HardFailure" and muted["error"]
    assert json.loads(report[3]["params"]) == {"MessageText": "Paid", "Subject": "Hi"}


async def test_json_and_jsonl(ran: Path) -> None:
    """--format json is one array, jsonl one object per line; both have every column."""
    out = io.StringIO()
    write_report(ran, out, fmt="json")
    array = json.loads(out.getvalue())
    assert len(array) == 5 and set(array[0]) == set(COLUMNS)
    out = io.StringIO()
    write_report(ran, out, fmt="jsonl")
    assert [json.loads(line) for line in out.getvalue().splitlines()] == array


async def test_without_the_job_file(ran: Path) -> None:
    """With the job gone, bonuses keep their parameters (from intents); the rest is outcomes."""
    (ran.parent / "job.jsonl").rename(ran.parent / "moved.jsonl")
    report, notes = rows(ran)
    assert notes and "not found" in notes[0]
    bonuses = [r for r in report if r["op"] == "SendBonus"]
    assert {(r["worker_id"], r["bonus_amount"], r["outcome"]) for r in bonuses} == {
        ("A1ONE", "1.25", "done"),
        ("A2TWO", "0.50", "failed"),
    }
    assert [r["worker_id"] for r in report if r["op"] == "NotifyWorkers"] == ["A9MUTE"]
    again, notes = rows(ran, job=ran.parent / "moved.jsonl")
    assert notes == [] and len(again) == 5


def add_bonuses(ran: Path, *reasons: str) -> tuple[list[jobs.Operation], str]:
    """Append a bonus line per reason to the job ``ran`` ran; return its operations, digest."""
    job = ran.parent / "job.jsonl"
    new = {"op": "SendBonus", "WorkerId": "A3", "AssignmentId": "3AS3", "BonusAmount": "2.00"}
    with job.open("ab") as f:
        f.writelines(orjson.dumps({**new, "Reason": reason}) + b"\n" for reason in reasons)
    ops = [i for i in jobs.read_job(job) if isinstance(i, jobs.Operation)]
    return ops, jobs.check_job(job).digest


async def test_in_doubt_and_not_run(ran: Path) -> None:
    """An intent with no outcome is in_doubt; a line the journal never saw is not_run."""
    ops, digest = add_bonuses(ran, "late", "later")
    job = ran.parent / "job.jsonl"
    async with await Journal.open(ran, job_digest=digest, job_path=str(job)) as journal:
        await journal.intent(ops[-2].key, op="SendBonus", token=ops[-2].token)
    report, notes = rows(ran)
    assert notes == []
    assert [(r["reason"], r["outcome"], bool(r["token"])) for r in report[-2:]] == [
        ("late", "in_doubt", True),
        ("later", "not_run", True),
    ]


async def test_withdrawn_intents(ran: Path) -> None:
    """A withdrawn intent (the call was never sent) reads as before it: not_run, or failed."""
    ops, digest = add_bonuses(ran, "never sent", "failed, retried")
    job = ran.parent / "job.jsonl"
    async with await Journal.open(ran, job_digest=digest, job_path=str(job)) as journal:
        await journal.failed(ops[-1].key, op="SendBonus", error={"code": "X", "message": "m"})
        for op in ops[-2:]:
            journal.stage_intent(op.key, op="SendBonus", token=op.token)
        await journal.flush()
        for op in ops[-2:]:
            journal.withdraw(op.key, op="SendBonus")
    report, _ = rows(ran)
    assert [(r["reason"], r["outcome"]) for r in report[-2:]] == [
        ("never sent", "not_run"),
        ("failed, retried", "failed"),
    ]


async def test_a_withdrawn_resend_stays_in_doubt(ran: Path) -> None:
    """Withdrawing a resend of a call in doubt leaves it in_doubt, under its first intent."""
    ops, digest = add_bonuses(ran, "in doubt, resent")
    job = ran.parent / "job.jsonl"
    async with await Journal.open(ran, job_digest=digest, job_path=str(job)) as journal:
        await journal.intent(ops[-1].key, op="SendBonus", token=ops[-1].token)
        journal.stage_intent(ops[-1].key, op="SendBonus", token=ops[-1].token)
        await journal.flush()
        journal.withdraw(ops[-1].key, op="SendBonus")
    report, _ = rows(ran)
    assert (report[-1]["reason"], report[-1]["outcome"]) == ("in doubt, resent", "in_doubt")


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(tmp_path: Path) -> None:
    """
    A Reason (or any cell) starting with =, +, -, @, a tab or a carriage return is written
    with a leading ' in the CSV report (OWASP's CSV injection rule), so a spreadsheet shows
    it as text instead of running it; JSON keeps the value as it is.
    """
    import subprocess
    import sys

    reasons = ['=HYPERLINK("http://evil.invalid","Click")', "+1+2", "-2+3", "@SUM(A1)", "fine"]
    job = tmp_path / "job.jsonl"
    job.write_text(
        "".join(
            orjson.dumps(
                {
                    "op": "SendBonus",
                    "WorkerId": f"A{i:09d}",
                    "AssignmentId": f"3AS{i:09d}",
                    "BonusAmount": "0.10",
                    "Reason": reason,
                }
            ).decode()
            + "\n"
            for i, reason in enumerate(reasons)
        )
    )
    base = [sys.executable, "-m", "turkbatch"]
    ran = subprocess.run([*base, "run", str(job), "--sim", "--quiet"], capture_output=True)
    assert ran.returncode == 0, ran.stderr
    journal = str(tmp_path / "job.sim.journal.jsonl")
    as_csv = subprocess.run([*base, "report", journal], capture_output=True, text=True)
    assert as_csv.returncode == 0, as_csv.stderr
    cells = [row["reason"] for row in csv.DictReader(io.StringIO(as_csv.stdout))]
    assert cells == ["'" + r for r in reasons[:4]] + ["fine"]
    as_json = subprocess.run(
        [*base, "report", journal, "--format", "json"], capture_output=True, text=True
    )
    assert [row["reason"] for row in json.loads(as_json.stdout)] == reasons


async def test_listed_calls_are_rows_under_their_line_naming_what_they_acted_on(
    tmp_path: Path,
) -> None:
    """Approvals listed from a HITId and request rejections listed from a type: a row per
    call, under its line, in job order, each naming its worker (and assignment, HIT,
    request, type); a bonus-by-HIT line's payments under it too."""
    world = {
        "hits": [{"HITId": "3HITA", "Reward": "0.50", "MaxAssignments": 5}],
        "assignments": [
            {"AssignmentId": f"3ASA{n}", "WorkerId": f"A{n}W", "HITId": "3HITA"} for n in range(3)
        ],
        "qualification_types": [{"QualificationTypeId": "3QT", "Name": "q"}],
        "qualification_requests": [
            {
                "QualificationRequestId": f"3QR{n}",
                "QualificationTypeId": "3QT",
                "WorkerId": f"A{n}R",
            }
            for n in range(2)
        ],
    }
    job = tmp_path / "job.jsonl"
    lines = [
        {"op": "RejectQualificationRequest", "QualificationTypeId": "3QT", "Reason": "late"},
        {"op": "ApproveAssignment", "HITId": "3HITA"},
        {"barrier": True},
        {"op": "SendBonus", "HITId": "3HITA", "BonusAmount": "0.10", "Reason": "all"},
    ]
    job.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    async with Simulator(world=World.from_dict(world, clock=Clock())) as sim:
        settings = engine.Settings(client=ClientSettings(endpoint_url=sim.endpoint_url))
        summary = await engine.run(job, settings)
        assert summary.exit_code == 0, summary.render()
        # The bonus line was listed before the approvals: run again to pay them.
        assert (await engine.run(job, settings)).exit_code == 0
    out = io.StringIO()
    write_report(tmp_path / "job.journal.jsonl", out, fmt="jsonl")
    rows = [json.loads(row) for row in out.getvalue().splitlines()]
    assert [(r["line"], r["op"]) for r in rows] == [
        (1, "RejectQualificationRequest"),
        (1, "RejectQualificationRequest"),
        (2, "ApproveAssignment"),
        (2, "ApproveAssignment"),
        (2, "ApproveAssignment"),
        (4, "SendBonus"),
        (4, "SendBonus"),
        (4, "SendBonus"),
    ]
    assert all(r["outcome"] == "done" for r in rows)
    rejections, approvals, bonuses = rows[:2], rows[2:5], rows[5:]
    assert {(r["worker_id"], r["qualification_request_id"]) for r in rejections} == {
        ("A0R", "3QR0"),
        ("A1R", "3QR1"),
    }
    assert {r["qualification_type_id"] for r in rejections} == {"3QT"}
    assert {(r["worker_id"], r["assignment_id"], r["hit_id"]) for r in approvals} == {
        (f"A{n}W", f"3ASA{n}", "3HITA") for n in range(3)
    }
    assert {(r["worker_id"], r["assignment_id"], r["bonus_amount"]) for r in bonuses} == {
        (f"A{n}W", f"3ASA{n}", "0.10") for n in range(3)
    }
