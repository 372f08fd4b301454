"""
Exactly-once payouts under crashes, lost responses, expired tokens and damaged journals.

The crash tests really SIGKILL a ``turkbatch run`` subprocess at random moments while a
``turkbatch sim`` subprocess loses responses, throws 5xx and throttles; the simulator's
ledger is the judge. Seeds are fixed, so a failure reproduces.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import admin, bonus, drain, settings_for, write_job

from turkbatch import engine, jobs
from turkbatch.errors import JournalCorrupt, JournalWriteError
from turkbatch.journal import Journal
from turkbatch.sim import FaultSettings, Simulator
from turkbatch.summary import ExitCode

FAULTS = (
    "--lost-rate",
    "0.05",
    "--fault-rate",
    "0.05",
    "--unavailable-rate",
    "0.02",
    "--throttle-rate",
    "600",
    "--throttle-burst",
    "50",
    "--seed",
    "11",
)


def run_cli(
    job: Path,
    url: str,
    *extra: str,
    limits: Callable[[], None] | None = None,
) -> subprocess.Popen[str]:
    """Start ``turkbatch run`` against a simulator subprocess."""
    args = [
        sys.executable,
        "-m",
        "turkbatch",
        "run",
        str(job),
        "--endpoint-url",
        url,
        "--concurrency",
        "32",
        "--rate",
        "3000",
        "--progress",
        "0",
        "--quiet",
        *extra,
    ]
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limits
    )


def assert_paid_exactly_once(url: str, records: list[dict[str, Any]]) -> None:
    """The ledger shows every job line paid once and nothing else paid."""
    bonuses = admin(url, lambda a: a.ledger())["bonuses"]
    paid = Counter((b["WorkerId"], b["AssignmentId"]) for b in bonuses)
    wanted = Counter((r["WorkerId"], r["AssignmentId"]) for r in records)
    assert paid == wanted


@pytest.mark.slow
@pytest.mark.parametrize("expire_tokens", [False, True], ids=["tokens-live", "tokens-expired"])
def test_crash_loop_pays_every_line_exactly_once(
    sim_process: Callable[..., str], tmp_path: Path, expire_tokens: bool
) -> None:
    """SIGKILL at random moments under faults, resume until done: each bonus paid once.

    With ``tokens-expired`` the simulator's clock jumps 25 hours after every kill, so
    UniqueRequestTokens no longer protect and reconciliation must (the engine's own clock
    does not move: the rule must not depend on it).
    """
    rng = random.Random(20261122 + expire_tokens)
    url = sim_process(*FAULTS, "--latency", "5", "--latency-jitter", "3")
    records = [bonus(n) for n in range(2000)]
    job = write_job(tmp_path / "payouts.jsonl", records)
    kills = 0
    for _ in range(8):
        proc = run_cli(job, url)
        time.sleep(rng.uniform(0.8, 2.5))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        kills += 1
        if expire_tokens:
            drain(url)
            admin(url, lambda a: a.advance(25 * 3600))
    for _ in range(5):
        proc = run_cli(job, url)
        _, err = proc.communicate(timeout=120)
        if proc.returncode == 0:
            break
        assert proc.returncode == ExitCode.FAILED, err
    assert proc.returncode == 0, err
    assert kills >= 3
    assert_paid_exactly_once(url, records)


def test_journal_write_failure_stops_and_resumes_exactly_once(
    sim_process: Callable[..., str], tmp_path: Path
) -> None:
    """A journal that hits the file-size limit (EFBIG, like a full disk) stops the run (exit 3);
    the next run finishes with every bonus paid exactly once."""
    url = sim_process("--latency", "2")
    records = [bonus(n) for n in range(600)]
    job = write_job(tmp_path / "payouts.jsonl", records)

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    proc = run_cli(job, url, limits=small_files)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.JOURNAL, err
    assert "journal" in err
    paid_so_far = len(admin(url, lambda a: a.ledger())["bonuses"])
    assert 0 < paid_so_far < len(records)
    admin(url, lambda a: a.advance(25 * 3600))  # and tokens no longer protect
    proc = run_cli(job, url)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert_paid_exactly_once(url, records)


def test_concurrent_run_on_the_same_journal_refuses(
    sim_process: Callable[..., str], tmp_path: Path
) -> None:
    """While one run holds the journal, a second one exits 3 and sends nothing."""
    url = sim_process("--latency", "50")
    records = [bonus(n) for n in range(200)]
    job = write_job(tmp_path / "payouts.jsonl", records)
    first = run_cli(job, url, "--concurrency", "4", "--rate", "100")
    deadline = time.monotonic() + 30
    while not admin(url, lambda a: a.ledger())["bonuses"] and time.monotonic() < deadline:
        time.sleep(0.05)
    received = admin(url, lambda a: a.counters())
    second = run_cli(job, url)
    _, err = second.communicate(timeout=60)
    assert second.returncode == ExitCode.JOURNAL and "in use" in err
    assert first.wait(timeout=120) == 0
    assert_paid_exactly_once(url, records)
    assert received  # the first run was already sending when the second was refused


async def test_torn_last_line_is_ignored(sim: Simulator, tmp_path: Path) -> None:
    """A crash mid-write leaves a torn last line; the next run ignores it and pays nothing."""
    job = write_job(tmp_path / "job.jsonl", [bonus(n) for n in range(10)])
    cfg = settings_for(sim)
    await engine.run(job, cfg)
    journal = tmp_path / "job.journal.jsonl"
    with journal.open("ab") as f:
        f.write(b'{"t":"done","k":"tor')
    again = await engine.run(job, cfg)
    assert again.totals().skipped == 10 and again.requests == 0
    assert journal.read_bytes().count(b'"tor') == 0  # repaired before appending


async def test_damage_before_the_last_line_stops_the_run(sim: Simulator, tmp_path: Path) -> None:
    """A damaged line that is not the last: refuse with its line number, send nothing."""
    job = write_job(tmp_path / "job.jsonl", [bonus(n) for n in range(10)])
    cfg = settings_for(sim)
    await engine.run(job, cfg)
    journal = tmp_path / "job.journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[3] = b'{"t":"done","k"::garbage}\n'
    journal.write_bytes(b"".join(lines))
    before = sim.counters.totals()["received"]
    with pytest.raises(JournalCorrupt, match=r":4\b|line 4\b"):
        await engine.run(job, cfg)
    assert sim.counters.totals()["received"] == before


async def test_job_edited_between_runs(sim: Simulator, tmp_path: Path) -> None:
    """Unchanged lines are skipped, new lines run, removed lines are never paid."""
    records = [bonus(n) for n in range(10)]
    cfg = settings_for(
        sim,
        journal=tmp_path / "j.jsonl",
    )
    first = await engine.run(write_job(tmp_path / "a.jsonl", records[:5]), cfg)
    edited = [*records[:4], *records[7:], bonus(99)]  # line 5 done then removed; 6, 7 never run
    second = await engine.run(write_job(tmp_path / "a.jsonl", edited), cfg)
    assert first.totals().done == 5
    assert second.job_changed and second.removed == 1
    assert second.totals().skipped == 4 and second.totals().done == 4
    paid = {b["AssignmentId"] for b in sim.world.ledger()["bonuses"]}
    assert paid == {r["AssignmentId"] for r in [*records[:5], *records[7:], bonus(99)]}


async def test_identical_lines_are_counted_not_matched(tmp_path: Path) -> None:
    """Two identical bonus lines, the first done and the second in doubt, tokens expired, and
    one matching payment at MTurk: that payment is the journaled one, so the in-doubt line
    is paid now rather than assumed paid."""
    job = write_job(tmp_path / "job.jsonl", [bonus(1), bonus(1)])
    journal = tmp_path / "j.jsonl"
    first, second = [op for op in jobs.read_job(job) if isinstance(op, jobs.Operation)]
    async with Simulator() as sim:
        cfg = settings_for(sim, journal=journal)
        await engine.run(job, cfg)
    # Forge the crash: the second line's outcome never reached the journal...
    journal.write_bytes(
        b"".join(
            line
            for line in journal.read_bytes().splitlines(keepends=True)
            if not (b'"done"' in line and second.key.encode() in line)
        )
    )
    # ...and only the first payment happened; a day passes.
    async with Simulator() as sim:
        sim.world.call("SendBonus", dict(first.params))
        sim.clock.advance(25 * 3600)
        # (the same simulated account, restarted on another port)
        cfg = settings_for(sim, journal=journal, endpoint_moved=True)
        summary = await engine.run(job, cfg)
        assert summary.totals().done == 1 and summary.totals().skipped == 1
        assert len(sim.world.ledger()["bonuses"]) == 2


async def test_expired_in_doubt_hit_creation_is_held(sim: Simulator, tmp_path: Path) -> None:
    """An in-doubt CreateHIT older than the token window is reported, not resent, unless
    --resend-expired says so."""
    job = write_job(
        tmp_path / "job.jsonl",
        [
            {
                "op": "CreateHIT",
                "MaxAssignments": 3,
                "LifetimeInSeconds": 3600,
                "AssignmentDurationInSeconds": 600,
                "Reward": "0.50",
                "Title": "Label images",
                "Description": "Draw boxes",
                "Question": "<QuestionForm/>",
            }
        ],
    )
    (op,) = [o for o in jobs.read_job(job) if isinstance(o, jobs.Operation)]
    journal = tmp_path / "job.journal.jsonl"
    old = time.time() - 25 * 3600
    journal.write_bytes(
        orjson.dumps({"t": "intent", "k": op.key, "op": "CreateHIT", "tok": op.token, "at": old})
        + b"\n"
    )
    os.chmod(journal, 0o600)
    cfg = settings_for(sim)
    held = await engine.run(job, cfg)
    assert held.exit_code == ExitCode.FAILED and held.requests == 0
    assert sim.world.ledger()["hits_created"] == []
    sent = await engine.run(job, replace(cfg, resend_expired=True))
    assert sent.exit_code == ExitCode.OK and len(sim.world.ledger()["hits_created"]) == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_journal_prefix_resumes_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """For any prefix of a journal, with any torn tail, and any subset of its in-doubt
    payments having happened, a resumed run (tokens expired) pays every key exactly once."""
    tmp = tmp_path_factory.mktemp("prefix")
    n = data.draw(st.integers(2, 8), label="lines")
    # duplicates on purpose: identical lines must be counted, not matched
    records = [bonus(data.draw(st.integers(0, n // 2), label="who")) for _ in range(n)]
    job = write_job(tmp / "job.jsonl", records)
    full = tmp / "full.jsonl"
    # Drawn up front, so what is drawn never depends on the journal's exact bytes.
    cut = data.draw(st.floats(0.0, 1.0), label="cut (fraction of the journal)")
    paid_flags = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="in doubt paid")

    async def scenario() -> None:
        async with Simulator() as sim:
            cfg = settings_for(
                sim,
                concurrency=3,
                journal=full,
            )
            await engine.run(job, cfg)
        raw = full.read_bytes()
        prefix = tmp / "prefix.jsonl"
        prefix.write_bytes(raw[: round(cut * len(raw))])
        os.chmod(prefix, 0o600)
        state = Journal.read(prefix)
        ops = {op.key: op for op in jobs.read_job(job) if isinstance(op, jobs.Operation)}
        doubtful = sorted(state.in_doubt)
        happened = [*state.done, *(k for k, p in zip(doubtful, paid_flags, strict=False) if p)]
        async with Simulator() as sim:
            for key in happened:
                params = {k: v for k, v in ops[key].params.items()}
                sim.world.call("SendBonus", params)
            sim.clock.advance(25 * 3600)
            cfg = settings_for(
                sim,
                concurrency=3,
                journal=prefix,
                endpoint_moved=True,  # the same simulated account, on another port
            )
            summary = await engine.run(job, cfg)
            assert summary.exit_code == ExitCode.OK
            paid = Counter(b["WorkerId"] for b in sim.world.ledger()["bonuses"])
            assert paid == Counter(r["WorkerId"] for r in records)

    anyio.run(scenario)


async def test_reconcile_recovers_from_a_lost_journal(sim: Simulator, tmp_path: Path) -> None:
    """Journal deleted, a day later the job runs again: without --reconcile MTurk pays twice
    (the danger the README warns of); with it, every paid line is found and skipped."""
    records = [bonus(n) for n in range(12)]
    job = write_job(tmp_path / "job.jsonl", records)
    await engine.run(
        write_job(tmp_path / "half.jsonl", records[:7]),
        settings_for(sim, journal=tmp_path / "lost.jsonl"),
    )
    (tmp_path / "lost.jsonl").unlink()
    sim.clock.advance(25 * 3600)
    recovered = await engine.run(job, settings_for(sim, reconcile=True))
    assert recovered.totals().already == 7 and recovered.totals().done == 5
    assert recovered.bonus_paid == Decimal("0.25") * 5  # the seven found paid: not this run's
    assert recovered.bonus_reconciled == Decimal("0.25") * 7
    paid = Counter(b["AssignmentId"] for b in sim.world.ledger()["bonuses"])
    assert len(paid) == 12 and set(paid.values()) == {1}
    # The same mistake without --reconcile pays the first seven again.
    (tmp_path / "job.journal.jsonl").unlink()
    sim.clock.advance(25 * 3600)
    await engine.run(job, settings_for(sim))
    paid = Counter(b["AssignmentId"] for b in sim.world.ledger()["bonuses"])
    assert sorted(paid.values()) == [2] * 12


async def test_deleted_journal_directory_stops_the_run(tmp_path: Path) -> None:
    """The journal's directory removed mid-run: the run stops sending at once (the journal
    refuses every write), and --reconcile with a new journal finishes exactly once."""
    records = [bonus(n) for n in range(300)]
    job = write_job(tmp_path / "job.jsonl", records)
    doomed = tmp_path / "doomed"
    doomed.mkdir()
    async with Simulator(faults=FaultSettings(latency_ms=5)) as sim:
        raised: list[BaseException] = []
        stopped_at: list[int] = []

        async def delete_when_paying() -> None:
            # polls the simulator's ledger, which has no event to wait on
            while len(sim.world.ledger()["bonuses"]) < 20:  # noqa: ASYNC110
                await anyio.sleep(0.005)
            shutil.rmtree(doomed)

        async with anyio.create_task_group() as tg:
            tg.start_soon(delete_when_paying)
            try:
                await engine.run(job, settings_for(sim, concurrency=8, journal=doomed / "j.jsonl"))
            except JournalWriteError as exc:
                raised.append(exc)
            await anyio.sleep(0.5)  # requests in flight at the stop land (5 ms latency)
            stopped_at.append(len(sim.world.ledger()["bonuses"]))
        assert raised and "deleted" in str(raised[0])
        await anyio.sleep(0.5)
        paid = len(sim.world.ledger()["bonuses"])
        assert paid == stopped_at[0] < len(records)  # nothing sent after it stopped
        await engine.run(job, settings_for(sim, reconcile=True, journal=tmp_path / "new.jsonl"))
        counts = Counter(b["AssignmentId"] for b in sim.world.ledger()["bonuses"])
        assert len(counts) == len(records) and set(counts.values()) == {1}
