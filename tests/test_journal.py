"""Tests for turkbatch.journal: durability, group commit, replay, locking, write failures."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turkbatch import journal as journal_module
from turkbatch.errors import JournalCorrupt, JournalError, JournalLocked, JournalWriteError
from turkbatch.journal import IntentRecord, Journal, JournalState
from turkbatch.journal import replay as replay_module
from turkbatch.keyset import KeySet


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A journal path in a fresh directory."""
    return tmp_path / "job.journal.jsonl"


@pytest.fixture
async def journal(path: Path) -> AsyncIterator[Journal]:
    """An open journal, closed (without complaint) after the test."""
    j = await Journal.open(path, job_digest="d1", job_path="job.jsonl")
    try:
        yield j
    finally:
        with anyio.CancelScope(shield=True), contextlib.suppress(JournalError):
            await j.close()


def records(path: Path) -> list[dict[str, Any]]:
    """Every record in the journal file, in order."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def size(path: Path) -> int:
    """The file's size in bytes."""
    return path.stat().st_size


def mode(path: Path) -> int:
    """The file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


def write(path: Path, data: bytes) -> None:
    """Replace the file's content (test setup: a journal written by earlier runs)."""
    path.write_bytes(data)


def line(rec: dict[str, Any]) -> bytes:
    """One journal line, as the journal writes it."""
    return orjson.dumps(rec) + b"\n"


def intent(k: str, op: str = "SendBonus") -> dict[str, Any]:
    """An intent record."""
    return {"t": "intent", "k": k, "op": op, "tok": f"tok-{k}", "at": 1.5}


def done(k: str, **extra: Any) -> dict[str, Any]:
    """A done record."""
    return {"t": "done", "k": k, "op": "SendBonus", "at": 2.0, **extra}


def failed(k: str) -> dict[str, Any]:
    """A failed record."""
    return {"t": "failed", "k": k, "op": "SendBonus", "err": {"code": "RequestError"}, "at": 3.0}


async def test_intent_is_durable_before_it_returns(path: Path, journal: Journal) -> None:
    """An intent is on disk when intent() returns: a reader sees it without close or flush."""
    await journal.intent("k1", op="SendBonus", token="tok-1", params={"WorkerId": "A1"})
    state = Journal.read(path)
    assert state.in_doubt["k1"] == IntentRecord(
        key="k1", op="SendBonus", token="tok-1", at=state.in_doubt["k1"].at, line=2,
        params={"WorkerId": "A1"},
    )  # fmt: skip
    assert journal.fsyncs == 2  # the run record's and the intent's


async def test_intent_survives_a_killed_run(path: Path) -> None:
    """A run killed with SIGKILL: its intents are in doubt on reopen, and its lock is gone."""
    code = (
        "import sys, anyio\n"
        "from turkbatch.journal import Journal\n"
        "async def main():\n"
        "    j = await Journal.open(sys.argv[1], job_digest='d1')\n"
        "    await j.intent('paid?', op='SendBonus', token='tok')\n"
        "    await j.done('other', op='SendBonus')\n"  # buffered, never flushed
        "    print('ready', flush=True)\n"
        "    await anyio.sleep(60)\n"
        "anyio.run(main)\n"
    )
    async with await anyio.open_process([sys.executable, "-c", code, str(path)]) as proc:
        assert proc.stdout is not None
        assert b"ready" in await proc.stdout.receive()
        proc.kill()
    async with await Journal.open(path, job_digest="d1") as j:
        assert set(j.state.in_doubt) == {"paid?"} and not j.state.done


async def test_group_commit_shares_fsyncs(path: Path, journal: Journal) -> None:
    """1000 concurrent intents share a handful of fsyncs, and every one is durable."""
    before = journal.fsyncs

    async def one(i: int) -> None:
        await journal.intent(f"k{i}", op="SendBonus", token=f"t{i}")

    async with anyio.create_task_group() as tg:
        for i in range(1000):
            tg.start_soon(one, i)
    assert journal.fsyncs - before <= 10
    assert len(Journal.read(path).in_doubt) == 1000


async def test_a_slow_disk_is_flushed_off_the_event_loop(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fast fsyncs run on the loop; after a slow one, flushes go to a thread until fast again."""
    slow = [True]
    threads: list[bool] = []  # per fsync: was it off the event loop's thread?
    loop_thread = threading.get_ident()

    def timed(fd: int) -> None:  # a disk whose speed the test sets (the data is written)
        threads.append(threading.get_ident() != loop_thread)
        if slow[0]:
            time.sleep(journal_module.INLINE_SYNC * 3)

    monkeypatch.setattr(os, "fsync", timed)
    await journal.intent("a", op="SendBonus", token="t1")  # inline; then found slow
    await journal.intent("b", op="SendBonus", token="t2")  # in a thread; still slow
    slow[0] = False
    await journal.intent("c", op="SendBonus", token="t3")  # in a thread; found fast
    await journal.intent("d", op="SendBonus", token="t4")  # inline again
    assert threads == [False, True, True, False]
    assert set(Journal.read(journal.path).in_doubt) == {"a", "b", "c", "d"}


async def test_outcomes_follow_their_intents(path: Path, journal: Journal) -> None:
    """Under concurrency every outcome is written after its own intent."""

    async def one(i: int) -> None:
        await journal.intent(f"k{i}", op="SendBonus", token=None)
        await anyio.lowlevel.checkpoint()
        if i % 3:
            await journal.done(f"k{i}", op="SendBonus", result={"n": i}, request_id="r")
        else:
            await journal.failed(f"k{i}", op="SendBonus", error={"code": "X"})

    async with anyio.create_task_group() as tg:
        for i in range(300):
            tg.start_soon(one, i)
    await journal.flush()
    seen: set[str] = set()
    for rec in records(path):
        if rec["t"] == "intent":
            seen.add(rec["k"])
        elif rec["t"] in ("done", "failed"):
            assert rec["k"] in seen
    state = Journal.read(path)
    assert len(state.done) == 200 and len(state.failed) == 100 and not state.in_doubt


async def test_outcomes_are_flushed_by_close(path: Path) -> None:
    """Outcomes need no fsync of their own; close() writes them and an end record."""
    async with await Journal.open(path, job_digest="d1") as j:
        await j.done("a", op="ApproveAssignment", already=True)
        await j.done("b", op="SendBonus", reconciled=True)
        await j.note({"kind": "notify", "worker": "W1", "status": "HardFailure"})
    recs = records(path)
    assert [r["t"] for r in recs] == ["run", "done", "done", "note", "end"]
    assert recs[1]["already"] is True and recs[2]["reconciled"] is True
    state = Journal.read(path)
    assert state.done == {"a", "b"}
    assert state.notes[0]["worker"] == "W1"


async def test_replay_folds_outcomes(path: Path) -> None:
    """done, failed and in-doubt are disjoint; a later done wins; done is final."""
    recs = [
        {"t": "run", "job": "d0", "pid": 1, "at": 0.0},
        intent("paid"), done("paid"),
        intent("retried"), failed("retried"), intent("retried"), done("retried"),
        intent("bad"), failed("bad"),
        intent("doubt"),
        intent("final"), done("final"), failed("final"),
        intent("again"), failed("again"), intent("again"),
        {"t": "end", "pid": 1, "at": 9.0},
    ]  # fmt: skip
    write(path, b"".join(map(line, recs)))
    async with await Journal.open(path, job_digest="d1") as j:
        state = j.state
    assert state.done == {"paid", "retried", "final"}
    assert set(state.failed) == {"bad"} and state.failed["bad"].code == "RequestError"
    assert set(state.in_doubt) == {"doubt", "again"}
    assert state.in_doubt["doubt"].line == 10 and state.in_doubt["doubt"].token == "tok-doubt"
    assert state.records == len(recs) and not state.torn_tail
    assert [r.job for r in state.runs] == ["d0"]
    assert [r.job for r in Journal.read(path).runs] == ["d0", "d1"]


def test_replay_keeps_many_done_keys_exactly(path: Path) -> None:
    """
    Thousands of done keys of every shape (content digests, copies, ids, bulk calls, keys
    holding a line break or a unit separator) replay into a compact set that answers
    exactly: no key is done that was not, whatever it shares with one that was.
    """
    keys = [f"{n:024x}" for n in range(3000)] + [f"{n:024x}#2" for n in range(0, 3000, 7)]
    keys += [f"id:row-{n}" for n in range(3000)] + [f"id:row-7/A{n}" for n in range(200)]
    keys += ["id:two\nlines", "id:unit\x1fsep", "id:é"]
    write(path, b"".join(line(intent(k)) + line(done(k)) for k in keys) + line(failed("id:row-")))
    state = Journal.read(path)
    assert isinstance(state.done, KeySet)
    assert state.done == set(keys) and len(state.done) == len(keys)
    assert all(k in state.done for k in keys)
    for other in ("id:row-", "id:row-30000", f"{3:024x}#3", "id:two", "lines", "id:unit", "id:e"):
        assert other not in state.done
    assert set(state.failed) == {"id:row-"} and not state.in_doubt


async def test_torn_tail_is_ignored_and_truncated(path: Path) -> None:
    """A last line cut mid-write is ignored, then cut off so the next record parses."""
    good = line(intent("a")) + line(done("a"))
    write(path, good + line(intent("b"))[:20])
    assert Journal.read(path).torn_tail
    assert size(path) > len(good)  # reading never repairs
    async with await Journal.open(path, job_digest="d1") as j:
        assert j.state.torn_tail and j.state.records == 2 and j.state.done == {"a"}
        await j.intent("c", op="SendBonus", token=None)
    assert [r["t"] for r in records(path)] == ["intent", "done", "run", "intent", "end"]


async def test_unparseable_last_line_is_torn(path: Path) -> None:
    """A last line that is not a JSON object, even with its newline, counts as torn."""
    write(path, line(done("a")) + b'{"t":"done","k":\x00\x00\n')
    state = Journal.read(path)
    assert state.torn_tail and state.done == {"a"} and state.records == 1
    async with await Journal.open(path, job_digest="d1"):
        pass
    assert [r["t"] for r in records(path)] == ["done", "run", "end"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (b"{not json\n", "not a JSON object"),
        (b'{"t":"done","op":"SendBonus","at":1}\n', "lacks field 'k'"),
        (b'{"t":"refund","k":"x"}\n', "unknown record type 'refund'"),
        (b'{"t":"done","k":["x"],"op":"SendBonus","at":1}\n', "k is not a string"),
        (b"\n", "not a JSON object"),
    ],
)
async def test_damage_before_the_last_line_is_corrupt(
    path: Path, damage: bytes, message: str
) -> None:
    """Damage anywhere but the last line stops replay, naming the path and the line."""
    write(path, line(intent("a")) + line(done("a")) + damage + line(done("b")))
    where = rf"{re.escape(str(path))}:3: .*{message}"
    with pytest.raises(JournalCorrupt, match=where):
        Journal.read(path)
    before = size(path)
    with pytest.raises(JournalCorrupt, match=where):
        await Journal.open(path, job_digest="d1")
    assert size(path) == before  # nothing appended to a damaged journal
    async with await Journal.open(path.with_name("other.jsonl"), job_digest="d1"):
        pass  # and the failed open left no lock or descriptor behind to trip others


def test_bad_in_doubt_intent_is_corrupt(path: Path) -> None:
    """An open intent with a wrongly typed field is corruption, reported with its line."""
    path.write_bytes(line(done("a")) + line({**intent("b"), "at": "yesterday"}) + line(done("c")))
    with pytest.raises(JournalCorrupt, match=":2: bad intent record"):
        Journal.read(path)


async def test_created_mode_0600_and_existing_mode_kept(path: Path, tmp_path: Path) -> None:
    """A new journal is 0600 whatever the umask; an existing file's mode is left alone."""
    old = os.umask(0)
    try:
        async with await Journal.open(path, job_digest="d1"):
            pass
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    other = tmp_path / "shared.jsonl"
    write(other, b"")
    os.chmod(other, 0o640)
    async with await Journal.open(other, job_digest="d1"):
        pass
    assert mode(other) == 0o640


async def test_second_open_in_this_process_is_refused(path: Path, journal: Journal) -> None:
    """A journal in use refuses a second run in the same process, naming the holder."""
    with pytest.raises(JournalLocked, match=rf"in use by another run \(pid {os.getpid()}\)"):
        await Journal.open(path, job_digest="d1")
    link = path.with_name("link.jsonl")
    link.symlink_to(path)
    with pytest.raises(JournalLocked):
        await Journal.open(link, job_digest="d1")
    await journal.close()
    async with await Journal.open(path, job_digest="d1"):
        pass


async def test_open_from_another_process_is_refused(path: Path, journal: Journal) -> None:
    """Another process cannot open a journal in use, and is told which pid holds it."""
    code = (
        "import sys, anyio\n"
        "from turkbatch.journal import Journal\n"
        "from turkbatch.errors import JournalLocked\n"
        "try:\n"
        "    anyio.run(lambda: Journal.open(sys.argv[1], job_digest='d2'))\n"
        "except JournalLocked as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    proc = await anyio.run_process(
        [sys.executable, "-c", code, str(path)], check=False, stderr=subprocess.STDOUT
    )
    assert proc.returncode == 3, proc.stdout
    assert f"pid {os.getpid()}" in proc.stdout.decode()


async def test_read_needs_no_lock_and_reports_missing(path: Path, journal: Journal) -> None:
    """read() works while a run holds the journal, and says so when there is none."""
    await journal.intent("k", op="SendBonus", token=None)
    assert isinstance(Journal.read(path), JournalState)
    with pytest.raises(JournalError, match="cannot read journal"):
        Journal.read(path.with_name("missing.jsonl"))


@pytest.mark.parametrize(
    ("device", "flags", "code"),
    [("/dev/full", os.O_WRONLY, errno.ENOSPC), ("/dev/null", os.O_RDONLY, errno.EBADF)],
)
async def test_write_failure_poisons_the_journal(
    journal: Journal, device: str, flags: int, code: int
) -> None:
    """A failed write fails every waiter of the batch and every later call."""
    spare = os.open(device, flags)
    os.dup2(spare, journal._fd)  # a real ENOSPC / EBADF under the journal's own fd
    os.close(spare)
    errors: list[BaseException] = []

    async def one(i: int) -> None:
        try:
            await journal.intent(f"k{i}", op="SendBonus", token=None)
        except JournalWriteError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(one, i)
    assert len(errors) == 20
    assert all(isinstance(e.__cause__, OSError) and e.__cause__.errno == code for e in errors)
    with pytest.raises(JournalWriteError):
        await journal.done("k0", op="SendBonus")
    with pytest.raises(JournalWriteError):
        await journal.flush()
    with pytest.raises(JournalWriteError):
        await journal.close()


async def test_fsync_failure_poisons_the_journal(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An fsync error (EIO) is never retried: the journal cannot be trusted any more."""

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(JournalWriteError, match="Input/output error"):
        await journal.intent("k", op="SendBonus", token=None)
    monkeypatch.undo()
    with pytest.raises(JournalWriteError):
        await journal.intent("k2", op="SendBonus", token=None)


async def test_unwritable_place_fails_to_open(tmp_path: Path) -> None:
    """A journal that cannot be created is a JournalWriteError, not a bare OSError."""
    (tmp_path / "file").touch()
    with pytest.raises(JournalWriteError, match="cannot open journal"):
        await Journal.open(tmp_path / "file" / "j.jsonl", job_digest="d1")


# root ignores directory permissions: drop that capability for the child when we are root
_AS_USER = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override", "--"]


@pytest.mark.skipif(
    os.geteuid() == 0 and not shutil.which("setpriv"), reason="root needs setpriv to drop caps"
)
async def test_read_only_directory_fails_to_open(tmp_path: Path) -> None:
    """A read-only directory: the journal cannot be created (checked in a child process)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    code = (
        "import sys, anyio\n"
        "from turkbatch.journal import Journal\n"
        "from turkbatch.errors import JournalWriteError\n"
        "try:\n"
        "    anyio.run(lambda: Journal.open(sys.argv[1], job_digest='d'))\n"
        "except JournalWriteError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    prefix = _AS_USER if os.geteuid() == 0 else []
    try:
        proc = await anyio.run_process(
            [*prefix, sys.executable, "-c", code, str(ro / "j.jsonl")],
            check=False,
            stderr=subprocess.STDOUT,
        )
    finally:
        ro.chmod(0o700)
    assert proc.returncode == 3, proc.stdout
    assert "Permission denied" in proc.stdout.decode()


async def test_unserializable_record_fails_alone(journal: Journal) -> None:
    """A record orjson cannot write fails its own call; the journal goes on."""
    with pytest.raises(TypeError):
        await journal.done("k", op="SendBonus", result={"x": object()})
    with pytest.raises(ValueError, match="leave 't' out"):
        await journal.note({"t": "done"})
    await journal.intent("k", op="SendBonus", token=None)


async def test_close_flushes_when_cancelled(path: Path) -> None:
    """close() inside a cancelled scope still writes what was buffered."""
    j = await Journal.open(path, job_digest="d1")
    await j.done("k", op="SendBonus")
    with anyio.CancelScope() as scope:
        scope.cancel()
        await j.close()
    assert Journal.read(path).done == {"k"}
    with pytest.raises(JournalError, match="closed"):
        await j.intent("x", op="SendBonus", token=None)


# -- the property: any prefix, torn anywhere, replays as its complete records -------------

_KEYS = st.sampled_from(["a", "b", "c", "d/1", "é"])
_RECORD = st.one_of(
    st.builds(intent, _KEYS),
    st.builds(lambda k, already: done(k, already=already), _KEYS, st.booleans()),
    st.builds(failed, _KEYS),
    st.just({"t": "note", "kind": "x", "at": 1.0}),
    st.just({"t": "run", "job": "d", "pid": 1, "at": 0.0}),
)


def _model(recs: list[dict[str, Any]]) -> tuple[set[str], set[str], dict[str, int]]:
    """The replay rules, written the slow and obvious way."""
    done_keys: set[str] = set()
    failed_keys: set[str] = set()
    in_doubt: dict[str, int] = {}
    for n, rec in enumerate(recs, 1):
        k: str = rec.get("k", "")
        if rec["t"] == "done":
            done_keys.add(k)
            failed_keys.discard(k)
            in_doubt.pop(k, None)
        elif rec["t"] == "failed" and k not in done_keys:
            failed_keys.add(k)
            in_doubt.pop(k, None)
        elif rec["t"] == "intent" and k not in done_keys:
            failed_keys.discard(k)
            in_doubt[k] = n
    return done_keys, failed_keys, in_doubt


@settings(max_examples=300, deadline=None)
@given(
    recs=st.lists(_RECORD, max_size=30),
    cut=st.integers(min_value=0),
    junk=st.binary(max_size=40).filter(lambda b: b"\n" not in b),
    chunk=st.sampled_from([1, 7, 64, replay_module.CHUNK]),
)
def test_any_torn_prefix_replays_as_its_complete_records(
    recs: list[dict[str, Any]], cut: int, junk: bytes, chunk: int
) -> None:
    """
    Cut a journal anywhere and add junk: replay never raises, and equals the model; the
    views' replay (with detail) says the same, and counts each call once by its last word.

    Replay reads in chunks; tiny ones put chunk boundaries inside every line.
    """
    data = b"".join(map(line, recs))
    cut %= len(data) + 1
    prefix = data[:cut]
    head = prefix[: prefix.rfind(b"\n") + 1]
    complete, torn = head.count(b"\n"), prefix[len(head) :] + junk
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp, "j.jsonl")
        p.write_bytes(head + torn)
        fd = os.open(p, os.O_RDONLY)
        try:
            state, _ = replay_module.replay(fd, str(p), chunk=chunk)
            viewed, _ = replay_module.replay(fd, str(p), chunk=chunk, rows=True)
            counted, _ = replay_module.replay(fd, str(p), chunk=chunk, detail=True)
        finally:
            os.close(fd)
    done_keys, failed_keys, in_doubt = _model(recs[:complete])
    for s in (state, viewed):
        assert s.records == complete
        assert s.torn_tail == bool(torn)
        assert s.done == done_keys and set(s.failed) == failed_keys
        assert {k: r.line for k, r in s.in_doubt.items()} == in_doubt
    assert viewed.detail is not None
    total = viewed.detail.total()
    assert total.finished == len(done_keys) and total.failed == len(failed_keys)
    assert total.in_doubt == len(in_doubt)
    assert set(viewed.detail.final) >= done_keys | failed_keys | set(in_doubt)
    assert counted.detail is not None  # counts alone keep nothing per key (status, plan)
    assert counted.detail.total() == total and not counted.detail.final


async def test_a_withdrawn_intent_is_no_longer_in_doubt(path: Path) -> None:
    """
    An intent staged for a call that was never sent, then withdrawn, leaves the key as it
    was before the intent: not in doubt, and failed again if it had failed before.
    """
    async with await Journal.open(path, job_digest="d1") as j:
        j.stage_intent("new", op="SendBonus", token="t1", params={"WorkerId": "A1"})
        await j.failed("retried", op="SendBonus", error={"code": "X"})
        j.stage_intent("retried", op="SendBonus", token="t2")
        j.stage_intent("sent", op="SendBonus", token="t3")
        await j.flush()
        j.withdraw("new", op="SendBonus")
        j.withdraw("retried", op="SendBonus")
    state = Journal.read(path)
    assert set(state.in_doubt) == {"sent"}
    assert set(state.failed) == {"retried"}
    assert "new" not in state.done and "new" not in state.failed
    assert [r["t"] for r in records(path)][-3:] == ["withdrawn", "withdrawn", "end"]


async def test_staged_intents_are_durable_only_after_a_flush(path: Path) -> None:
    """stage_intent buffers; the flush that must precede the send writes them all at once."""
    async with await Journal.open(path, job_digest="d1") as j:
        before = j.fsyncs
        for i in range(5):
            j.stage_intent(f"k{i}", op="SendBonus", token=f"t{i}")
        assert set(Journal.read(path).in_doubt) == set()
        await j.flush()
        assert j.fsyncs == before + 1
        assert set(Journal.read(path).in_doubt) == {f"k{i}" for i in range(5)}


async def test_withdrawing_a_resend_leaves_the_earlier_intent_in_doubt(path: Path) -> None:
    """
    A call in doubt since an earlier run, staged again and then withdrawn unsent, is still
    in doubt under its first intent: that earlier send may have happened.
    """
    async with await Journal.open(path, job_digest="d1") as j:
        await j.intent("k", op="CreateHIT", token="tok")
    async with await Journal.open(path, job_digest="d1") as j:
        j.stage_intent("k", op="CreateHIT", token="tok")
        await j.flush()
        j.withdraw("k", op="CreateHIT")
    state = Journal.read(path)
    assert set(state.in_doubt) == {"k"}
    assert state.in_doubt["k"].line == 2  # the first intent, after the first run record


async def test_a_journal_opened_to_check_first_is_locked_and_writes_nothing(
    tmp_path: Path,
) -> None:
    """open(begin=False) locks and replays: another run is refused meanwhile, nothing is
    written until begin(), and a journal that did not exist is not created by it; closing
    an unbegun journal leaves the file as it was."""
    path = tmp_path / "j.jsonl"
    first = await Journal.open(path, job_digest="d", begin=False)
    assert not path.exists() and first.state.records == 0
    with pytest.raises(JournalError):
        await first.intent("k", op="SendBonus", token="t")  # not begun: refused
    await first.close()
    assert not path.exists()
    async with await Journal.open(path, job_digest="d") as journal:
        await journal.intent("k", op="SendBonus", token="t")
    before = path.read_bytes()
    held = await Journal.open(path, job_digest="d", begin=False)
    assert "k" in held.state.in_doubt
    with pytest.raises(JournalLocked):
        await Journal.open(path, job_digest="d", begin=False)
    await held.close()
    assert path.read_bytes() == before  # checked, refused by a guard, say: no trace
    again = await Journal.open(path, job_digest="e", begin=False)
    await again.begin()
    await again.close()
    runs = [r.job for r in Journal.read(path).runs]
    assert runs == ["d", "e"]


async def test_a_journal_that_appears_before_begin_is_refused(tmp_path: Path) -> None:
    """A run that found no journal, then finds one at begin() (another run began it
    meanwhile), refuses rather than run on a state it never read."""
    path = tmp_path / "j.jsonl"
    late = await Journal.open(path, job_digest="d", begin=False)
    async with await Journal.open(path, job_digest="other"):
        with pytest.raises(JournalError, match="appeared while this run was starting"):
            await late.begin()
    await late.close()
