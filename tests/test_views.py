"""
Every view of one run counts the same API calls: the run's summary, ``status``, ``plan``,
``report`` and the simulator's own ledger, at an interrupt and after the resume, for a job
of every bulk form.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from support import received, turkbatch, write_job

HIT_A = "3VIEWHITA000000000000000000001"  # 60 Submitted: approved by HIT
HIT_B = "3VIEWHITB000000000000000000002"  # 40 Approved: bonused by HIT
TYPE = "3VIEWTYPE000000000000000000001"  # 50 pending requests: accepted by type
FINISHED = ("done", "already", "reconciled", "counted")


def worker(n: int) -> str:
    """A well-formed WorkerId."""
    return f"A{n:013d}"


def assignment(hit: str, n: int, status: str) -> dict[str, Any]:
    """An assignment of ``hit`` by worker ``n``."""
    return {
        "AssignmentId": f"3ASG{hit[5]}{n:025d}",
        "WorkerId": worker(n),
        "HITId": hit,
        "AssignmentStatus": status,
    }


def world(path: Path) -> Path:
    """A strict world with two HITs, a type with pending requests, 300 workers."""
    data = {
        "balance": "10000.00",
        "workers": [{"WorkerId": worker(n)} for n in range(300)],
        "hits": [
            {"HITId": hit, "Title": "t", "Reward": "0.10", "MaxAssignments": 100}
            for hit in (HIT_A, HIT_B)
        ],
        "assignments": [assignment(HIT_A, n, "Submitted") for n in range(60)]
        + [assignment(HIT_B, n, "Approved") for n in range(100, 140)],
        "qualification_types": [{"QualificationTypeId": TYPE, "Name": "screened"}],
        "qualification_requests": [
            {
                "QualificationRequestId": f"3REQ{n:026d}",
                "QualificationTypeId": TYPE,
                "WorkerId": worker(n),
            }
            for n in range(200, 250)
        ],
    }
    path.write_text(json.dumps(data))
    return path


def job(path: Path) -> Path:
    """Every bulk form, and single lines: 184 calls once every listing is done."""
    singles = [
        {
            "op": "SendBonus",
            "WorkerId": worker(n),
            "AssignmentId": assignment(HIT_B, n, "Approved")["AssignmentId"],
            "BonusAmount": "1.00",
            "Reason": "extra",
        }
        for n in range(100, 110)
    ]
    return write_job(
        path,
        [
            {"op": "SendBonus", "HITId": HIT_B, "BonusAmount": "0.50", "Reason": "study"},
            *singles,
            {"op": "ApproveAssignment", "HITId": HIT_A, "RequesterFeedback": "thanks"},
            {"op": "AcceptQualificationRequest", "QualificationTypeId": TYPE, "IntegerValue": 1},
            {
                "op": "AssociateQualificationWithWorker",
                "QualificationTypeId": TYPE,
                "WorkerIds": [worker(n) for n in range(260, 280)],
                "IntegerValue": 5,
            },
            {"op": "CreateWorkerBlock", "WorkerId": worker(299), "Reason": "bot"},
            {
                "op": "NotifyWorkers",
                "Subject": "thanks",
                "MessageText": "paid",
                "WorkerIds": [worker(n) for n in range(250)],
            },
        ],
    )


CALLS = {  # op → calls once finished
    "SendBonus": 50,
    "ApproveAssignment": 60,
    "AcceptQualificationRequest": 50,
    "AssociateQualificationWithWorker": 20,
    "CreateWorkerBlock": 1,
    "NotifyWorkers": 3,
}


def run(job: Path, url: str, journal: Path, *, interrupt_after: int | None) -> dict[str, Any]:
    """Run ``turkbatch run`` in a process; SIGINT it after that many calls; its summary."""
    args = [sys.executable, "-m", "turkbatch", "run", str(job), "--endpoint-url", url]
    args += ["--journal", str(journal), "--output", "json", "--quiet", "--concurrency", "4"]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ.copy()
    )
    if interrupt_after is not None:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            sent = sum(n for op, n in received(url).items() if op in CALLS)
            if sent >= interrupt_after:
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.01)
    out, _ = proc.communicate(timeout=120)
    summary: dict[str, Any] = json.loads(out)
    summary["exit"] = proc.returncode
    return summary


def ledger(url: str) -> Counter[str]:
    """What the simulator shows done, as calls by operation."""
    from support import admin

    book = admin(url, lambda a: a.ledger())
    changes = Counter(c.get("Action") for c in book.get("qualification_changes", ()))
    approvals = [
        c
        for c in book.get("assignment_changes", ())
        if c["To"] == "Approved" and c["HITId"] == HIT_A
    ]
    return Counter(
        {
            "SendBonus": len(book["bonuses"]),
            "ApproveAssignment": len(approvals),
            "AcceptQualificationRequest": changes["AcceptRequest"],
            "AssociateQualificationWithWorker": changes["Associate"],
            "CreateWorkerBlock": len(book.get("blocks", ())),
            "NotifyWorkers": -(-len(book.get("notifications", ())) // 100),
        }
    )


def views(job: Path, journal: Path) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """``status``, ``plan --offline`` and ``report`` of the journal, as JSON."""
    status = turkbatch("status", str(journal), "--output", "json")
    plan = turkbatch("plan", str(job), "--offline", "--journal", str(journal), "--output", "json")
    report = turkbatch("report", str(journal), "--format", "jsonl")
    for done in (status, plan, report):
        assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in report.stdout.splitlines()]
    return json.loads(status.stdout), json.loads(plan.stdout), rows


def finished_by_op(rows: list[dict[str, Any]]) -> Counter[str]:
    """Calls a report shows finished, by operation (a message's rows are one call)."""
    keys = {(r["op"], r["key"]) for r in rows if r["outcome"] in FINISHED}
    keys |= {(r["op"], r["key"]) for r in rows if r["op"] == "NotifyWorkers" and r["time"]}
    return Counter(op for op, _ in keys)


def agree(job: Path, journal: Path, url: str, summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Assert every view counts the same calls; return status."""
    status, plan, rows = views(job, journal)
    sim = ledger(url)
    in_status = Counter({op: sum(c[w] for w in FINISHED) for op, c in status["by_op"].items()})
    in_summaries: Counter[str] = Counter()
    for s in summaries:
        for op, c in s["by_op"].items():
            in_summaries[op] += c["done"] + c["already"]
    assert +in_status == +sim, (in_status, sim)
    assert +finished_by_op(rows) == +sim
    assert +in_summaries == +sim
    assert plan["total"]["done"] == status["job_done"] == sim.total()
    assert plan["total"]["calls"] == status["job_calls"]
    assert plan["total"]["to_send"] == status["to_send"]
    for s in summaries:  # each run's summary accounts for every call it met
        assert sum(s["totals"].values()) == s["calls"], s
    for row in rows:  # every call names what it acted on
        if row["outcome"] != "not_run" or row["op"] != "NotifyWorkers":
            assert row["worker_id"], row
    rows_by_op = Counter(row["op"] for row in rows if row["op"] != "NotifyWorkers")
    for op, n in rows_by_op.items():  # a row per call: none counted twice
        assert n == len({r["key"] for r in rows if r["op"] == op}), op
    return status


def test_every_view_agrees_at_an_interrupt_and_after_the_resume(
    sim_process: Any, tmp_path: Path
) -> None:
    """A job of every bulk form, interrupted with SIGINT mid-run, then resumed: the run
    summaries, status, plan and report count the same calls as the simulator's ledger at
    both points; once finished, plan has nothing to send and status says finished."""
    url = sim_process("--world", str(world(tmp_path / "world.json")), "--latency", "20")
    path, journal = job(tmp_path / "job.jsonl"), tmp_path / "job.journal.jsonl"

    first = run(path, url, journal, interrupt_after=70)
    assert first["exit"] == 130 and first["interrupted"], first
    status = agree(path, journal, url, [first])
    assert status["state"] == "interrupted"
    assert 0 < status["job_done"] < sum(CALLS.values())

    second = run(path, url, journal, interrupt_after=None)
    assert second["exit"] == 0, second
    status = agree(path, journal, url, [first, second])
    assert status["state"] == "finished"
    assert status["job_done"] == status["job_calls"] == sum(CALLS.values())
    assert status["to_send"] == 0
    assert ledger(url) == Counter(CALLS)
