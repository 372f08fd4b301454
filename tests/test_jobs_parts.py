"""Tests for checking a big job file in parts (``jobs.check_job(..., parts=N)``): forked
children, the same result as the one pass, whatever the file holds."""

from __future__ import annotations

import errno
import os
import pickle
import threading
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turkbatch import jobs
from turkbatch.errors import JobError

BONUS = {"op": "SendBonus", "WorkerId": "A1B2", "AssignmentId": "3X4Y", "BonusAmount": "1.25"}

# Every kind of line: valid ones of each form, and each kind of mistake.
LINES: list[bytes] = [
    orjson.dumps({**BONUS, "Reason": "Thanks"}),
    orjson.dumps({**BONUS, "Reason": "Thanks", "BonusAmount": "2.50"}),
    orjson.dumps({"op": "ApproveAssignment", "AssignmentId": "3X4Y"}),
    orjson.dumps({"op": "NotifyWorkers", "Subject": "S", "MessageText": "M", "WorkerIds": ["A1"]}),
    orjson.dumps(
        {"op": "NotifyWorkers", "Subject": "S", "MessageText": "M", "WorkerIds": ["A1", "A1"]}
    ),
    orjson.dumps({"op": "RejectQualificationRequest", "QualificationTypeId": "3Q"}),
    orjson.dumps({"op": "GrantBonus", "WorkerId": "A1", "AssignmentId": "3X", "BonusAmount": 1}),
    b'{"barrier": true}',
    b'{"barrier": false}',
    b"",
    b"# a comment",
    b"\xef\xbb\xbf" + orjson.dumps({"op": "ApproveAssignment", "AssignmentId": "3BOM"}),
    b'{"op": "SendBonus", "WorkerId": ',
    b"\xff\xfe not utf-8",
    b"[1, 2]",
    orjson.dumps({**BONUS, "Reason": "x", "BonusAmount": "0.00"}),
    orjson.dumps({"op": "SendBonuss", **{k: v for k, v in BONUS.items() if k != "op"}}),
    orjson.dumps({"op": "ApproveAssignment", "AssignmentId": "3X4Y", "Extra": 1}),
]
IDS = ["a", "b", "c", 7, ""]  # reused ids (within or across parts) and bad ids


def line(pick: int, ident: int | None) -> bytes:
    """Job line ``pick`` of LINES, with ``IDS[ident]`` as its id when that fits the line."""
    raw = LINES[pick]
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if ident is None or not isinstance(record, dict) or "op" not in record:
        return raw
    return orjson.dumps({"id": IDS[ident], **record})


def sequential(path: Path, max_errors: int) -> jobs.JobStats | tuple[list[Any], int]:
    """The one-pass check of the whole file (what check_job does for a small file)."""
    return outcome(partial(jobs.check_job, path, max_errors=max_errors, parts=1))


def in_parts(path: Path, max_errors: int, parts: int) -> jobs.JobStats | tuple[list[Any], int]:
    """The check in ``parts`` parts."""
    return outcome(partial(jobs.check_job, path, max_errors=max_errors, parts=parts))


def outcome(check: Any) -> jobs.JobStats | tuple[list[Any], int]:
    """The stats, or the errors (line and message) and their total."""
    try:
        stats: jobs.JobStats = check()
    except JobError as exc:
        return [(e.line, e.message) for e in exc.errors], exc.total
    return stats


def write(lines: list[bytes], where: Path) -> Path:
    path = where / "job.jsonl"
    path.write_bytes(b"".join(raw + b"\n" for raw in lines))
    return path


@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(
        st.tuples(
            st.integers(0, len(LINES) - 1),
            st.one_of(st.none(), st.integers(0, len(IDS) - 1)),
        ),
        min_size=0,
        max_size=40,
    ),
    parts=st.integers(2, 4),
    max_errors=st.sampled_from([1, 3, 50]),
)
def test_parts_give_the_sequential_result(
    tmp_path_factory: pytest.TempPathFactory,
    picks: list[tuple[int, int | None]],
    parts: int,
    max_errors: int,
) -> None:
    """Any file, cut into any number of parts: the same stats and digest, or the same
    errors in the same order, capped the same way, with the same total."""
    path = write([line(pick, ident) for pick, ident in picks], tmp_path_factory.mktemp("parts"))
    assert in_parts(path, max_errors, parts) == sequential(path, max_errors)


def test_an_id_reused_across_parts_is_reported_where_the_sequential_pass_does(
    tmp_path: Path,
) -> None:
    """The second use of an id, in a later part, is the error, with every other error of
    that part around it in line order."""
    approve = orjson.loads(LINES[2])
    lines = [orjson.dumps({"id": f"row-{n}", **approve}) for n in range(30)]
    lines[25] = orjson.dumps({"id": "row-3", **approve})
    lines[26] = LINES[12]  # bad JSON after it
    lines[24] = LINES[16]  # an unknown operation before it
    path = write(lines, tmp_path)
    got = in_parts(path, 50, 3)
    assert got == sequential(path, 50)
    errors, total = got  # type: ignore[misc]
    assert [line for line, _ in errors] == [25, 26, 27] and total == 3
    assert "duplicate id 'row-3'" in errors[1][1]


def test_a_failed_child_is_replaced_by_checking_its_part_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child that cannot send its result (here: pickling fails in it) costs time, not
    correctness: its part is checked in this process."""
    path = write([LINES[0], LINES[2]] * 50 + [LINES[12]], tmp_path)

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise pickle.PicklingError("no")

    monkeypatch.setattr(pickle, "dumps", broken)  # in the forked children too
    assert in_parts(path, 50, 3) == sequential(path, 50)


def test_no_process_to_spare_means_checking_the_parts_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork the system refuses (EAGAIN: too many processes) is no error: the part is
    checked in this process."""

    def refused() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    path = write([LINES[0], LINES[5], LINES[12]] * 30, tmp_path)
    assert in_parts(path, 50, 3) == sequential(path, 50)


def test_a_child_past_the_deadline_is_killed_and_its_part_checked_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No child can hang a check: past the deadline it is killed and its part checked."""
    monkeypatch.setattr(jobs, "PART_TIMEOUT", -3600.0)  # every deadline already passed
    path = write([LINES[0], LINES[3], LINES[7]] * 40, tmp_path)
    assert in_parts(path, 50, 4) == sequential(path, 50)


def test_big_files_are_checked_in_parts_only_when_this_process_has_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One part per CPU for a file of at least PART_BYTES per part; never beside other
    threads (a fork copies only the calling thread, not the locks the others hold)."""
    path = write([LINES[0]] * 100, tmp_path)
    monkeypatch.setattr(jobs, "PART_BYTES", path.stat().st_size // 3)
    monkeypatch.setattr(jobs.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert jobs.parts_for(str(path)) == 3
    monkeypatch.setattr(jobs, "PART_BYTES", path.stat().st_size + 1)
    assert jobs.parts_for(str(path)) == 1
    monkeypatch.setattr(jobs, "PART_BYTES", 1)
    assert jobs.parts_for(str(path)) == jobs.MAX_PARTS
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert jobs.parts_for(str(path)) == 1


def test_check_job_uses_the_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """check_job itself takes the parallel path for a big file (it forks), with the same
    result."""
    path = write([LINES[0], LINES[2], LINES[3], LINES[7]] * 25, tmp_path)
    expected = sequential(path, jobs.MAX_ERRORS)
    forks: list[int] = []
    real = os.fork

    def counted() -> int:
        pid = real()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(jobs, "PART_BYTES", path.stat().st_size // 2)
    monkeypatch.setattr(jobs.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(os, "fork", counted)
    assert jobs.check_job(path) == expected
    assert len(forks) == 1  # two parts: one forked, one checked here
