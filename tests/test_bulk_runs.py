"""Bulk lines run end to end: the engine expands them against a strict simulated world."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from turkbatch import engine
from turkbatch.backoff import Backoff
from turkbatch.client import ClientSettings
from turkbatch.sim import Clock, FaultSettings, Simulator, World
from turkbatch.summary import ExitCode

FAST = Backoff(base=0.001, cap=0.01)
TYPE_A = "3TYPEA000000000000000000000001"
TYPE_B = "3TYPEB000000000000000000000002"
HIT = "3HIT00000000000000000000000001"


def write_job(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write records as a JSONL job."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def settings_for(sim: Simulator, **kw: Any) -> engine.Settings:
    """Engine settings for an in-process simulator, fast."""
    kw.setdefault("concurrency", 32)
    return engine.Settings(
        client=ClientSettings(endpoint_url=sim.endpoint_url), backoff=FAST, rate=10_000.0, **kw
    )


def worker(n: int) -> str:
    """A well-formed WorkerId."""
    return f"A{n:013d}"


def strict_world(**sections: Any) -> World:
    """A strict world from world-file sections."""
    return World.from_dict({"balance": "1000.00", **sections}, clock=Clock())


async def test_messaging_5000_workers_with_undeliverable_ones(tmp_path: Path) -> None:
    """5,000 workers (plus duplicates): every call ≤ 100 ids, every reachable worker reached
    once, the unreachable ones reported; a soft failure is resent and delivered."""
    ids = [worker(n) for n in range(5000)]
    world = strict_world(
        workers=[
            {"WorkerId": ids[0], "notifiable": False},
            {"WorkerId": ids[1], "soft_fail": 1},
            *({"WorkerId": w} for w in ids[2:4990]),
        ]
    )  # ids[4990:] are unknown: HardFailure
    async with Simulator(world=world) as sim:
        job = write_job(
            tmp_path / "job.jsonl",
            [
                {
                    "op": "NotifyWorkers",
                    "Subject": "Study 2",
                    "MessageText": "It is open.",
                    "WorkerIds": ids + ids[:37],
                }
            ],
        )
        summary = await engine.run(job, settings_for(sim))
        assert summary.exit_code == ExitCode.OK, summary.render()
        assert summary.by_op["NotifyWorkers"].done == 50  # 5,000 distinct in chunks of 100
        assert summary.unreached == 11  # one unnotifiable + ten unknown
        delivered = Counter(n["WorkerId"] for n in sim.world.ledger()["notifications"])
        assert set(delivered.values()) == {1}
        assert set(delivered) == set(ids[1:4990])
        calls = sim.counters.to_json()["operations"]["NotifyWorkers"]
        assert calls["errors"] == 0  # no call was refused (none over 100 ids)
        assert calls["succeeded"] == 51  # 50 chunks, and one resend for the soft failure
        again = await engine.run(job, settings_for(sim))
        assert again.requests == 0 and again.totals().skipped == 50


async def test_reject_every_pending_request_of_one_type(tmp_path: Path) -> None:
    """750 pending requests of one type rejected, the other type's untouched; a second run
    finds nothing left to do and exits 0."""
    requests = [
        {
            "QualificationRequestId": f"3REQA{n:025d}",
            "QualificationTypeId": TYPE_A,
            "WorkerId": worker(n),
        }
        for n in range(750)
    ] + [
        {
            "QualificationRequestId": f"3REQB{n:025d}",
            "QualificationTypeId": TYPE_B,
            "WorkerId": worker(n),
        }
        for n in range(20)
    ]
    world = strict_world(
        qualification_types=[
            {"QualificationTypeId": TYPE_A, "Name": "A"},
            {"QualificationTypeId": TYPE_B, "Name": "B"},
        ],
        qualification_requests=requests,
    )
    async with Simulator(world=world) as sim:
        world.trailing_next_token = True  # MTurk's quirk: the engine must not care
        job = write_job(
            tmp_path / "job.jsonl",
            [
                {
                    "op": "RejectQualificationRequest",
                    "QualificationTypeId": TYPE_A,
                    "Reason": "The screening closed",
                }
            ],
        )
        summary = await engine.run(job, settings_for(sim))
        assert summary.exit_code == ExitCode.OK, summary.render()
        assert summary.by_op["RejectQualificationRequest"].done == 750
        changes = sim.world.ledger()["qualification_changes"]
        rejected = Counter(
            c["QualificationRequestId"] for c in changes if c["Action"] == "RejectRequest"
        )
        assert len(rejected) == 750 and set(rejected.values()) == {1}
        assert all(r.startswith("3REQA") for r in rejected)
        pending_b = await _pending(sim, TYPE_B)
        assert len(pending_b) == 20
        again = await engine.run(job, settings_for(sim))
        assert again.exit_code == ExitCode.OK and again.totals().done == 0


async def _pending(sim: Simulator, type_id: str) -> list[dict[str, Any]]:
    """Every pending request of a type, straight from the world."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"QualificationTypeId": type_id, "MaxResults": 100}
    while True:
        page = sim.world.call("ListQualificationRequests", params)
        found.extend(page["QualificationRequests"])
        if not page.get("NextToken") or not page["QualificationRequests"]:
            return found
        params["NextToken"] = page["NextToken"]


async def test_hit_wide_approval_and_worker_lists(tmp_path: Path) -> None:
    """ApproveAssignment with a HITId approves every Submitted assignment (a rejected one
    stays rejected); WorkerIds lists make one call per worker."""
    assignments = [
        {
            "AssignmentId": f"3ASG{n:026d}",
            "WorkerId": worker(n),
            "HITId": HIT,
            "AssignmentStatus": "Submitted",
        }
        for n in range(120)
    ]
    assignments[5]["AssignmentStatus"] = "Rejected"
    world = strict_world(
        hits=[{"HITId": HIT, "Title": "t", "Reward": "0.10", "MaxAssignments": 200}],
        assignments=assignments,
        qualification_types=[{"QualificationTypeId": TYPE_A, "Name": "A"}],
    )
    faults = FaultSettings(seed=5, fault_rate=0.05, lost_rate=0.05)
    async with Simulator(world=world, faults=faults) as sim:
        job = write_job(
            tmp_path / "job.jsonl",
            [
                {"op": "ApproveAssignment", "HITId": HIT, "RequesterFeedback": "Thanks"},
                {"barrier": True},
                {
                    "op": "AssociateQualificationWithWorker",
                    "QualificationTypeId": TYPE_A,
                    "WorkerIds": [worker(n) for n in range(10)],
                    "IntegerValue": 7,
                },
                {
                    "op": "CreateWorkerBlock",
                    "WorkerIds": [worker(100), worker(101)],
                    "Reason": "bots",
                },
            ],
        )
        summary = await engine.run(job, settings_for(sim))
        assert summary.exit_code == ExitCode.OK, summary.render()
        approve = summary.by_op["ApproveAssignment"]
        assert approve.done + approve.already == 119
        statuses = Counter(
            sim.world.call("GetAssignment", {"AssignmentId": a["AssignmentId"]})["Assignment"][
                "AssignmentStatus"
            ]
            for a in assignments
        )
        assert statuses == {"Approved": 119, "Rejected": 1}
        grants = sim.world.call(
            "ListWorkersWithQualificationType", {"QualificationTypeId": TYPE_A, "MaxResults": 100}
        )
        assert {q["WorkerId"] for q in grants["Qualifications"]} == {worker(n) for n in range(10)}
        blocks = sim.world.call("ListWorkerBlocks", {"MaxResults": 100})["WorkerBlocks"]
        assert {b["WorkerId"] for b in blocks} == {worker(100), worker(101)}


async def test_listing_failure_fails_the_line(tmp_path: Path) -> None:
    """A parent id that does not exist fails its line (exit 1) with MTurk's error."""
    async with Simulator(world=strict_world()) as sim:
        job = write_job(tmp_path / "job.jsonl", [{"op": "ApproveAssignment", "HITId": HIT}])
        summary = await engine.run(job, settings_for(sim))
        assert summary.exit_code == ExitCode.FAILED
        assert summary.totals().failed == 1


async def test_legacy_lines_run(tmp_path: Path) -> None:
    """A job written with 2014 names runs, and pays the same as its 2017 spelling would."""
    async with Simulator() as sim:
        job = write_job(
            tmp_path / "job.jsonl",
            [
                {
                    "op": "GrantBonus",
                    "WorkerId": worker(1),
                    "AssignmentId": "3LEGACY1",
                    "BonusAmount": {"Amount": "0.75", "CurrencyCode": "USD"},
                    "Reason": "old script",
                },
                {"op": "BlockWorker", "WorkerId": worker(2), "Reason": "spam"},
            ],
        )
        summary = await engine.run(job, settings_for(sim))
        assert summary.exit_code == ExitCode.OK, summary.render()
        (paid,) = sim.world.ledger()["bonuses"]
        assert paid["BonusAmount"] == "0.75" and paid["WorkerId"] == worker(1)
        same = write_job(
            tmp_path / "new.jsonl",
            [
                {
                    "op": "SendBonus",
                    "WorkerId": worker(1),
                    "AssignmentId": "3LEGACY1",
                    "BonusAmount": "0.75",
                    "Reason": "old script",
                }
            ],
        )
        rewritten = await engine.run(
            same, settings_for(sim, journal=tmp_path / "job.journal.jsonl")
        )
        assert rewritten.totals().skipped == 1 and rewritten.requests == 0
