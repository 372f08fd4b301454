"""Tests for turkbatch.jobs: parsing, validating, keying and tokens of job files."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turkbatch import jobs, ledger
from turkbatch.errors import JobError
from turkbatch.jobs import Barrier, Operation

BONUS = {
    "op": "SendBonus",
    "WorkerId": "A1B2C3",
    "AssignmentId": "3X4Y5Z",
    "BonusAmount": "1.25",
    "Reason": "Great work",
}
NOTIFY = {"op": "NotifyWorkers", "Subject": "Hi", "MessageText": "Thanks", "WorkerIds": ["A1B2"]}
APPROVE = {"op": "ApproveAssignment", "AssignmentId": "3X4Y5Z"}
REJECT = {"op": "RejectAssignment", "AssignmentId": "3X4Y5Z", "RequesterFeedback": "No"}


def write(tmp_path: Path, *lines: object, name: str = "job.jsonl") -> Path:
    """Write a job file: dicts as JSON lines, str and bytes as they are."""
    path = tmp_path / name
    with path.open("wb") as f:
        for line in lines:
            if isinstance(line, bytes):
                f.write(line + b"\n")
            elif isinstance(line, str):
                f.write(line.encode() + b"\n")
            else:
                f.write(orjson.dumps(line) + b"\n")
    return path


def errors_of(path: Path, **kw: Any) -> list[tuple[int, str]]:
    """Return ``(line, message)`` of every error check_job reports."""
    with pytest.raises(JobError) as caught:
        jobs.check_job(path, **kw)
    return [(e.line, e.message) for e in caught.value.errors]


def operations(path: Path) -> list[Operation]:
    """Check, then read a job, returning its operations only."""
    jobs.check_job(path)
    return [item for item in jobs.read_job(path) if isinstance(item, Operation)]


def test_mixed_job_parses_with_keys_tokens_and_stats(tmp_path: Path) -> None:
    """A valid job yields operations and barriers with their lines, keys and tokens."""
    path = write(
        tmp_path,
        "# pay, then tell them",
        BONUS,
        "",
        {"barrier": True},
        {**NOTIFY, "id": "msg-1"},
        "   " + json.dumps(APPROVE),
    )
    stats = jobs.check_job(path)
    assert stats.operations == 3
    assert stats.by_op == {"ApproveAssignment": 1, "NotifyWorkers": 1, "SendBonus": 1}
    assert (stats.barriers, stats.lines, stats.total_bonus) == (1, 6, Decimal("1.25"))
    items = list(jobs.read_job(path))
    assert [type(i) for i in items] == [Operation, Barrier, Operation, Operation]
    assert [i.line for i in items] == [2, 4, 5, 6]
    bonus, _, notify, approve = items
    assert isinstance(bonus, Operation) and isinstance(notify, Operation)
    assert isinstance(approve, Operation)
    assert bonus.op == "SendBonus"
    assert bonus.key == "pay:" + ledger.payment_id("A1B2C3", "3X4Y5Z", "1.25", "Great work")
    assert bonus.token == jobs.token_for(bonus.key)
    assert dict(bonus.params) == {
        **{k: v for k, v in BONUS.items() if k != "op"},
        "UniqueRequestToken": bonus.token,
    }
    assert notify.key == "id:msg-1" and notify.token is None
    assert dict(notify.params) == {k: v for k, v in NOTIFY.items() if k != "op"}
    assert dict(approve.params) == {"AssignmentId": "3X4Y5Z"} and approve.token is None


def test_key_is_the_digest_of_the_canonical_content(tmp_path: Path) -> None:
    """An id-less key is sha256 of the line without id, keys sorted, first 24 hex digits."""
    (op,) = operations(write(tmp_path, APPROVE))
    canonical = orjson.dumps(APPROVE, option=orjson.OPT_SORT_KEYS)
    assert op.key == hashlib.sha256(canonical).hexdigest()[:24]


def test_formatting_and_key_order_do_not_change_keys(tmp_path: Path) -> None:
    """Reordered keys and whitespace give the same keys, tokens and job digest."""
    a = write(tmp_path, BONUS, APPROVE, name="a.jsonl")
    b = write(
        tmp_path,
        json.dumps(dict(reversed(BONUS.items())), indent=None, separators=(" , ", " : ")),
        json.dumps(APPROVE),
        name="b.jsonl",
    )
    assert [o.key for o in operations(a)] == [o.key for o in operations(b)]
    assert jobs.check_job(a).digest == jobs.check_job(b).digest


def test_digest_changes_when_the_job_changes(tmp_path: Path) -> None:
    """Any edit to what the job does (amount, order, barrier, id) changes the digest."""
    base = jobs.check_job(write(tmp_path, BONUS, APPROVE)).digest
    variants: list[list[dict[str, Any]]] = [
        [{**BONUS, "BonusAmount": "1.26"}, APPROVE],
        [APPROVE, BONUS],
        [BONUS, {"barrier": True}, APPROVE],
        [{**BONUS, "id": "b1"}, APPROVE],
    ]
    digests = {
        jobs.check_job(write(tmp_path, *v, name=f"{i}.jsonl")).digest
        for i, v in enumerate(variants)
    }
    assert base not in digests and len(digests) == len(variants)


def test_keys_are_stable_when_other_lines_come_and_go(tmp_path: Path) -> None:
    """Inserting and removing other lines changes no key of the lines that stay."""
    lines = [{**BONUS, "WorkerId": f"A{i}", "AssignmentId": f"3A{i}"} for i in range(6)]
    before = {o.params["WorkerId"]: o.key for o in operations(write(tmp_path, *lines))}
    edited = [NOTIFY, lines[0], lines[1], "# note", lines[3], APPROVE, lines[4], lines[5]]
    after = {
        o.params["WorkerId"]: o.key
        for o in operations(write(tmp_path, *edited, name="b.jsonl"))
        if o.op == "SendBonus"
    }
    assert after == {w: k for w, k in before.items() if w != "A2"}


def test_identical_lines_get_distinct_keys_and_tokens(tmp_path: Path) -> None:
    """Two intentionally identical bonuses are two operations: <hex>, then <hex>#2, #3."""
    ops = operations(write(tmp_path, BONUS, APPROVE, BONUS, BONUS))
    first, _, second, third = ops
    assert second.key == f"{first.key}#2" and third.key == f"{first.key}#3"
    assert len({first.token, second.token, third.token}) == 3
    stats = jobs.check_job(write(tmp_path, BONUS, APPROVE, BONUS, BONUS))
    assert stats.total_bonus == Decimal("3.75")


def test_explicit_token_is_used_as_is_and_is_part_of_the_key(tmp_path: Path) -> None:
    """A line's own UniqueRequestToken is sent unchanged and distinguishes its key."""
    (mine, derived) = operations(write(tmp_path, {**BONUS, "UniqueRequestToken": "mine-1"}, BONUS))
    assert mine.token == "mine-1" and mine.params["UniqueRequestToken"] == "mine-1"
    assert mine.key != derived.key


def test_tokens_are_short_deterministic_and_line_independent(tmp_path: Path) -> None:
    """token_for() is ≤ 64 chars and deterministic; moving a line keeps its token."""
    assert jobs.token_for("id:x") == jobs.token_for("id:x")
    assert jobs.token_for("id:x") != jobs.token_for("id:y")
    assert all(len(jobs.token_for(k * 200)) <= 64 for k in ("a", "é", "id:"))
    a = operations(write(tmp_path, BONUS, name="a.jsonl"))
    b = operations(write(tmp_path, "#", APPROVE, BONUS, name="b.jsonl"))
    assert a[0].token == b[1].token


def test_create_hit_ops_get_tokens_too(tmp_path: Path) -> None:
    """All four token operations get a derived UniqueRequestToken."""
    line = {
        "op": "CreateAdditionalAssignmentsForHIT",
        "HITId": "3H",
        "NumberOfAdditionalAssignments": 2,
    }
    (op,) = operations(write(tmp_path, line))
    assert op.token == jobs.token_for(op.key)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"op": "SendBonus", \xff}', "not valid UTF-8: byte 0xff at offset 20"),
        ('{"op": "SendBonus",', "invalid JSON: unexpected end of data at column 20"),
        ("[1, 2]", "a job line must be a JSON object, not array"),
        ('"SendBonus"', "a job line must be a JSON object, not string"),
        ({**BONUS, "op": "SendBonsu"}, "unknown operation 'SendBonsu'; did you mean 'SendBonus'?"),
        ({**BONUS, "op": "sendbonus"}, "unknown operation 'sendbonus'; did you mean 'SendBonus'?"),
        ({k: v for k, v in BONUS.items() if k != "op"}, "missing 'op'"),
        ({**BONUS, "op": 7}, "'op' must be a string naming an operation, not 7"),
        ({k: v for k, v in BONUS.items() if k != "Reason"}, "Reason is required"),
        (
            {**BONUS, "BonusAmount": "1.234"},
            "BonusAmount '1.234' does not match ^[0-9]+(\\.)?[0-9]{0,2}$ (at most 2 decimals)",
        ),
        ({**BONUS, "BonusAmount": "0"}, "BonusAmount '0' must be greater than 0"),
        ({**BONUS, "BonusAmount": 1.25}, "BonusAmount must be a string, not number 1.25"),
        ({**NOTIFY, "WorkerIds": []}, "WorkerIds is empty: name at least one worker"),
        ({**NOTIFY, "Subject": "s" * 201}, "Subject has 201 characters; at most 200"),
        ({**NOTIFY, "WorkerIds": ["bob"]}, "WorkerIds[0] 'bob' does not match ^A[A-Z0-9]+$"),
        (
            {**BONUS, "note": "x"},
            "unknown key 'note' (turkbatch's own keys are op, id and barrier)",
        ),
        ({**BONUS, "Id": "x"}, "unknown parameter 'Id' for SendBonus; did you mean 'id'?"),
        (
            {**BONUS, "iD": "x"},
            "unknown key 'iD' (turkbatch's own keys are op, id and barrier); did you mean 'id'?",
        ),
        ({**BONUS, "id": ""}, "id must be a string of 1 to 200 characters"),
        ({**BONUS, "id": "x" * 201}, "id must be a string of 1 to 200 characters"),
        (
            {**BONUS, "UniqueRequestToken": "t" * 65},
            "UniqueRequestToken has 65 characters; at most 64",
        ),
        (
            {"barrier": True, "op": "SendBonus"},
            'a barrier line must be exactly {"barrier": true}, alone',
        ),
        ({"barrier": 1}, 'a barrier line must be exactly {"barrier": true}, alone'),
    ],
)
def test_each_error_kind_is_reported_on_its_line(
    tmp_path: Path, line: object, message: str
) -> None:
    """Every kind of bad line is reported with its line number, after skipped lines."""
    path = write(tmp_path, "# header", "", APPROVE, line, APPROVE)
    errors = errors_of(path)
    assert [n for n, _ in errors] == [4] * len(errors)
    assert any(text.startswith(message) for _, text in errors), errors


def test_misspelt_parameter_gets_a_suggestion(tmp_path: Path) -> None:
    """A misspelt parameter is reported with the nearest real one, and the missing one too."""
    line = {k: v for k, v in BONUS.items() if k != "WorkerId"} | {"Workerid": "A1B2C3"}
    assert errors_of(write(tmp_path, line)) == [
        (1, "WorkerId is required"),
        (1, "unknown parameter 'Workerid' for SendBonus; did you mean 'WorkerId'?"),
    ]


def test_nested_unknown_member_gets_a_suggestion(tmp_path: Path) -> None:
    """Misspelt members inside structures are reported with their path and a hint."""
    line = {
        "op": "CreateHITWithHITType",
        "HITTypeId": "3T",
        "LifetimeInSeconds": 60,
        "HITLayoutParameters": [{"Name": "a", "Value": "b", "Vaule": "c"}],
    }
    assert errors_of(write(tmp_path, line)) == [
        (1, "HITLayoutParameters[0].Vaule is not a known parameter; did you mean 'Value'?")
    ]


def test_duplicate_id_is_an_error(tmp_path: Path) -> None:
    """An id used twice in one job is reported on the second use."""
    path = write(tmp_path, {**BONUS, "id": "pay-1"}, APPROVE, {**APPROVE, "id": "pay-1"})
    assert errors_of(path) == [(3, "duplicate id 'pay-1' (ids must be unique within a job)")]


def test_empty_job_is_an_error(tmp_path: Path) -> None:
    """A job without a single operation is an error, even with comments and barriers."""
    assert errors_of(write(tmp_path, name="empty.jsonl")) == [(1, "no operations in job file")]
    path = write(tmp_path, "# nothing", "", {"barrier": True})
    assert errors_of(path) == [(3, "no operations in job file")]


def test_all_errors_are_collected_and_capped(tmp_path: Path) -> None:
    """Errors are kept in line order up to max_errors; the rest are counted."""
    path = write(tmp_path, *([{**BONUS, "BonusAmount": "0"}] * 60), APPROVE)
    with pytest.raises(JobError) as caught:
        jobs.check_job(path, max_errors=50)
    error = caught.value
    assert (len(error.errors), error.total) == (50, 60)
    assert [e.line for e in error.errors] == list(range(1, 51))
    rendered = str(error).splitlines()
    assert rendered[0] == f"{path}:1: BonusAmount '0' must be greater than 0"
    assert rendered[-1] == "... and 10 more errors"


def test_several_problems_on_one_line_are_separate_errors(tmp_path: Path) -> None:
    """Each problem of a line is its own error, in the model's member order."""
    line = {"op": "SendBonus", "WorkerId": "x", "AssignmentId": "3X", "BonusAmount": "1.234"}
    assert [m for _, m in errors_of(write(tmp_path, line))] == [
        "WorkerId 'x' does not match ^A[A-Z0-9]+$",
        "BonusAmount '1.234' does not match ^[0-9]+(\\.)?[0-9]{0,2}$ (at most 2 decimals)",
        "Reason is required",
    ]


def test_windows_line_endings_and_a_bom_are_accepted(tmp_path: Path) -> None:
    """CRLF line endings and a UTF-8 byte order mark on the first line are fine."""
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + orjson.dumps(BONUS) + b"\r\n# c\r\n" + orjson.dumps(APPROVE) + b"\r\n"
    )
    assert jobs.check_job(path).operations == 2


def test_read_job_unchecked_stops_at_the_first_bad_line(tmp_path: Path) -> None:
    """read_job() on an unchecked file yields the good lines, then raises JobError."""
    path = write(tmp_path, BONUS, APPROVE, {**APPROVE, "op": "Approve"}, NOTIFY)
    seen: list[int] = []
    with pytest.raises(JobError) as caught:
        seen.extend(item.line for item in jobs.read_job(path))
    assert seen == [1, 2]
    assert caught.value.errors[0].line == 3


def test_items_validate_and_stream_like_files(tmp_path: Path) -> None:
    """check_items/iter_items give the same keys and tokens as the same lines in a file."""
    items: list[dict[str, Any]] = [BONUS, {"barrier": True}, {**NOTIFY, "id": "n"}]
    stats = jobs.check_items(items)
    assert stats == jobs.check_job(write(tmp_path, *items))
    from_items = list(jobs.iter_items(items))
    assert from_items == list(jobs.read_job(write(tmp_path, *items)))
    assert BONUS.get("UniqueRequestToken") is None  # the caller's dicts are not touched


def test_items_accept_datetimes_and_report_bad_items() -> None:
    """Items may carry datetimes; a non-mapping item is an error at its index + 1."""
    expire = {
        "op": "UpdateExpirationForHIT",
        "HITId": "3H",
        "ExpireAt": datetime(2026, 1, 1, tzinfo=UTC),
    }
    assert jobs.check_items([expire]).operations == 1
    with pytest.raises(JobError) as caught:
        jobs.check_items([BONUS, ["not", "a", "mapping"]], source="api")  # type: ignore[list-item]
    assert str(caught.value) == "api:2: a job line must be a JSON object, not array"


WORKER = st.from_regex(r"A[A-Z0-9]{1,20}", fullmatch=True)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
AMOUNT = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2).map(str)
RECORD = st.one_of(
    st.fixed_dictionaries(
        {
            "op": st.just("SendBonus"),
            "WorkerId": WORKER,
            "AssignmentId": st.from_regex(r"[A-Z0-9]{1,30}", fullmatch=True),
            "BonusAmount": AMOUNT,
            "Reason": TEXT,
        },
        optional={"id": st.uuids().map(str)},
    ),
    st.fixed_dictionaries(
        {
            "op": st.just("NotifyWorkers"),
            "Subject": st.text(st.characters(exclude_categories=["Cs"]), max_size=200),
            "MessageText": TEXT,
            "WorkerIds": st.lists(WORKER, min_size=1, max_size=5),
        }
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(RECORD, min_size=1, max_size=8, unique_by=lambda r: r.get("id", id(r))))
def test_round_trip(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """Valid records written as JSONL read back with the same params and keys, twice."""
    path = write(tmp_path, *records, name="rt.jsonl")
    jobs.check_job(path)
    first, second = list(jobs.read_job(path)), list(jobs.read_job(path))
    assert first == second
    assert [o.key for o in first] == [o.key for o in jobs.iter_items(records)]  # type: ignore[union-attr]
    for record, op in zip(records, first, strict=True):
        assert isinstance(op, Operation)
        sent = {k: v for k, v in op.params.items() if k != "UniqueRequestToken"}
        written = {k: v for k, v in record.items() if k not in ("op", "id")}
        if "WorkerIds" in written:  # bulk: de-duplicated, first occurrence kept
            written["WorkerIds"] = list(dict.fromkeys(written["WorkerIds"]))
        assert sent == written
        if record["op"] == "SendBonus":  # keyed by its payment, id or not
            assert re.fullmatch(r"pay:[0-9a-f]{24}(#[0-9]+)?", op.key)
        elif "id" in record:
            assert op.key == f"id:{record['id']}"
        else:
            assert re.fullmatch(r"[0-9a-f]{24}(#[0-9]+)?", op.key)


def test_id_lines_in_different_jobs_never_share_a_token(tmp_path: Path) -> None:
    """The same id on different bonuses (two job files) gives different tokens, so MTurk
    cannot refuse the second as already processed and leave a worker unpaid."""
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    line = {
        "op": "SendBonus",
        "id": "row-1",
        "WorkerId": "A1X",
        "AssignmentId": "3A",
        "BonusAmount": "1.00",
        "Reason": "r",
    }
    a.write_bytes(orjson.dumps(line) + b"\n")
    b.write_bytes(orjson.dumps({**line, "WorkerId": "A2Y"}) + b"\n")
    (op_a,) = list(jobs.read_job(a))
    (op_b,) = list(jobs.read_job(b))
    assert isinstance(op_a, Operation) and isinstance(op_b, Operation)
    assert op_a.key != op_b.key  # a bonus's key is its payment: the id plays no part
    assert op_a.token != op_b.token
    assert op_a.token is not None and len(op_a.token) <= 64


# --- bulk forms -------------------------------------------------------------------------

QTYPE = "3QTYPE"
HITID = "3HIT"
IDS = [f"AW{n:04d}" for n in range(150)]


@pytest.mark.parametrize(
    ("line", "bulk", "params", "filters"),
    [
        (
            {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m", "WorkerIds": IDS + IDS[:7]},
            "chunks",
            {"Subject": "s", "MessageText": "m", "WorkerIds": IDS},
            None,
        ),
        (
            {"op": "AssociateQualificationWithWorker", "QualificationTypeId": QTYPE,
             "WorkerIds": ["A1", "A2"], "IntegerValue": 3},
            "workers",
            {"QualificationTypeId": QTYPE, "WorkerIds": ["A1", "A2"], "IntegerValue": 3},
            None,
        ),
        (
            {"op": "DisassociateQualificationFromWorker", "QualificationTypeId": QTYPE,
             "WorkerIds": ["A1"], "Reason": "r"},
            "workers",
            {"QualificationTypeId": QTYPE, "WorkerIds": ["A1"], "Reason": "r"},
            None,
        ),
        (
            {"op": "CreateWorkerBlock", "WorkerIds": ["A1", "A1"], "Reason": "spam"},
            "workers",
            {"WorkerIds": ["A1"], "Reason": "spam"},
            None,
        ),
        ({"op": "DeleteWorkerBlock", "WorkerIds": ["A1"]}, "workers", {"WorkerIds": ["A1"]}, None),
        (
            {"op": "AcceptQualificationRequest", "QualificationTypeId": QTYPE, "IntegerValue": 1,
             "submitted_before": "2026-11-01T00:00:00Z"},
            "requests",
            {"QualificationTypeId": QTYPE, "IntegerValue": 1},
            {"submitted_before": 1793491200.0},
        ),
        (
            {"op": "RejectQualificationRequest", "QualificationTypeId": QTYPE, "Reason": "late",
             "submitted_after": 1793491200, "except_workers": ["A2", "A1", "A2"]},
            "requests",
            {"QualificationTypeId": QTYPE, "Reason": "late"},
            {"submitted_after": 1793491200.0, "except_workers": ["A1", "A2"]},
        ),
        (
            {"op": "ApproveAssignment", "HITId": HITID, "RequesterFeedback": "ok",
             "workers": ["A9"]},
            "assignments",
            {"HITId": HITID, "RequesterFeedback": "ok"},
            {"workers": ["A9"]},
        ),
        (
            {"op": "RejectAssignment", "HITId": HITID, "RequesterFeedback": "no"},
            "assignments",
            {"HITId": HITID, "RequesterFeedback": "no"},
            None,
        ),
    ],
)  # fmt: skip
def test_each_bulk_form_is_one_operation_with_its_form(
    tmp_path: Path,
    line: dict[str, Any],
    bulk: str,
    params: dict[str, Any],
    filters: dict[str, Any] | None,
) -> None:
    """Every bulk form validates and reads as one Operation carrying its form, its API
    parameters (WorkerIds de-duplicated) and its normalised filters."""
    path = write(tmp_path, APPROVE, line)
    stats = jobs.check_job(path)
    assert stats.bulk == {bulk: 1} and stats.operations == 2
    _, op = operations(path)
    assert (op.bulk, dict(op.params), op.filters) == (bulk, params, filters)
    assert op.token is None and op.line == 2
    written = line.get("WorkerIds", [])
    assert op.dropped == len(written) - len(set(written))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"op": "RejectQualificationRequest", "QualificationTypeId": QTYPE,
             "QualificationRequestId": "3R"},
            "give QualificationRequestId (one item) or QualificationTypeId (every pending "
            "request of that type), not both",
        ),
        (
            {"op": "ApproveAssignment", "AssignmentId": "3A", "HITId": HITID},
            "give AssignmentId (one item) or HITId (every Submitted assignment of that HIT), "
            "not both",
        ),
        (
            {"op": "AssociateQualificationWithWorker", "QualificationTypeId": QTYPE,
             "WorkerId": "A1", "WorkerIds": ["A2"]},
            "give WorkerId (one item) or WorkerIds (one call per worker), not both",
        ),
        ({"op": "CreateWorkerBlock", "WorkerIds": [], "Reason": "r"},
         "WorkerIds is empty: name at least one worker"),
        ({"op": "CreateWorkerBlock", "WorkerIds": "A1", "Reason": "r"},
         "WorkerIds must be a list, not string 'A1'"),
        ({"op": "DeleteWorkerBlock", "WorkerIds": ["A1", "bob"]},
         "WorkerIds[1] 'bob' does not match ^A[A-Z0-9]+$"),
        ({"op": "DeleteWorkerBlock", "WorkerIds": ["A1", 7]}, "WorkerIds[1] must be a string"),
        ({"op": "ApproveAssignment", "HITId": "bad-id"}, "HITId 'bad-id' does not match"),
        ({"op": "ApproveAssignment", "HITId": 5}, "HITId must be a string, not number 5"),
        ({"op": "RejectAssignment", "HITId": HITID}, "RequesterFeedback is required"),
        ({"op": "ApproveAssignment", "HITId": HITID, "Reason": "x"},
         "unknown parameter 'Reason' for ApproveAssignment"),
        ({"op": "RejectQualificationRequest", "Reason": "r"}, "QualificationRequestId is required"),
        (
            {"op": "RejectQualificationRequest", "QualificationTypeId": QTYPE,
             "submited_before": 0},
            "unknown key 'submited_before' (turkbatch's own keys are op, id, barrier, "
            "submitted_after, submitted_before, workers and except_workers); did you mean "
            "'submitted_before'?",
        ),
        ({**BONUS, "workers": ["A1"]},
         "'workers' is a filter: filters apply only to lines with a parent id"),
        (
            {"op": "ApproveAssignment", "AssignmentId": "3A", "submitted_before": 0},
            "'submitted_before' is a filter: filters apply only to lines with a parent id "
            "(ApproveAssignment takes them with HITId)",
        ),
        ({"op": "ApproveAssignment", "HITId": HITID, "submitted_before": "yesterday"},
         "submitted_before must be an ISO-8601 time (e.g. 2026-11-01T00:00:00Z) or epoch "
         "seconds, not 'yesterday'"),
        ({"op": "ApproveAssignment", "HITId": HITID, "submitted_before": True},
         "submitted_before must be an ISO-8601 time"),
        ({"op": "ApproveAssignment", "HITId": HITID, "submitted_after": "2026-11-02",
          "submitted_before": "2026-11-01"},
         "submitted_after is not before submitted_before: the filters select nothing"),
        ({"op": "ApproveAssignment", "HITId": HITID, "workers": ["bob"]},
         "workers[0] 'bob' does not match ^A[A-Z0-9]+$"),
        ({**NOTIFY, "WorkerIds": IDS, "Subject": "s" * 201},
         "Subject has 201 characters; at most 200"),
        ({**NOTIFY, "WorkerIds": IDS, "MessageText": "m" * 4097},
         "MessageText has 4097 characters; at most 4096"),
        ({**NOTIFY, "WorkerIds": [*IDS[:120], "bob", *IDS]},
         "WorkerIds[120] 'bob' does not match ^A[A-Z0-9]+$"),
        ({**NOTIFY, "except_workers": ["A1"]},
         "'except_workers' is a filter: filters apply only to lines with a parent id"),
        ({**NOTIFY, "WorkerIds": "A1"}, "WorkerIds must be a list"),
    ],
)  # fmt: skip
def test_each_bad_bulk_line_is_reported_on_its_line(
    tmp_path: Path, line: dict[str, Any], message: str
) -> None:
    """Every kind of bad bulk line (either/or, lists, ids, filters, NotifyWorkers' limits)
    is an error on its line; nothing else is."""
    path = write(tmp_path, "# header", APPROVE, line, APPROVE)
    errors = errors_of(path)
    assert {n for n, _ in errors} == {3}
    assert any(text.startswith(message) for _, text in errors), errors


def test_bulk_keys_are_content_digests_like_any_line(tmp_path: Path) -> None:
    """A bulk line's key digests its op, parameters as de-duplicated and normalised
    filters: repeated ids and the time's spelling do not change it; a repeat is #2."""
    notify = {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m", "WorkerIds": ["A1", "A2"]}
    dup = {**notify, "WorkerIds": ["A1", "A2", "A1"]}
    iso = {"op": "ApproveAssignment", "HITId": HITID, "submitted_before": "2026-11-01T00:00:00Z"}
    epoch = {**iso, "submitted_before": 1793491200}
    ops = operations(write(tmp_path, notify, dup, iso, epoch, {**notify, "id": "n1"}))
    canonical = orjson.dumps(notify, option=orjson.OPT_SORT_KEYS)
    assert ops[0].key == hashlib.sha256(canonical).hexdigest()[:24]
    assert ops[1].key == ops[0].key + "#2" and ops[3].key == ops[2].key + "#2"
    assert ops[4].key == "id:n1"
    assert jobs.check_job(write(tmp_path, notify, name="a.jsonl")).digest == (
        jobs.check_job(write(tmp_path, dup, name="b.jsonl")).digest
    )


def test_plain_lines_have_no_bulk_form(tmp_path: Path) -> None:
    """Lines naming one item stay single calls: bulk None, no filters, nothing dropped."""
    for op in operations(write(tmp_path, BONUS, APPROVE)):
        assert (op.bulk, op.filters, op.dropped) == (None, None, 0)
    assert jobs.check_job(write(tmp_path, BONUS, name="b.jsonl")).bulk == {}


def test_stats_count_bulk_lines_recipients_and_duplicates() -> None:
    """JobStats counts bulk lines per form, and NotifyWorkers recipients (per line) and
    duplicates dropped."""
    stats = jobs.check_items(
        [
            {**NOTIFY, "WorkerIds": IDS + IDS[:10]},
            {**NOTIFY, "WorkerIds": ["A1", "A1", "A2"]},
            {"op": "ApproveAssignment", "HITId": HITID},
            {"op": "CreateWorkerBlock", "WorkerIds": ["A1", "A1"], "Reason": "r"},
            BONUS,
        ]
    )
    assert stats.bulk == {"assignments": 1, "chunks": 2, "workers": 1}
    assert (stats.recipients, stats.duplicates, stats.operations) == (152, 11, 5)


# -- copies of a line: numbered by digest prefix, from a compact memory of every line ------

GRANT = {  # the legacy spelling of BONUS: it keys (and numbers) as BONUS does
    "op": "GrantBonus",
    "WorkerId": "A1B2C3",
    "AssignmentId": "3X4Y5Z",
    "BonusAmount": {"Amount": "1.25", "CurrencyCode": "USD"},
    "Reason": "Great work",
}


def keys_of(items: Any) -> list[str]:
    """The key of every operation."""
    return [i.key for i in items if isinstance(i, Operation)]


def numbered(keys: list[str]) -> list[str]:
    """
    The model: the n-th line (n > 1) whose digest shares its first 60 bits with an earlier
    line's is ``<its hex>#n``; the n-th bonus of the very same payment is ``pay:<id>#n``;
    id keys are as they are.
    """
    counts: dict[int, int] = {}
    payments: dict[str, int] = {}
    out = []
    for key in keys:
        if key.startswith("id:"):
            out.append(key)
            continue
        if key.startswith("pay:"):
            base = key.partition("#")[0]
            n = payments[base] = payments.get(base, 0) + 1
            out.append(base if n == 1 else f"{base}#{n}")
            continue
        base = key.partition("#")[0]
        prefix = jobs._PREFIX(bytes.fromhex(base))[0] >> 4
        n = counts[prefix] = counts.get(prefix, 0) + 1
        out.append(base if n == 1 else f"{base}#{n}")
    return out


def test_copies_are_numbered_through_the_whole_job(tmp_path: Path) -> None:
    """Copies far apart, legacy spellings, ids and barriers between: #2, #3... in order (a
    bonus's id plays no part: it is the same payment)."""
    lines = [BONUS, APPROVE, BONUS, {"barrier": True}, GRANT, APPROVE, {**BONUS, "id": "x"}]
    path = write(tmp_path, *lines, NOTIFY, BONUS, {**NOTIFY, "id": "n"}, NOTIFY)
    jobs.check_job(path)
    keys = keys_of(jobs.read_job(path))
    assert keys_of(jobs.read_job(path, checked=True)) == keys
    b, a, n = keys[0], keys[1], keys[6]  # a bonus, an approval, a message
    assert keys == [b, a, f"{b}#2", f"{b}#3", f"{a}#2", f"{b}#4", n, f"{b}#5", "id:n", f"{n}#2"]


def test_copies_in_a_big_job_are_numbered_like_the_model(tmp_path: Path) -> None:
    """Thousands of distinct lines (the memory of them grows several times) and copies."""
    lines = [{**APPROVE, "AssignmentId": f"3A{n:06d}"} for n in range(6000)]
    lines += [lines[n] for n in range(0, 6000, 7)] + [lines[0], lines[5998], lines[7]]
    keys = keys_of(jobs.iter_items(lines))
    assert keys == numbered(keys) and len(set(keys)) == len(keys)
    assert keys[-3:] == [f"{keys[0]}#3", f"{keys[5998]}#2", f"{keys[7]}#3"]


def test_lines_sharing_a_digest_prefix_number_as_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Copies are told by the digest's first 60 bits, as they always were: two different
    lines that share them (forced here) number the second ``#2``, a key of its own all the
    same, as the rest of the digest differs. Keys of journals already written stay valid.
    Bonuses are counted by their whole payment id, never by a prefix: the ledger sets the
    n-th copy against the payments it holds, so n must be exact.
    """
    monkeypatch.setattr(jobs, "_PREFIX", lambda digest: (0,))
    path = write(tmp_path, APPROVE, BONUS, REJECT, {**BONUS, "id": "x"}, BONUS)
    jobs.check_job(path)
    approve, bonus, reject, _, again = keys_of(jobs.read_job(path, checked=True))
    content = orjson.dumps(REJECT, option=orjson.OPT_SORT_KEYS)
    assert reject == hashlib.sha256(content).hexdigest()[:24] + "#2"
    assert "#" not in approve
    assert again == f"{bonus}#3" and "#" not in bonus


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(picks=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=12))
def test_any_mix_of_copies_is_numbered_like_the_model(tmp_path: Path, picks: list[int]) -> None:
    """Any mix of copies (legacy spellings, ids): file and items agree with the model."""
    pool: list[dict[str, Any]] = [BONUS, GRANT, APPROVE, NOTIFY, {**APPROVE, "id": "only"}]
    lines = [pool[n] for n in picks if n < 4] + ([pool[4]] if 4 in picks else [])
    path = write(tmp_path, *lines, name="copies.jsonl")
    jobs.check_job(path)
    keys = keys_of(jobs.read_job(path))
    assert keys_of(jobs.read_job(path, checked=True)) == keys == keys_of(jobs.iter_items(lines))
    assert keys == numbered(keys) and len(set(keys)) == len(keys)
