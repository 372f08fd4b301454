"""status: where a job stands, from its journal, while it runs or after."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from turkbatch import engine, jobs
from turkbatch.backoff import Backoff
from turkbatch.client import ClientSettings
from turkbatch.journal import Journal
from turkbatch.sim import Clock, Simulator, World
from turkbatch.status import status

FAST = Backoff(base=0.001, cap=0.01)


def bonus(n: int, amount: str) -> dict[str, Any]:
    """A SendBonus line for worker n."""
    return {
        "op": "SendBonus",
        "WorkerId": f"A{n:06d}",
        "AssignmentId": f"3ASG{n:06d}",
        "BonusAmount": amount,
        "Reason": "thanks",
    }


async def test_finished_job(tmp_path: Path) -> None:
    """After a run: finished, counts by outcome, bonuses paid with their fees."""
    job = tmp_path / "job.jsonl"
    records = [bonus(1, "1.00"), bonus(2, "0.04"), bonus(3, "50.00")]
    job.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    async with Simulator(world=World(clock=Clock(), balance="10.00")) as sim:
        client = ClientSettings(endpoint_url=sim.endpoint_url)
        await engine.run(job, engine.Settings(client=client, backoff=FAST, max_bonus=None))
    s = status(tmp_path / "job.journal.jsonl")
    assert s.state == "finished" and s.pid == os.getpid() and s.runs == 1
    assert s.job == str(job) and s.job_operations == 3 and s.job_changed is False
    counts = s.by_op["SendBonus"]
    assert (counts.done, counts.failed, counts.in_doubt) == (2, 1, 0)
    assert s.bonuses == 2 and s.bonus_paid == Decimal("1.04") and s.fees == Decimal("0.21")
    text = s.render()
    assert "finished" in text and "the job: 2 of 3 calls done, 1 failed, 0 in doubt" in text
    assert "$1.04 + fees $0.21 = $1.25" in text
    record = json.loads(json.dumps(s.as_dict()))
    assert record["total"]["failed"] == 1 and record["bonus_paid"] == "1.04"


async def test_stopped_run_with_work_in_doubt(tmp_path: Path) -> None:
    """A run that died (no end record, process gone) 'crashed'; its intent is in doubt."""
    job = tmp_path / "job.jsonl"
    job.write_bytes(orjson.dumps(bonus(1, "1.00")) + b"\n")
    (op,) = [i for i in jobs.read_job(job) if isinstance(i, jobs.Operation)]
    path = tmp_path / "job.journal.jsonl"
    journal = await Journal.open(path, job_digest=jobs.check_job(job).digest, job_path=str(job))
    await journal.intent(op.key, op="SendBonus", token=op.token, params=dict(op.params))
    assert status(path).state == "running"  # this process holds it and is alive
    await journal.close()
    # Rewrite the journal as a dead process's: its pid gone and no end record.
    lines = path.read_bytes().splitlines(keepends=True)[:-1]
    dead = orjson.loads(lines[0]) | {"pid": 2**22 + 12345}
    path.write_bytes(orjson.dumps(dead) + b"\n" + b"".join(lines[1:]) + b'{"t":"done"')
    s = status(path)
    assert s.state == "crashed" and s.by_op["SendBonus"].in_doubt == 1
    assert "without closing the journal" in s.render()


def test_journal_without_its_job_file(tmp_path: Path) -> None:
    """The job file is only context: its absence is noted, never an error."""
    path = tmp_path / "j.jsonl"
    run = {"t": "run", "job": "d", "job_path": str(tmp_path / "gone.jsonl"), "pid": 1, "at": 1.0}
    path.write_bytes(orjson.dumps(run) + b"\n")
    s = status(path)
    assert s.job_operations is None and s.job_note and "no longer there" in s.render()
