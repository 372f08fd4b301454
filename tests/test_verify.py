"""``turkbatch verify``: a job's effects checked against the simulator's own records."""

from __future__ import annotations

import csv
import json
import shlex
import socket
import sys
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config
from hypothesis import given
from hypothesis import strategies as st
from support import cli

from turkbatch import backoff, jobs, payouts, policy
from turkbatch.client import ClientSettings
from turkbatch.sim import Clock, SimAdmin, Simulator, World
from turkbatch.summary import Snapshot
from turkbatch.verdict import Status, Verification
from turkbatch.verify import Settings, verify

READS = frozenset(op for op in policy.VERIFY_READS.values() for op in op)


# --- helpers ----------------------------------------------------------------------------


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write records as a JSONL file."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def bonus(worker: str, assignment: str, amount: str, reason: str = "good") -> dict[str, Any]:
    """A SendBonus line."""
    return {
        "op": "SendBonus",
        "WorkerId": worker,
        "AssignmentId": assignment,
        "BonusAmount": amount,
        "Reason": reason,
    }


def payout_world(path: Path) -> Path:
    """Two HITs: 3HITA with assignments 3AS1..3AS3 (AW1..AW3), 3HITB with 3AS4 (AW4)."""
    world = {
        "hits": [{"HITId": "3HITA", "MaxAssignments": 5}, {"HITId": "3HITB"}],
        "assignments": [
            {"AssignmentId": f"3AS{n}", "WorkerId": f"AW{n}", "HITId": "3HITA"} for n in (1, 2, 3)
        ]
        + [{"AssignmentId": "3AS4", "WorkerId": "AW4", "HITId": "3HITB"}],
    }
    path.write_text(json.dumps(world))
    return path


PAYOUT = [
    bonus("AW1", "3AS1", "1.5"),
    bonus("AW1", "3AS1", "1.5"),  # the same payment twice, on purpose
    bonus("AW2", "3AS2", "2"),
    bonus("AW3", "3AS3", "2.00", "Great work"),
    bonus("AW4", "3AS4", "0.25", "=thanks"),  # a spreadsheet would run this as a formula
]


def admin(url: str, name: str, body: dict[str, Any] | None = None) -> Any:
    """Call the simulator's admin API (GET, or POST with a body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/_turkbatch/{name}", data=data)
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
        return json.loads(response.read())


def calls(url: str) -> Counter[str]:
    """Requests the simulator received, by operation."""
    ops = admin(url, "counters")["operations"]
    return Counter({op: c["received"] for op, c in ops.items() if c["received"]})


def boto3_client(url: str) -> Any:
    """A plain synchronous boto3 MTurk client for the simulator (a tool other than ours)."""
    return boto3.session.Session().client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=url,
        config=Config(retries={"total_max_attempts": 1}),
    )


def pay(client: Any, line: dict[str, Any]) -> None:
    """Pay one bonus line with boto3, as a script would (no token)."""
    client.send_bonus(**{k: v for k, v in line.items() if k != "op"})


def statuses(out: str) -> dict[str, int]:
    """The SendBonus row of verify's text table, as {status: count}."""
    row = next(line for line in out.splitlines() if line.startswith("SendBonus"))
    names = ("exact", "missing", "extra", "unexpected", "error", "not_checkable")
    return dict(zip(names, (int(n.replace(",", "")) for n in row.split()[1:]), strict=True))


# --- counting -----------------------------------------------------------------------------

AMOUNTS = {"1": "1.00", "1.0": "1.00", "1.00": "1.00", "2.5": "2.50", "2.50": "2.50"}
payment = st.tuples(
    st.sampled_from(["AW1", "AW2"]), st.sampled_from(sorted(AMOUNTS)), st.sampled_from(["r", "s"])
)


@given(st.lists(payment, max_size=8), st.lists(payment, max_size=8))
def test_payments_are_counted_as_multisets(
    asked: list[tuple[str, str, str]], found: list[tuple[str, str, str]]
) -> None:
    """
    Per (worker, amount as a number, reason): min(asked, found) lines exact, in job order,
    the rest missing; found beyond asked extra, or all unexpected when none was asked.
    """
    ops = [
        jobs.Operation(
            line=n,
            key=f"k{n}",
            op="SendBonus",
            params={"WorkerId": w, "AssignmentId": "3A", "BonusAmount": a, "Reason": r},
        )
        for n, (w, a, r) in enumerate(asked, 1)
    ]
    listed = [
        {"WorkerId": w, "AssignmentId": "3A", "BonusAmount": AMOUNTS[a], "Reason": r}
        for w, a, r in found
    ]
    result = payouts.count(ops, listed)

    def norm(items: list[tuple[str, str, str]]) -> Counter[tuple[str, str, str]]:
        return Counter((w, AMOUNTS[a], r) for w, a, r in items)

    def rows(verdicts: list[payouts.Entry]) -> Counter[tuple[str, str, str]]:
        return Counter((p.identity[0], p.identity[2], p.identity[3]) for p in verdicts)

    want, got = norm(asked), norm(found)
    assert rows(result.exact) == want & got
    assert rows(result.missing) == want - got
    assert rows(result.extra) == Counter({k: n for k, n in (got - want).items() if k in want})
    assert rows(result.unexpected) == Counter({k: n for k, n in got.items() if k not in want})
    for identity in want:  # the first lines of an identity are the exact ones
        lines = [p.line for p in result.exact + result.missing if rows([p]) == Counter([identity])]
        exact = [p.line for p in result.exact if rows([p]) == Counter([identity])]
        assert exact == sorted(lines)[: len(exact)]


# --- the cases ------------------------------------------------------------------


def test_a_job_paid_by_turkbatch_verifies_exact(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `run`, every payment is exact, exit 0, and verify sent only its read calls."""
    url = sim_process("--world", str(payout_world(tmp_path / "world.json")))
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT)
    assert cli(capsys, "run", str(job), "--endpoint-url", url, "--quiet")[0] == 0
    before = calls(url)
    code, out, err = cli(capsys, "verify", str(job), "--endpoint-url", url)
    assert code == 0, err
    assert statuses(out) == {
        "exact": 5,
        "missing": 0,
        "extra": 0,
        "unexpected": 0,
        "error": 0,
        "not_checkable": 0,
    }
    assert "Everything checkable is as the job asks." in out and "To pay" not in out
    sent = calls(url) - before
    assert set(sent) <= READS & set(policy.VERIFY_READS["SendBonus"]), sent
    assert f": {sum(sent.values())} read calls (" in out.splitlines()[0]


def test_one_payment_removed_shows_exactly_that_one_missing_and_the_command_pays_it(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    With one of two identical payments gone from the world, exactly that one is missing;
    the printed command pays exactly it, and verify is then exact.
    """
    url = sim_process("--world", str(payout_world(tmp_path / "world.json")))
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT)
    assert cli(capsys, "run", str(job), "--endpoint-url", url, "--quiet")[0] == 0
    # The world back to its start (no bonuses), then every payment but the second of
    # the identical pair made again: the world as if that one payment had been removed.
    admin(url, "reset", {})
    client = boto3_client(url)
    for line in PAYOUT[:1] + PAYOUT[2:]:
        pay(client, line)
    code, out, _ = cli(capsys, "verify", str(job), "--endpoint-url", url)
    assert code == 1
    assert statuses(out)["missing"] == 1 and statuses(out)["exact"] == 4
    assert "line 2  SendBonus  missing  AW1 3AS1 $1.50 'good'" in out
    assert "1 payment(s) missing ($1.50). To pay exactly those:" in out
    command = out.split("To pay exactly those:\n")[1].splitlines()[0].strip()
    # The journal says line 2 was paid, MTurk says not: a fresh journal, and a lookup.
    assert "--reconcile" in command and ".repay.jsonl" in command and url in command
    paid = len(admin(url, "ledger")["bonuses"])
    argv = after_turkbatch(shlex.split(command))
    assert argv[0] == "run"
    assert cli(capsys, *argv, "--quiet")[0] == 0
    ledger = admin(url, "ledger")["bonuses"]
    assert len(ledger) == paid + 1
    assert (ledger[-1]["WorkerId"], ledger[-1]["AssignmentId"]) == ("AW1", "3AS1")
    assert cli(capsys, "verify", str(job), "--endpoint-url", url)[0] == 0


def test_a_duplicate_payment_made_outside_turkbatch_shows_as_extra(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A payment made again with boto3 ("1.50" for the job's "1.5") is extra: exit 1."""
    url = sim_process("--world", str(payout_world(tmp_path / "world.json")))
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT)
    assert cli(capsys, "run", str(job), "--endpoint-url", url, "--quiet")[0] == 0
    pay(boto3_client(url), bonus("AW1", "3AS1", "1.50"))
    code, out, _ = cli(capsys, "--output", "json", "verify", str(job), "--endpoint-url", url)
    assert code == 1
    record = json.loads(out)
    assert record["ok"] is False and record["repay"] is None
    assert record["by_operation"]["SendBonus"] == {"exact": 5, "extra": 1}
    [extra] = record["problems"]
    assert extra["status"] == "extra" and extra["amount"] == "1.50"
    assert (extra["worker_id"], extra["assignment_id"], extra["hit_id"]) == ("AW1", "3AS1", "3HITA")


def test_an_unexpected_payment_is_shown_not_failed(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A payment on a bonused assignment that no line asks for is listed; exit stays 0."""
    url = sim_process("--world", str(payout_world(tmp_path / "world.json")))
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT)
    assert cli(capsys, "run", str(job), "--endpoint-url", url, "--quiet")[0] == 0
    client = boto3_client(url)
    pay(client, bonus("AW2", "3AS2", "0.75", "a tip"))
    pay(client, bonus("AW4", "3AS4", "9.99", "=thanks"))  # another amount
    pay(client, bonus("AW3", "3AS3", "2.00", "good"))  # another reason
    code, out, _ = cli(capsys, "verify", str(job), "--endpoint-url", url)
    assert code == 0
    assert statuses(out)["unexpected"] == 3
    assert "Payments no line asks for" in out and "AW2 3AS2 $0.75 'a tip'" in out


def test_a_payout_made_by_a_plain_boto3_loop_verifies(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    No journal, no turkbatch run: a script's payout verifies exact (with MTurk's trailing
    NextToken on listings, and a line in the legacy spelling); a CSV row each.
    """
    world = str(payout_world(tmp_path / "world.json"))
    url = sim_process("--world", world, "--trailing-next-token")
    client = boto3_client(url)
    for line in PAYOUT:
        pay(client, line)
    legacy = {  # line 3 in the 2014 spelling: read and verified as run reads it
        "op": "GrantBonus",
        "WorkerId": "AW2",
        "AssignmentId": "3AS2",
        "BonusAmount": {"Amount": "2", "CurrencyCode": "USD"},
        "Reason": "good",
    }
    job = write_jsonl(tmp_path / "job.jsonl", [*PAYOUT[:2], legacy, *PAYOUT[3:]])
    proof = tmp_path / "proof.csv"
    code, out, _ = cli(capsys, "verify", str(job), "--endpoint-url", url, "--report", str(proof))
    assert code == 0 and statuses(out)["exact"] == 5
    assert not (tmp_path / "job.journal.jsonl").exists()
    rows = list(csv.DictReader(proof.open(newline="")))
    assert [r["line"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert {r["status"] for r in rows} == {"exact"}
    assert rows[4]["reason"] == "'=thanks"  # neutralised for spreadsheets
    assert rows[0]["amount"] == "1.50" and rows[0]["hit_id"] == "3HITA"


def test_messages_are_reported_from_the_journal_worker_by_worker(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Delivered, still soft-failing after the resends, and never sent (a line added since
    the run): from the journal, and never a reason to exit 1.
    """
    world = tmp_path / "world.json"
    world.write_text(
        json.dumps({"workers": [{"WorkerId": "AW1"}, {"WorkerId": "AWS", "soft_fail": 9}]})
    )
    url = sim_process("--world", str(world))
    message = {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m"}
    job = write_jsonl(tmp_path / "job.jsonl", [{**message, "WorkerIds": ["AW1", "AWS"]}])
    with backoff.testing():
        assert cli(capsys, "run", str(job), "--endpoint-url", url, "--quiet")[0] == 0
    write_jsonl(job, [{**message, "WorkerIds": ["AW1", "AWS"]}, {**message, "WorkerIds": ["AW1"]}])
    proof = tmp_path / "proof.csv"
    code, out, _ = cli(capsys, "verify", str(job), "--endpoint-url", url, "--report", str(proof))
    assert code == 0
    said = "1 delivered, 1 soft failure, 1 not sent"
    assert f"from the journal (MTurk keeps no record of messages): {said}" in out
    rows = [
        (r["line"], r["worker_id"], r["status"], r["source"]) for r in csv.DictReader(proof.open())
    ]
    assert rows == [
        ("1", "AW1", "delivered", "journal"),
        ("1", "AWS", "soft_failure", "journal"),
        ("2", "AW1", "not_sent", "journal"),
    ]
    assert calls(url).get("ListBonusPayments") is None  # nothing to ask MTurk


def test_throttles_and_faults_are_retried_by_the_runs_retry_layer(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under throttling and 500s, verify still gets every answer, and exits 0."""
    url = sim_process("--world", str(payout_world(tmp_path / "world.json")))
    client = boto3_client(url)
    for line in PAYOUT:
        pay(client, line)
    admin(url, "faults", {"throttle_rate": 2, "throttle_burst": 1, "fault_rate": 0.3})
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT)
    with backoff.testing() as delays:
        code, out, _ = cli(capsys, "verify", str(job), "--endpoint-url", url, "--rate", "1000")
    assert code == 0 and statuses(out)["exact"] == 5
    totals = admin(url, "counters")["totals"]
    assert totals["throttled"] + totals["faulted"] > 0 and delays


def mixed_world(path: Path) -> Path:
    """A world for a job of every checkable kind."""
    world = {
        "hits": [{"HITId": "3HITA"}, {"HITId": "3HITB"}, {"HITId": "3HITC"}],
        "assignments": [
            {"AssignmentId": "3AS1", "WorkerId": "AW1", "HITId": "3HITA"},
            {"AssignmentId": "3AS2", "WorkerId": "AW2", "HITId": "3HITA"},
            {"AssignmentId": "3AS3", "WorkerId": "AW3", "HITId": "3HITB"},
            {"AssignmentId": "3AS4", "WorkerId": "AW4", "HITId": "3HITC"},
            {"AssignmentId": "3AS5", "WorkerId": "AW5", "HITId": "3HITC"},
        ],
        "qualification_types": [{"QualificationTypeId": "3QT1", "Name": "skill"}],
        "qualification_requests": [
            {"QualificationRequestId": "3QR1", "QualificationTypeId": "3QT1", "WorkerId": "AW6"},
            {"QualificationRequestId": "3QR2", "QualificationTypeId": "3QT1", "WorkerId": "AW7"},
        ],
        "qualifications": [{"QualificationTypeId": "3QT1", "WorkerId": "AW8"}],
        "blocks": [{"WorkerId": "AW9", "Reason": "old"}],
    }
    path.write_text(json.dumps(world))
    return path


MIXED = [
    {"op": "ApproveAssignment", "HITId": "3HITA"},
    {"op": "ApproveAssignment", "AssignmentId": "3AS3"},
    {"op": "RejectAssignment", "HITId": "3HITC", "RequesterFeedback": "blank"},
    {"barrier": True},
    bonus("AW1", "3AS1", "1.00"),
    {
        "op": "AssociateQualificationWithWorker",
        "QualificationTypeId": "3QT1",
        "WorkerIds": ["AW1", "AW2", "AW3"],
        "IntegerValue": 5,
    },
    {"op": "DisassociateQualificationFromWorker", "QualificationTypeId": "3QT1", "WorkerId": "AW8"},
    {"op": "AcceptQualificationRequest", "QualificationRequestId": "3QR1"},
    {"op": "RejectQualificationRequest", "QualificationTypeId": "3QT1"},
    {"op": "CreateWorkerBlock", "WorkerId": "AW3", "Reason": "spam"},
    {"op": "DeleteWorkerBlock", "WorkerId": "AW9"},
    {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m", "WorkerIds": ["AW1", "AWX"]},
    {"op": "UpdateExpirationForHIT", "HITId": "3HITB", "ExpireAt": 0},
]
KINDS = [
    "ApproveAssignment",
    "RejectAssignment",
    "SendBonus",
    "AssociateQualificationWithWorker",
    "DisassociateQualificationFromWorker",
    "AcceptQualificationRequest",
    "RejectQualificationRequest",
    "CreateWorkerBlock",
    "DeleteWorkerBlock",
]


def test_a_mixed_job_verifies_each_line_kind(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Before the run every checkable kind is missing; after it, exact; messages come from
    the journal, and what MTurk keeps no record of is "not checkable", never verified.
    """
    url = sim_process("--world", str(mixed_world(tmp_path / "world.json")))
    job = write_jsonl(tmp_path / "job.jsonl", MIXED)
    code, out, _ = cli(capsys, "--output", "json", "verify", str(job), "--endpoint-url", url)
    before = json.loads(out)
    assert code == 1
    for kind in KINDS:
        assert set(before["by_operation"][kind]) == {"missing"}, kind
    assert before["by_operation"]["NotifyWorkers"] == {"not_checkable": 2}
    assert before["by_operation"]["UpdateExpirationForHIT"] == {"not_checkable": 1}
    assert after_turkbatch(shlex.split(before["repay"]["command"]))[0] == "run"
    assert "--reconcile" in before["repay"]["command"]

    assert cli(capsys, "run", str(job), "--endpoint-url", url, "--quiet")[0] == 0
    counted = calls(url)
    code, out, _ = cli(capsys, "--output", "json", "verify", str(job), "--endpoint-url", url)
    after = json.loads(out)
    assert code == 0, after["problems"]
    for kind in KINDS:
        assert set(after["by_operation"][kind]) == {"exact"}, kind
    assert after["by_operation"]["ApproveAssignment"]["exact"] == 3  # two by HIT, one by id
    assert after["by_operation"]["AssociateQualificationWithWorker"]["exact"] == 3
    assert after["by_operation"]["NotifyWorkers"] == {"delivered": 1, "hard_failure": 1}
    assert after["by_operation"]["UpdateExpirationForHIT"] == {"not_checkable": 1}
    assert after["journal"] == str(tmp_path / "job.journal.jsonl")
    code, text, _ = cli(capsys, "verify", str(job), "--endpoint-url", url)
    said = "NotifyWorkers, from the journal (MTurk keeps no record of messages): "
    assert code == 0 and f"{said}1 delivered, 1 hard failure" in text
    assert "line 12  NotifyWorkers  hard_failure  AWX  (Cannot send a notification" in text
    sent = calls(url) - counted
    ops = {r["op"] for r in MIXED if "op" in r}
    assert {f"mechanicalturk:{op}" for op in sent} <= set(policy.for_verify(ops)), sent


def test_ids_mturk_does_not_know_are_verdicts_not_crashes(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    An unknown assignment, HIT or qualification type is a missing or error row, with
    MTurk's message (without its timestamp): exit 1, each asked once.
    """
    url = sim_process("--world", str(payout_world(tmp_path / "world.json")))
    job = write_jsonl(
        tmp_path / "job.jsonl",
        [
            bonus("AW1", "3NOSUCH", "1.00"),
            {"op": "ApproveAssignment", "HITId": "3NOHIT"},
            {"op": "RejectAssignment", "AssignmentId": "3NOSUCH2", "RequesterFeedback": "no"},
            {"op": "AcceptQualificationRequest", "QualificationTypeId": "3NOTYPE"},
            {
                "op": "AssociateQualificationWithWorker",
                "QualificationTypeId": "3NOTYPE",
                "WorkerId": "AW1",
            },
        ],
    )
    code, out, err = cli(capsys, "--output", "json", "verify", str(job), "--endpoint-url", url)
    assert code == 1 and "Traceback" not in err, err
    rows = {r["op"]: (r["status"], r["detail"]) for r in json.loads(out)["problems"]}
    assert rows == {
        "SendBonus": ("missing", "Assignment 3NOSUCH does not exist."),
        "ApproveAssignment": ("error", "Hit 3NOHIT does not exist."),
        "RejectAssignment": ("missing", "Assignment 3NOSUCH2 does not exist."),
        "AcceptQualificationRequest": ("error", "QualificationType [3NOTYPE] does not exist."),
        "AssociateQualificationWithWorker": ("missing", "the worker does not hold it"),
    }
    assert json.loads(out)["calls"]["ListAssignmentsForHIT"] == 1  # a refusal is kept too


# --- the call plan ----------------------------------------------------------------------


def big_world(hits: int, per_hit: int) -> dict[str, Any]:
    """``hits`` HITs of ``per_hit`` assignments each, every assignment its own worker."""
    return {
        "hits": [{"HITId": f"3HIT{h:04d}", "MaxAssignments": per_hit} for h in range(hits)],
        "assignments": [
            {
                "AssignmentId": f"3A{h:04d}{i:03d}",
                "WorkerId": f"AW{h:04d}{i:03d}",
                "HITId": f"3HIT{h:04d}",
            }
            for h in range(hits)
            for i in range(per_hit)
        ],
    }


def big_job(path: Path, hits: int, per_hit: int) -> list[dict[str, Any]]:
    """One bonus per assignment, grouped by HIT as a batch-results export is."""
    lines = [
        bonus(f"AW{h:04d}{i:03d}", f"3A{h:04d}{i:03d}", "0.50")
        for h in range(hits)
        for i in range(per_hit)
    ]
    write_jsonl(path, lines)
    return lines


async def counted_verify(sim: Simulator, job: Path, **kw: Any) -> tuple[Verification, Counter[str]]:
    """Verify against an in-process simulator; return the result and the calls it received."""
    settings = Settings(client=ClientSettings(endpoint_url=sim.endpoint_url), rate=100_000.0, **kw)
    async with SimAdmin(sim.endpoint_url) as sim_admin:
        await sim_admin.reset()  # counters to zero; the world's payments stay (snapshot)
        result = await verify(job, settings)
        ops = (await sim_admin.counters())["operations"]
    return result, Counter({op: c["received"] for op, c in ops.items() if c["received"]})


async def test_ten_thousand_bonuses_over_200_hits_take_600_calls(tmp_path: Path) -> None:
    """
    10,000 bonuses over 200 HITs of 50: per HIT one GetAssignment (which HIT), one
    ListAssignmentsForHIT (its other assignments) and one ListBonusPayments(HITId):
    600 calls, not 10,000, whether the payout was made or not; progress is reported.
    """
    job = tmp_path / "job.jsonl"
    lines = big_job(job, 200, 50)
    world = World.from_dict(big_world(200, 50), clock=Clock())
    async with Simulator(world=world) as sim:
        result, sent = await counted_verify(sim, job)
        assert result.counts()["SendBonus"] == Counter({Status.MISSING: 10_000})
        assert sent == {
            "GetAssignment": 200,
            "ListAssignmentsForHIT": 200,
            "ListBonusPayments": 200,
        }
        for line in lines:
            world.call("SendBonus", {k: v for k, v in line.items() if k != "op"})
        world.snapshot()  # so the admin reset that zeroes the counters keeps the payments
        seen: list[Snapshot] = []
        result, sent = await counted_verify(sim, job, progress=seen.append, progress_interval=0.001)
    assert result.exit_code == 0
    assert result.counts()["SendBonus"] == Counter({Status.EXACT: 10_000})
    assert sent == {"GetAssignment": 200, "ListAssignmentsForHIT": 200, "ListBonusPayments": 200}
    assert sum(result.calls.values()) == 600
    assert seen and seen[-1].total == 10_000 and seen[-1].requests <= 600
    assert seen[-1].bonus_paid <= 5_000


async def test_bonuses_on_hits_of_their_own_are_listed_by_assignment(tmp_path: Path) -> None:
    """
    Assignments on single-assignment HITs: one seed shows seeding does not pay, and each
    assignment is listed on its own (no ListAssignmentsForHIT at all); two bonuses are
    listed by assignment straight away.
    """
    world = World.from_dict(big_world(6, 1), clock=Clock())
    job = tmp_path / "job.jsonl"
    lines = big_job(job, 6, 1)
    async with Simulator(world=world) as sim:
        for line in lines:
            world.call("SendBonus", {k: v for k, v in line.items() if k != "op"})
        world.snapshot()
        result, sent = await counted_verify(sim, job)
        assert result.exit_code == 0
        assert sent == {"GetAssignment": 1, "ListBonusPayments": 6}
        write_jsonl(job, lines[:2])
        result, sent = await counted_verify(sim, job)
    assert result.exit_code == 0 and sent == {"ListBonusPayments": 2}


async def test_approvals_by_assignment_id_are_checked_a_hit_at_a_time(tmp_path: Path) -> None:
    """30 approvals by AssignmentId over 3 HITs: a GetAssignment and a listing per HIT."""
    world = World.from_dict(big_world(3, 10), clock=Clock())
    ids = [f"3A{h:04d}{i:03d}" for h in range(3) for i in range(10)]
    job = write_jsonl(
        tmp_path / "job.jsonl", [{"op": "ApproveAssignment", "AssignmentId": a} for a in ids]
    )
    async with Simulator(world=world) as sim:
        for assignment in ids[:-1]:
            world.call("ApproveAssignment", {"AssignmentId": assignment})
        world.snapshot()
        result, sent = await counted_verify(sim, job)
    assert sent == {"GetAssignment": 3, "ListAssignmentsForHIT": 3}
    assert result.counts()["ApproveAssignment"] == {Status.EXACT: 29, Status.MISSING: 1}
    [missing] = result.problems()
    assert (missing.assignment_id, missing.detail) == (ids[-1], "the assignment is Submitted")


async def test_qualifications_are_listed_while_that_is_cheaper_than_asking(
    tmp_path: Path,
) -> None:
    """
    Grants to 5 of a type's 1,000 holders: the first 5 are on the first page (1 call);
    the last 5 would take 10 pages, so after 5 the rest are asked one by one (10 calls,
    never more than 2 per worker); 2 workers are asked straight away.
    """
    holders = [f"AQ{n:04d}" for n in range(1000)]
    world = World.from_dict(
        {
            "qualification_types": [{"QualificationTypeId": "3QT1", "Name": "q"}],
            "qualifications": [{"QualificationTypeId": "3QT1", "WorkerId": w} for w in holders],
        },
        clock=Clock(),
    )
    grant = {"op": "AssociateQualificationWithWorker", "QualificationTypeId": "3QT1"}
    job = tmp_path / "job.jsonl"
    async with Simulator(world=world) as sim:
        write_jsonl(job, [{**grant, "WorkerIds": holders[:5]}])
        result, sent = await counted_verify(sim, job)
        assert result.exit_code == 0 and sent == {"ListWorkersWithQualificationType": 1}
        write_jsonl(job, [{**grant, "WorkerIds": holders[-5:]}])
        result, sent = await counted_verify(sim, job)
        assert result.exit_code == 0
        assert sent == {"ListWorkersWithQualificationType": 5, "GetQualificationScore": 5}
        write_jsonl(job, [{**grant, "WorkerIds": [holders[500], "ANOTHOLDER"]}])
        result, sent = await counted_verify(sim, job)
    assert sent == {"GetQualificationScore": 2}
    assert result.counts()["AssociateQualificationWithWorker"] == {
        Status.EXACT: 1,
        Status.MISSING: 1,
    }


# --- the repay command ------------------------------------------------------------------


def after_turkbatch(argv: list[str]) -> list[str]:
    """The arguments of a printed command after `turkbatch` (or `PYTHON -m turkbatch`)."""
    if argv[0] == "turkbatch":
        return argv[1:]
    assert argv[0] == sys.executable and argv[1:3] == ["-m", "turkbatch"], argv
    return argv[3:]


def repay(out: str) -> list[str]:
    """The command verify prints to pay the missing payments, as argv after `turkbatch`."""
    command = out.split("To pay exactly those:\n")[1].splitlines()[0].strip()
    argv = after_turkbatch(shlex.split(command))
    assert argv[0] == "run", command
    return argv


def test_with_a_journal_that_has_not_done_them_a_plain_run_pays_the_missing(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the journal's undone lines are exactly the missing payments: `run --journal`."""
    url = sim_process("--world", str(payout_world(tmp_path / "world.json")))
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT)
    journal = tmp_path / "job.journal.jsonl"
    first = write_jsonl(tmp_path / "first.jsonl", PAYOUT[:3])
    assert cli(capsys, "run", str(first), "--journal", str(journal), "--endpoint-url", url)[0] == 0
    code, out, _ = cli(capsys, "verify", str(job), "--endpoint-url", url)
    assert code == 1 and statuses(out)["missing"] == 2
    argv = repay(out)
    assert argv == ["run", str(job), "--journal", str(journal), "--endpoint-url", url]
    paid = len(admin(url, "ledger")["bonuses"])
    assert cli(capsys, *argv, "--quiet")[0] == 0
    assert len(admin(url, "ledger")["bonuses"]) == paid + 2
    assert cli(capsys, "verify", str(job), "--endpoint-url", url)[0] == 0


def test_a_payment_made_elsewhere_makes_the_repay_run_reconcile(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    A line the journal has not done but MTurk shows paid (by a script) would be paid
    again by a plain run: the command adds --reconcile, and pays only the missing one.
    """
    url = sim_process("--world", str(payout_world(tmp_path / "world.json")))
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT)
    journal = tmp_path / "job.journal.jsonl"
    first = write_jsonl(tmp_path / "first.jsonl", PAYOUT[:3])
    assert cli(capsys, "run", str(first), "--journal", str(journal), "--endpoint-url", url)[0] == 0
    pay(boto3_client(url), PAYOUT[3])
    code, out, _ = cli(capsys, "verify", str(job), "--endpoint-url", url)
    assert code == 1 and statuses(out)["missing"] == 1 and "line 5  SendBonus  missing" in out
    argv = repay(out)
    assert "--reconcile" in argv and argv[argv.index("--journal") + 1] == str(journal)
    paid = len(admin(url, "ledger")["bonuses"])
    assert cli(capsys, *argv, "--quiet")[0] == 0
    ledger = admin(url, "ledger")["bonuses"]
    assert len(ledger) == paid + 1 and ledger[-1]["AssignmentId"] == "3AS4"
    assert cli(capsys, "verify", str(job), "--endpoint-url", url)[0] == 0


def test_a_journal_of_another_endpoint_is_not_used(
    sim_process: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Verify against B with a journal of runs against A: said, not used, and the repay
    command gets a journal of its own (a run would refuse A's); it pays on B exactly.
    """
    world = str(payout_world(tmp_path / "world.json"))
    a, b = sim_process("--world", world), sim_process("--world", world)
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT)
    assert cli(capsys, "run", str(job), "--endpoint-url", a, "--quiet")[0] == 0
    client = boto3_client(b)
    for line in PAYOUT[:4]:
        pay(client, line)
    code, out, _ = cli(capsys, "verify", str(job), "--endpoint-url", b)
    assert code == 1 and statuses(out)["missing"] == 1
    journal = tmp_path / "job.journal.jsonl"
    assert f"note: the journal {journal} describes runs against {a}" in out
    argv = repay(out)
    assert argv[argv.index("--journal") + 1] == str(tmp_path / "job.journal.repay.jsonl")
    assert cli(capsys, *argv, "--quiet")[0] == 0
    assert len(admin(b, "ledger")["bonuses"]) == 5
    assert cli(capsys, "verify", str(job), "--endpoint-url", b)[0] == 0


# --- the command line -------------------------------------------------------------------


def test_invalid_job_usage_and_an_unreachable_endpoint_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each is a one-line error (no traceback) and exit 2."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"op": "SendBonus", "WorkerId": "AW1"}\n')
    code, _, err = cli(capsys, "verify", str(bad), "--endpoint-url", "http://127.0.0.1:9")
    assert code == 2 and f"{bad}:1:" in err and "Traceback" not in err
    code, _, err = cli(capsys, "verify", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "no such job file" in err
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT)
    code, _, err = cli(capsys, "verify", str(job), "--journal", str(tmp_path / "j.jsonl"))
    assert code == 2 and "no such journal" in err
    code, _, err = cli(capsys, "verify", str(job), "--report", str(tmp_path / "no" / "r.csv"))
    assert code == 2 and "no such directory" in err
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with backoff.testing():
        code, _, err = cli(capsys, "verify", str(job), "--endpoint-url", f"http://127.0.0.1:{port}")
    assert code == 2 and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("turkbatch: cannot verify: ") and "failed after retries" in line
    assert line.endswith(f"is http://127.0.0.1:{port} reachable?")


def test_help_and_the_verify_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--help has examples and exit codes; `policy --verify` allows only verify's reads."""
    code, out, _ = cli(capsys, "verify", "--help")
    assert code == 0 and "examples:" in out and "exit codes:" in out and "--report" in out
    job = write_jsonl(tmp_path / "job.jsonl", MIXED)
    code, out, _ = cli(capsys, "policy", str(job), "--verify")
    actions = json.loads(out)["Statement"][0]["Action"]
    assert code == 0 and actions == sorted(
        f"mechanicalturk:{op}"
        for op in (
            "GetAssignment",
            "GetQualificationScore",
            "ListAssignmentsForHIT",
            "ListBonusPayments",
            "ListQualificationRequests",
            "ListWorkerBlocks",
            "ListWorkersWithQualificationType",
        )
    )
    notify = write_jsonl(tmp_path / "notify.jsonl", [MIXED[-2]])
    code, out, err = cli(capsys, "policy", str(notify), "--verify")
    assert code == 0 and out == "" and "verify makes no MTurk call" in err


async def test_sim_flag_checks_against_an_empty_world(tmp_path: Path) -> None:
    """`--sim` verifies against a fresh embedded simulator: nothing there, all missing."""
    job = write_jsonl(tmp_path / "job.jsonl", PAYOUT[:1])
    result = await verify(job, Settings(rate=1000.0), sim=True)
    assert result.exit_code == 1 and result.counts()["SendBonus"] == {Status.MISSING: 1}
    assert result.endpoint.startswith("http://127.0.0.1:")
