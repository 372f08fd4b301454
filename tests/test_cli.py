"""The command line end to end: real processes, real signals, a simulator subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp.web
import anyio
import orjson
import pytest
from support import cli

from turkbatch import jobs
from turkbatch.sim import SimAdmin

ROOT = Path(__file__).resolve().parent.parent


def turkbatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m turkbatch`` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "turkbatch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=os.environ.copy(),
    )


def write_bonuses(path: Path, n: int) -> Path:
    """Write a job of n distinct bonuses."""
    lines = [
        orjson.dumps(
            {
                "op": "SendBonus",
                "WorkerId": f"A{i:010d}",
                "AssignmentId": f"3ASSIGN{i:010d}",
                "BonusAmount": "0.10",
                "Reason": "thanks",
            }
        )
        for i in range(n)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def ledger(url: str) -> dict[str, Any]:
    """Fetch the simulator's ledger through its admin API."""

    async def fetch() -> dict[str, Any]:
        async with SimAdmin(url) as admin:
            return await admin.ledger()

    return anyio.run(fetch)


def test_demo_job_runs_and_resumes(tmp_path: Path) -> None:
    """The README's demo job runs on the embedded simulator; a second run skips it all."""
    journal = tmp_path / "demo.journal.jsonl"
    first = turkbatch("run", str(ROOT / "jobs" / "demo.jsonl"), "--sim", "--journal", str(journal))
    assert first.returncode == 0, first.stderr
    assert "SendBonus" in first.stdout and "1.75" in first.stdout
    second = turkbatch(
        "run", str(ROOT / "jobs" / "demo.jsonl"), "--sim", "--journal", str(journal), "--quiet"
    )
    assert second.returncode == 0, second.stderr
    assert "requests: 0" in second.stdout


def test_invalid_job_exits_2_with_line_numbers(tmp_path: Path) -> None:
    """Every bad line is reported compiler-style and the exit code is 2."""
    job = tmp_path / "bad.jsonl"
    job.write_text('{"op": "SendBonus"}\n# fine\n{not json\n')
    result = turkbatch("run", str(job), "--sim")
    assert result.returncode == 2
    assert f"{job}:1:" in result.stderr and f"{job}:3:" in result.stderr
    assert "nothing was sent" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    """Conflicting endpoints and a missing file are usage errors, and --help explains."""
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    assert turkbatch("run", str(job), "--sim", "--production").returncode == 2
    assert turkbatch("run", str(tmp_path / "missing.jsonl"), "--sim").returncode == 2
    helped = turkbatch("run", "--help")
    assert helped.returncode == 0 and "exit codes" in helped.stdout and "--rate" in helped.stdout


def test_production_needs_confirmation(tmp_path: Path) -> None:
    """--production without a terminal and without --yes refuses before sending anything."""
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    result = turkbatch("run", str(job), "--production")
    assert result.returncode == 2 and "--yes" in result.stderr


@pytest.mark.parametrize("signals", [1, 2])
def test_interrupt_and_resume_pays_each_bonus_once(
    sim_process: Callable[..., str], tmp_path: Path, signals: int
) -> None:
    """
    SIGINT (once: graceful; twice: at once) exits 130; the printed resume command, run as
    printed, finishes the job exactly once.
    """
    url = sim_process("--latency", "100")
    n = 120
    job = write_bonuses(tmp_path / "job.jsonl", n)
    args = [
        sys.executable,
        "-m",
        "turkbatch",
        "run",
        str(job),
        "--endpoint-url",
        url,
        "--concurrency",
        "8",
        "--rate",
        "40",
        "--progress",
        "0",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(ledger(url)["bonuses"]) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(signals):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Resume with" in err
    paid_before = len(ledger(url)["bonuses"])
    assert paid_before < n
    # The hint runs as printed, in a shell (``turkbatch`` alone may not be on PATH).
    printed = err.rsplit("Resume with: ", 1)[1].strip()
    resumed = subprocess.run(printed, shell=True, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, (printed, resumed.stderr)
    paid = Counter(b["AssignmentId"] for b in ledger(url)["bonuses"])
    assert len(paid) == n and set(paid.values()) == {1}


@pytest.mark.parametrize("signals", [1, 2])
def test_an_interrupted_summary_accounts_for_every_call(
    sim_process: Callable[..., str], tmp_path: Path, signals: int
) -> None:
    """
    SIGINT during a job with bulk lines: the JSON summary counts API calls (a NotifyWorkers
    line of 250 workers is 3, a WorkerIds line of 60 is 60) and accounts for each one:
    done + already + failed + skipped + pending = calls, once gracefully and once at once.
    """
    url = sim_process("--latency", "100")
    workers = [f"A{n:013d}" for n in range(250)]
    records: list[dict[str, Any]] = [
        {
            "op": "NotifyWorkers",
            "Subject": "Study 2",
            "MessageText": "It is open.",
            "WorkerIds": workers,
        },
        *(
            orjson.loads(line)
            for line in write_bonuses(tmp_path / "b.jsonl", 40).read_bytes().splitlines()
        ),
        {
            "op": "AssociateQualificationWithWorker",
            "QualificationTypeId": "3TYPE0000000000000000000000001",
            "IntegerValue": 1,
            "WorkerIds": workers[:60],
        },
        {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m", "WorkerIds": workers[:150]},
    ]
    job = tmp_path / "job.jsonl"
    job.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    calls = 3 + 40 + 60 + 2
    assert jobs.check_job(job).calls == calls
    args = [sys.executable, "-m", "turkbatch", "run", str(job), "--endpoint-url", url]
    args += ["--concurrency", "4", "--rate", "20", "--progress", "0", "--output", "json"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(ledger(url)["bonuses"]) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(signals):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    summary = json.loads(out)
    totals = summary["totals"]
    assert summary["calls"] == calls and summary["unlisted"] == 0
    assert sum(totals.values()) == calls, totals
    assert totals["pending"] > 0 and totals["done"] >= 10
    by_op = summary["by_op"]
    assert sum(by_op["NotifyWorkers"].values()) == 5, by_op
    assert sum(by_op["AssociateQualificationWithWorker"].values()) == 60, by_op
    assert sum(by_op["SendBonus"].values()) == 40, by_op
    assert summary["bonus_paid"] == f"{Decimal('0.10') * by_op['SendBonus']['done']:.2f}"


# --- operator experience: plan, guards, status, report, policy, skeleton, redaction ---

COMMANDS = ("run", "plan", "status", "report", "policy", "skeleton")
#: Runs the CLI with the production endpoint pointed at a local simulator (argv[1]) and the
#: sandbox at argv[2], so that no test can ever reach the real service.
REDIRECTED = (
    "import sys, turkbatch.client as c; c.PRODUCTION_URL, c.SANDBOX_URL = sys.argv[1:3]; "
    "from turkbatch.cli.main import main; raise SystemExit(main(sys.argv[3:]))"
)


def counters(url: str) -> dict[str, int]:
    """Requests the simulator received, by operation."""

    async def fetch() -> dict[str, Any]:
        async with SimAdmin(url) as admin:
            return await admin.counters()

    ops = anyio.run(fetch)["operations"]
    return {op: c["received"] for op, c in ops.items() if c["received"]}


def on_pty(args: list[str], answer: str | None) -> tuple[int, str]:
    """Run ``python ARGS`` on a pseudo-terminal, typing ``answer`` at the prompt."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, *args], stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if answer is not None and b"Type 'yes'" in out:
            os.write(master, answer.encode() + b"\n")
            answer = None
    os.close(master)
    return proc.wait(timeout=60), out.decode()


def test_every_command_explains_itself(tmp_path: Path) -> None:
    """
    --help on every command (sim and job too) says what it does in plain text, with
    examples and exit codes, and one notation for defaults; counts read in the right
    number (1 bonus, 2 operations, 1 row).
    """
    for command in (*COMMANDS, "verify", "sim", "job", "job from-csv", ""):
        result = turkbatch(*command.split(), "--help")
        assert result.returncode == 0, command
        text = result.stdout
        assert "examples:" in text and "exit codes" in text, command
        for markup in ("``", ":mod:", ":class:", ":func:", "`turkbatch"):
            assert markup not in text, (command, markup)
        own = text if command != "sim" else text.split("AWS options")[1]  # (not sim's own)
        assert not re.search(r"\(default [^:]|\((%\(default\)s|[0-9.]+)\)", own), command
        assert "(s)" not in text and "(es)" not in text, command
    top = turkbatch("--help").stdout
    assert all(command in top for command in (*COMMANDS, "sim", "job"))
    assert "--endpoint-url" in top and "--output" in top
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    planned = turkbatch("plan", str(job), "--offline")
    assert "1 bonus $0.10" in planned.stdout and "run would send 1 call" in planned.stdout
    assert "(s)" not in planned.stdout and "(es)" not in planned.stdout
    sheet = tmp_path / "one.csv"
    sheet.write_text("WorkerId,AssignmentId,BonusAmount,Reason\nA1,3A1,1.00,x\n")
    made = turkbatch("job", "from-csv", str(sheet), "--op", "SendBonus")
    assert "1 row → 1 SendBonus line in standard output" in made.stderr


def test_plan_end_to_end(sim_process: Callable[..., str], tmp_path: Path) -> None:
    """plan shows totals, fees, balance, IAM actions and warnings, and sends no change."""
    url = sim_process()
    job = write_bonuses(tmp_path / "job.jsonl", 3)
    with job.open("a") as f:
        f.write(
            '{"op": "SendBonus", "WorkerId": "A0000000000", "AssignmentId": "3ASSIGN0000000000",'
            ' "BonusAmount": "12.00", "Reason": "again"}\n'
        )
    text = turkbatch("plan", str(job), "--endpoint-url", url)
    assert text.returncode == 0, text.stderr
    for part in (
        "to spend now: $14.76",
        "4 bonuses $12.30 + MTurk fees $2.46",
        "balance: $10,000.00",
        "mechanicalturk:SendBonus",
        "bonused on 2 lines",
        "above the $10.00 typo guard",
        "run would refuse to start",
    ):
        assert part in text.stdout, part
    as_json = turkbatch("--output", "json", "plan", str(job), "--endpoint-url", url)
    record = json.loads(as_json.stdout)
    assert record["to_spend"]["total"] == "14.76" and record["covered"] is True
    assert counters(url) == {"GetAccountBalance": 2}
    assert not (tmp_path / "job.journal.jsonl").exists()


def test_refusals_send_nothing(sim_process: Callable[..., str], tmp_path: Path) -> None:
    """Typo guard, spend cap and balance refuse with exit 2: no payment leaves."""
    world = tmp_path / "world.json"
    world.write_text('{"balance": "0.50"}')
    url = sim_process("--world", str(world))
    job = write_bonuses(tmp_path / "job.jsonl", 5)  # 5 × ($0.10 + $0.02)
    capped = turkbatch("run", str(job), "--endpoint-url", url, "--max-spend", "0.59")
    assert capped.returncode == 2 and "more than --max-spend $0.59" in capped.stderr
    assert counters(url) == {}
    broke = turkbatch("run", str(job), "--endpoint-url", url)
    assert broke.returncode == 2 and "does not cover the $0.60" in broke.stderr
    assert counters(url) == {"GetAccountBalance": 1}
    assert not (tmp_path / "job.journal.jsonl").exists()
    assert ledger(url)["bonuses"] == []


def test_production_needs_the_flag_and_the_confirmation(
    sim_process: Callable[..., str], tmp_path: Path
) -> None:
    """No request reaches production without --production and a 'yes' on the terminal."""
    prod, sandbox = sim_process(), sim_process()
    job = write_bonuses(tmp_path / "job.jsonl", 2)
    base = ["-c", REDIRECTED, prod, sandbox, "run", str(job), "--progress", "0"]
    # Without the flag: the sandbox, never production.
    code, out = on_pty([*base, "--journal", str(tmp_path / "sandbox.jsonl")], None)
    assert code == 0, out
    assert counters(prod) == {} and len(ledger(sandbox)["bonuses"]) == 2
    # Without a terminal and without --yes: refused before any request.
    piped = subprocess.run(
        [sys.executable, *base, "--production"], capture_output=True, text=True, timeout=60
    )
    assert piped.returncode == 2 and "--yes" in piped.stderr and counters(prod) == {}
    # On a terminal: the totals and the balance, then 'no' sends nothing that pays.
    code, out = on_pty([*base, "--production"], "no")
    assert code == 2 and "not confirmed" in out
    assert "PRODUCTION" in out and "$0.24" in out and "$10,000.00" in out
    assert counters(prod) == {"GetAccountBalance": 1} and ledger(prod)["bonuses"] == []
    # 'yes' runs it.
    code, out = on_pty([*base, "--production"], "yes")
    assert code == 0, out
    assert len(ledger(prod)["bonuses"]) == 2


def test_status_while_running_and_after(sim_process: Callable[..., str], tmp_path: Path) -> None:
    """status reads a journal a run is writing (running), then after it (finished)."""
    url = sim_process("--latency", "50")
    job = write_bonuses(tmp_path / "job.jsonl", 60)
    journal = tmp_path / "job.journal.jsonl"
    args = ["run", str(job), "--endpoint-url", url, "--rate", "30", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "turkbatch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(ledger(url)["bonuses"]) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    during = turkbatch("status", str(journal), "--output", "json")
    assert during.returncode == 0, during.stderr
    record = json.loads(during.stdout)
    assert record["state"] == "running" and record["pid"] == proc.pid
    assert 0 < record["total"]["done"] < 60
    proc.communicate(timeout=60)
    after = turkbatch("status", str(journal))
    assert "finished" in after.stdout and "60 of 60 calls done" in after.stdout
    assert "bonuses paid: 60, $6.00 + fees $1.20 = $7.20" in after.stdout
    assert turkbatch("status", str(tmp_path / "nope.jsonl")).returncode == 2


def test_report_policy_skeleton(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """report writes the payment record; policy the IAM policy; skeleton a valid line."""
    journal = tmp_path / "demo.journal.jsonl"
    assert turkbatch("run", str(ROOT / "jobs" / "demo.jsonl"), "--sim", "--journal", str(journal))
    code, out, err = cli(capsys, "report", str(journal))
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.startswith("line,key,op,outcome") and len(rows) == 10
    as_json = json.loads(cli(capsys, "report", str(journal), "--format", "json")[1])
    bonuses = [r for r in as_json if r["op"] == "SendBonus"]
    assert {(r["bonus_amount"], r["fee"]) for r in bonuses} == {("1.25", "0.25"), ("0.50", "0.10")}
    doc = json.loads(cli(capsys, "policy", str(ROOT / "jobs" / "demo.jsonl"))[1])
    (statement,) = doc["Statement"]
    assert statement["Resource"] == "*" and "mechanicalturk:SendBonus" in statement["Action"]
    assert statement["Action"] == sorted(statement["Action"])
    code, out, _ = cli(capsys, "skeleton", "SendBonus")
    comment, line = out.splitlines()
    assert comment.startswith("# SendBonus") and json.loads(line)["op"] == "SendBonus"
    job = tmp_path / "skeleton.jsonl"
    job.write_text(out)
    assert jobs.check_job(job).operations == 1
    code, _, err = cli(capsys, "skeleton", "SendBonsu")
    assert code == 2 and "did you mean 'SendBonus'" in err
    code, _, err = cli(capsys, "report", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "no such journal" in err


def test_run_json_output_and_global_options_first(
    sim_process: Callable[..., str], tmp_path: Path
) -> None:
    """AWS-CLI style: global options before the command; --output json prints one object."""
    url = sim_process()
    job = write_bonuses(tmp_path / "job.jsonl", 3)
    result = turkbatch("--endpoint-url", url, "--output", "json", "run", str(job), "--quiet")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["totals"]["done"] == 3 and record["spent"] == "0.36"
    assert record["exit_code"] == 0


def test_no_secret_is_ever_written(sim_process: Callable[..., str], tmp_path: Path) -> None:
    """With --debug and real-looking credentials, no secret reaches any output or file."""
    key, secret = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    token = "FwoGZXIvYXdzEJr//////////wEaDEXAMPLESESSIONTOKEN" + "Q" * 300
    url = sim_process()
    job = write_bonuses(tmp_path / "job.jsonl", 20)
    log_file, journal = tmp_path / "run.log", tmp_path / "job.journal.jsonl"
    env = os.environ | {
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_SESSION_TOKEN": token,
    }
    args = ["run", str(job), "--endpoint-url", url, "--debug", "--log-file", str(log_file)]
    result = subprocess.run(
        [sys.executable, "-m", "turkbatch", *args, "--progress", "0.1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "request.ok" in log_file.read_text()  # the debug detail really was written
    outputs = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "log file": log_file.read_text(),
        "journal": journal.read_text(),
    }
    for name, text in outputs.items():
        for needle in (key, secret, token[:24], "Signature=", "X-Amz-Security-Token"):
            assert needle not in text, f"{needle!r} in {name}"


def test_an_empty_or_odd_endpoint_url_is_refused(tmp_path: Path) -> None:
    """An empty --endpoint-url (an unset variable, say) is refused, never taken as the sandbox."""
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    for url in ("", "127.0.0.1:8443", "ftp://x"):
        result = turkbatch("run", str(job), "--endpoint-url", url)
        assert result.returncode == 2 and "--endpoint-url must be" in result.stderr
        assert not (tmp_path / "job.journal.jsonl").exists()


# --- a failing setting stops the run; the corrected run sends --------------------------


class Endpoint:
    """A tiny MTurk-shaped endpoint on 127.0.0.1 (aiohttp), answering with ``handler``."""

    def __init__(self, handler: Callable[[aiohttp.web.Request], Any]) -> None:
        self.app = aiohttp.web.Application()
        self.app.router.add_post("/", handler)
        self.runner = aiohttp.web.AppRunner(self.app)

    async def __aenter__(self) -> str:
        await self.runner.setup()
        await aiohttp.web.TCPSite(self.runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


async def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``python -m turkbatch ARGS`` without blocking the test's event loop."""
    done = await anyio.run_process([sys.executable, "-m", "turkbatch", *args], check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def closed_port() -> str:
    """The URL of a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def journal_records(path: Path) -> list[dict[str, Any]]:
    """The journal's records, or none when no journal was written."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.mark.parametrize("where", ["refused", "dns"])
@pytest.mark.parametrize("balance", ["checked", "--no-balance-check"])
def test_an_unreachable_endpoint_stops_at_once_and_the_corrected_run_sends(
    sim_process: Callable[..., str], tmp_path: Path, where: str, balance: str
) -> None:
    """
    A closed port or a name that does not resolve stops the run at once (no retries),
    exit 2, naming the cause and --endpoint-url, never blaming IAM; the journal records
    nothing failed, so the run against the right endpoint pays without --retry-failed.
    """
    job = write_bonuses(tmp_path / "job.jsonl", 3)
    with job.open("a") as f:
        f.write('{"op": "ApproveAssignment", "AssignmentId": "3ASSIGNAPPROVE01"}\n')
    wrong = closed_port() if where == "refused" else "http://mturk.turkbatch.invalid"
    extra = [balance] if balance.startswith("--") else []
    result = turkbatch("run", str(job), "--endpoint-url", wrong, "--progress", "0", *extra)
    assert result.returncode == 2, result.stderr
    cause = "connection refused" if where == "refused" else "cannot be resolved"
    assert cause in result.stderr and "--endpoint-url" in result.stderr
    assert "nothing was sent" in result.stderr
    assert "Traceback" not in result.stderr and "mechanicalturk:" not in result.stderr
    journal = tmp_path / "job.journal.jsonl"
    assert not any(r["t"] == "failed" for r in journal_records(journal))
    url = sim_process()
    fixed = turkbatch("run", str(job), "--endpoint-url", url, "--quiet")
    assert fixed.returncode == 0, fixed.stderr
    assert len(ledger(url)["bonuses"]) == 3
    assert counters(url)["SendBonus"] == 3 and counters(url)["ApproveAssignment"] == 1


@pytest.mark.parametrize("balance", ["checked", "--no-balance-check"])
def test_refused_credentials_stop_the_run_and_the_corrected_run_pays(
    sim_process: Callable[..., str], tmp_path: Path, balance: str
) -> None:
    """
    A wrong secret (the endpoint refuses the signature) or an unknown key stops the run,
    exit 2, naming which and how to fix it, not IAM; with the right pair the same command
    pays each bonus once.
    """
    url = sim_process("--credentials", "AKIDGOODGOODGOOD:goodsecret")
    job = write_bonuses(tmp_path / "job.jsonl", 3)
    extra = [balance] if balance.startswith("--") else []
    args = ["run", str(job), "--endpoint-url", url, "--progress", "0", *extra]

    def run_with(key: str, secret: str) -> subprocess.CompletedProcess[str]:
        env = os.environ | {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
        return subprocess.run(
            [sys.executable, "-m", "turkbatch", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    bad_secret = run_with("AKIDGOODGOODGOOD", "wrongsecret")
    assert bad_secret.returncode == 2, bad_secret.stderr
    assert "secret key" in bad_secret.stderr and "nothing was sent" in bad_secret.stderr
    bad_key = run_with("AKIDUNKNOWNUNKNOWN", "goodsecret")
    assert bad_key.returncode == 2, bad_key.stderr
    assert "refused the credentials" in bad_key.stderr
    for result in (bad_secret, bad_key):
        assert "mechanicalturk:GetAccountBalance" not in result.stderr
        assert "Traceback" not in result.stderr
    assert ledger(url)["bonuses"] == []
    journal = tmp_path / "job.journal.jsonl"
    assert not any(r["t"] == "failed" for r in journal_records(journal))
    good = run_with("AKIDGOODGOODGOOD", "goodsecret")
    assert good.returncode == 0, good.stderr
    paid = Counter(b["AssignmentId"] for b in ledger(url)["bonuses"])
    assert len(paid) == 3 and set(paid.values()) == {1}


def test_the_closed_sandbox_default_points_to_sim_and_endpoint_url(tmp_path: Path) -> None:
    """
    With no endpoint flag, an unreachable sandbox (MTurk closed on 2026-09-30) is named as
    such, with --sim and --endpoint-url as the way on; exit 2, nothing written. (The
    sandbox URL is pointed at a closed loopback port.)
    """
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    result = subprocess.run(
        [sys.executable, "-c", REDIRECTED, closed_port(), closed_port(), "run", str(job)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "closed on 2026-09-30" in result.stderr and "sandbox" in result.stderr
    assert "--sim" in result.stderr and "--endpoint-url" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "job.journal.jsonl").exists()


async def test_credentials_expiring_mid_run_stop_it_with_exit_1(tmp_path: Path) -> None:
    """
    Credentials that expire part-way (an endpoint that pays 2 bonuses, then answers
    ExpiredTokenException) stop the run: exit 1, the summary says why, what was paid is
    done, nothing is recorded failed, and the unsent bonuses' intents are withdrawn, not
    left in doubt.
    """
    answered = 0

    async def endpoint(request: aiohttp.web.Request) -> aiohttp.web.Response:
        nonlocal answered
        answered += 1
        if answered <= 2:
            return aiohttp.web.json_response({}, content_type="application/x-amz-json-1.1")
        body = {"__type": "ExpiredTokenException", "message": "The security token expired"}
        return aiohttp.web.json_response(
            body, status=400, content_type="application/x-amz-json-1.1"
        )

    job = write_bonuses(tmp_path / "job.jsonl", 6)
    async with Endpoint(endpoint) as url:
        args = ["--endpoint-url", url, "--no-balance-check", "--concurrency", "1"]
        code, out, err = await run_cli("run", str(job), *args, "--progress", "0")
    assert code == 1, err
    assert "stopped early: the credentials have expired" in out and "refresh" in out
    records = journal_records(tmp_path / "job.journal.jsonl")
    kinds = Counter(r["t"] for r in records)
    assert kinds["done"] == 2 and kinds["failed"] == 0
    intents = {r["k"] for r in records if r["t"] == "intent"}
    settled = {r["k"] for r in records if r["t"] in ("done", "withdrawn")}
    assert intents <= settled, "an unsent bonus was left in doubt"
    assert "Traceback" not in err


# --- no traceback for anything a user can type ---------------------------------------


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    """Nothing Python-internal on either stream."""
    for text in (result.stdout, result.stderr):
        for needle in ("Traceback", "Exception ignored", "BrokenPipeError", "Error:"):
            assert needle not in text, (needle, text)


def test_a_directory_or_a_pipe_is_refused_in_one_line(tmp_path: Path) -> None:
    """
    A directory or a FIFO as the job, the journal or the log file is refused in one line
    naming it, exit 2, before anything opens it (a FIFO would hang); the same command with
    files runs.
    """
    job = write_bonuses(tmp_path / "job.jsonl", 2)
    folder, fifo = tmp_path / "folder", tmp_path / "fifo"
    folder.mkdir()
    os.mkfifo(fifo)
    cases = {
        ("run", str(folder), "--sim"): f"{folder} is a directory, not a job file",
        ("run", str(fifo), "--sim"): f"{fifo} is not a regular file",
        ("run", str(job), "--sim", "--journal", str(folder)): "is a directory, not a journal",
        ("run", str(job), "--sim", "--journal", str(fifo)): f"{fifo} is not a regular file",
        ("run", str(job), "--sim", "--log-file", str(fifo)): f"{fifo} is not a regular file",
        ("plan", str(fifo), "--offline"): f"{fifo} is not a regular file",
        ("policy", str(folder)): f"{folder} is a directory, not a job file",
        ("status", str(folder)): f"{folder} is a directory, not a journal",
        ("verify", str(fifo), "--sim"): f"{fifo} is not a regular file",
        ("status", str(fifo)): f"{fifo} is not a regular file",
        ("report", str(fifo)): f"{fifo} is not a regular file",
    }
    for args, message in cases.items():
        result = turkbatch(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and len(result.stderr.splitlines()) == 1, args
        no_traceback(result)
    assert not list(tmp_path.glob("*journal*"))
    assert turkbatch("run", str(job), "--sim", "--quiet").returncode == 0


def test_out_of_range_pace_is_a_usage_error(tmp_path: Path) -> None:
    """
    --rate below the limiter's floor (0.5), nan, inf or not a number, and --concurrency 0
    are usage errors naming the flag (exit 2, nothing written), for run and verify; in
    range, the run works.
    """
    job = write_bonuses(tmp_path / "job.jsonl", 2)
    for flag, value in [
        ("--rate", "0.1"),
        ("--rate", "nan"),
        ("--rate", "inf"),
        ("--rate", "-1"),
        ("--rate", "fast"),
        ("--concurrency", "0"),
        ("--concurrency", "-3"),
        ("--grace", "nan"),
        ("--progress", "-1"),
        ("--cli-read-timeout", "0"),
    ]:
        if flag in ("--rate", "--concurrency"):  # (verify paces its reads the same way)
            verified = turkbatch("verify", str(job), "--sim", flag, value)
            assert verified.returncode == 2 and f"argument {flag}:" in verified.stderr, flag
        result = turkbatch("run", str(job), "--sim", flag, value)
        assert result.returncode == 2, (flag, value, result.stderr)
        assert f"argument {flag}:" in result.stderr and repr(value) in result.stderr
        no_traceback(result)
    assert not list(tmp_path.glob("*journal*"))
    ok = turkbatch("run", str(job), "--sim", "--rate", "0.5", "--concurrency", "1", "--quiet")
    assert ok.returncode == 0, ok.stderr


def test_output_into_a_closed_pipe_is_no_error(tmp_path: Path) -> None:
    """
    status, report, plan, policy and skeleton piped into a reader that has gone (``| head``)
    end quietly with exit 0; run still exits with its outcome, its work done.
    """
    job = write_bonuses(tmp_path / "job.jsonl", 50)
    journal = tmp_path / "job.sim.journal.jsonl"  # (a --sim trial's own journal)

    def into_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the first byte
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "turkbatch", *args],
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
            )
        finally:
            os.close(write)
        return subprocess.CompletedProcess(proc.args, proc.returncode, "", proc.stderr)

    ran = into_closed_pipe("run", str(job), "--sim", "--quiet")
    assert ran.returncode == 0, ran.stderr
    no_traceback(ran)
    assert sum(r["t"] == "done" for r in journal_records(journal)) == 50
    for args in (
        ("status", str(journal)),
        ("report", str(journal)),
        ("plan", str(job), "--offline"),
        ("policy", str(job)),
        ("skeleton", "SendBonus"),
    ):
        result = into_closed_pipe(*args)
        assert result.returncode == 0, (args, result.stderr)
        no_traceback(result)


def test_a_missing_profile_is_named(tmp_path: Path) -> None:
    """AWS_PROFILE or --profile naming no profile says which, exit 2, nothing sent."""
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    env = os.environ | {"AWS_PROFILE": "nosuch"}
    by_env = subprocess.run(
        [sys.executable, "-m", "turkbatch", "run", str(job), "--endpoint-url", closed_port()],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert by_env.returncode == 2 and "profile not found: nosuch" in by_env.stderr
    no_traceback(by_env)
    by_flag = turkbatch("run", str(job), "--endpoint-url", closed_port(), "--profile", "other")
    assert by_flag.returncode == 2 and "profile not found: other" in by_flag.stderr
    assert not (tmp_path / "job.journal.jsonl").exists()


def test_a_job_and_a_journal_are_told_apart(tmp_path: Path) -> None:
    """
    A job given where a journal goes (or the other way round) is named for what it is,
    exit 2; report --job naming an invalid job lists its errors instead of "not found".
    """
    job = write_bonuses(tmp_path / "job.jsonl", 2)
    journal = tmp_path / "job.sim.journal.jsonl"  # (a --sim trial's own journal)
    assert turkbatch("run", str(job), "--sim", "--quiet").returncode == 0
    status = turkbatch("status", str(job))
    assert status.returncode == 2
    default = tmp_path / "job.journal.jsonl"
    assert f"{job} is a job file, not a journal (its journal is {default}" in status.stderr
    assert f"or {journal} for --sim runs" in status.stderr
    report = turkbatch("report", str(job))
    assert report.returncode == 2 and "is a job file, not a journal" in report.stderr
    run = turkbatch("run", str(journal), "--sim")
    assert run.returncode == 2 and f"{journal} is a journal, not a job file" in run.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"op": "SendBonus", "WorkerId": "A1"}\n')
    invalid = turkbatch("report", str(journal), "--job", str(bad))
    assert invalid.returncode == 2 and f"{bad}:1: BonusAmount is required" in invalid.stderr
    assert "not found" not in invalid.stderr and "nothing was sent" not in invalid.stderr
    for result in (status, report, run, invalid):
        no_traceback(result)
    assert turkbatch("report", str(journal), "--job", str(job)).returncode == 0


def test_ctrl_c_during_start_up_is_no_traceback(tmp_path: Path) -> None:
    """
    SIGINT at any moment of start-up (imports, parsing, the simulator starting) ends the
    process quietly: exit 130 (or killed by the signal before Python could handle it).
    """
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    # The interpreter's own start-up (before any turkbatch code) is Python's business:
    # begin once a bare interpreter would have started, measured on this machine now.
    started = []
    for _ in range(3):
        begun = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        started.append(time.monotonic() - begun)
    for delay in (0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6):
        delay += 2 * max(started)
        proc = subprocess.Popen(
            [sys.executable, "-m", "turkbatch", "run", str(job), "--sim", "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 130, -signal.SIGINT), (delay, proc.returncode, err)
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, (delay, err)


def test_conflicting_endpoints_are_named_before_asking_for_yes(tmp_path: Path) -> None:
    """--sim with --production (or --endpoint-url) is a conflict, said before --yes is."""
    job = write_bonuses(tmp_path / "job.jsonl", 1)
    result = turkbatch("run", str(job), "--sim", "--production")
    assert result.returncode == 2
    assert "--sim and --production conflict" in result.stderr and "--yes" not in result.stderr
    other = turkbatch("run", str(job), "--endpoint-url", "http://127.0.0.1:1", "--production")
    assert "--endpoint-url and --production conflict" in other.stderr


def test_global_options_work_after_every_command(
    sim_process: Callable[..., str], tmp_path: Path
) -> None:
    """
    --profile, --region, --endpoint-url, --debug and --output are accepted after any
    command, as before it; --output is the format everywhere (report --output json is
    JSON), and job from-csv writes its file with --to.
    """
    job = write_bonuses(tmp_path / "job.jsonl", 2)
    journal = tmp_path / "job.sim.journal.jsonl"
    assert turkbatch("run", str(job), "--sim", "--quiet").returncode == 0
    region = ("--region", "us-east-1")
    for args in (
        ("status", "--profile", "x", str(journal)),
        ("status", str(journal), *region, "--debug"),
        ("report", str(journal), "--endpoint-url", "http://127.0.0.1:1"),
        ("policy", str(job), "--debug", *region),
        ("skeleton", "SendBonus", *region, "--output", "json"),
        ("plan", str(job), "--offline", "--profile", "x"),
    ):
        result = turkbatch(*args)
        assert result.returncode == 0, (args, result.stderr)
    as_json = turkbatch("report", str(journal), "--output", "json")
    assert [row["outcome"] for row in json.loads(as_json.stdout)] == ["done", "done"]
    csv_file = tmp_path / "pay.csv"
    csv_file.write_text("WorkerId,AssignmentId,BonusAmount,Reason\nA1,3A1,1.00,thanks\n")
    made = turkbatch(
        "job", "from-csv", str(csv_file), "--op", "SendBonus", "--to", str(tmp_path / "p.jsonl")
    )
    assert made.returncode == 0 and (tmp_path / "p.jsonl").exists()
    named = turkbatch("job", "from-csv", str(csv_file), "--op", "SendBonus", "--output", "x.jsonl")
    assert named.returncode == 2 and "--to" in named.stderr and not Path("x.jsonl").exists()
    url = sim_process("--debug", "--region", "us-east-1")
    assert url.startswith("http://127.0.0.1:")


def test_an_amount_too_large_is_refused_in_validation(
    sim_process: Callable[..., str], tmp_path: Path
) -> None:
    """
    A BonusAmount of 27 digits (and a Reward of 12) is refused when the job is checked:
    plan and run exit 2 with the line named, and nothing is sent even with every guard
    off; the corrected amount runs.
    """
    url = sim_process()
    job = tmp_path / "job.jsonl"
    huge = "1" + "0" * 26
    line = {"op": "SendBonus", "WorkerId": "A1", "AssignmentId": "3A1", "Reason": "r"}
    hit = {
        "op": "CreateHITType",
        "AssignmentDurationInSeconds": 600,
        "Reward": "1" * 12,
        "Title": "t",
        "Description": "d",
    }
    job.write_text(
        orjson.dumps({**line, "BonusAmount": huge}).decode() + "\n" + orjson.dumps(hit).decode()
    )
    for args in (
        ("plan", str(job), "--offline"),
        ("run", str(job), "--endpoint-url", url, "--max-bonus", "none", "--no-balance-check"),
    ):
        result = turkbatch(*args)
        assert result.returncode == 2, result.stderr
        assert f"{job}:1: BonusAmount '{huge}' is more than the largest amount" in result.stderr
        assert f"{job}:2: Reward '{'1' * 12}' is more than the largest amount" in result.stderr
        no_traceback(result)
    assert counters(url) == {}
    job.write_text(orjson.dumps({**line, "BonusAmount": "1.00"}).decode() + "\n")
    fixed = turkbatch("run", str(job), "--endpoint-url", url, "--quiet")
    assert fixed.returncode == 0, fixed.stderr
    assert len(ledger(url)["bonuses"]) == 1


async def test_a_setting_failing_after_a_maybe_sent_attempt_leaves_the_bonus_in_doubt(
    tmp_path: Path,
) -> None:
    """
    A bonus whose first attempt may have reached MTurk (a 500) and whose retry meets
    expired credentials stays in doubt, never withdrawn: exit 1 (not "nothing was sent"),
    and status counts it in doubt, for the next run to look up before paying.
    """
    answered = 0

    async def endpoint(request: aiohttp.web.Request) -> aiohttp.web.Response:
        nonlocal answered
        answered += 1
        kind = "application/x-amz-json-1.1"
        if answered == 1:
            body = {"__type": "ServiceFault", "message": "internal error"}
            return aiohttp.web.json_response(body, status=500, content_type=kind)
        body = {"__type": "ExpiredTokenException", "message": "The security token expired"}
        return aiohttp.web.json_response(body, status=400, content_type=kind)

    job = write_bonuses(tmp_path / "job.jsonl", 1)
    journal = tmp_path / "job.journal.jsonl"
    async with Endpoint(endpoint) as url:
        args = ["--endpoint-url", url, "--no-balance-check", "--progress", "0"]
        code, out, err = await run_cli("run", str(job), *args)
    assert code == 1, err
    assert "stopped early: the credentials have expired" in out
    assert "1 call in doubt" in out and "nothing was sent" not in err
    kinds = Counter(r["t"] for r in journal_records(journal))
    assert kinds["intent"] == 1 and kinds["withdrawn"] == kinds["failed"] == kinds["done"] == 0
    status = await anyio.run_process(
        [sys.executable, "-m", "turkbatch", "status", str(journal), "--output", "json"]
    )
    assert json.loads(status.stdout)["total"]["in_doubt"] == 1


async def test_an_iam_denial_names_the_action_to_allow(tmp_path: Path) -> None:
    """
    Credentials that IAM does not allow to call an operation: the balance check says to
    allow mechanicalturk:GetAccountBalance (or --no-balance-check); without it, the run
    stops on SendBonus naming mechanicalturk:SendBonus. Exit 2, nothing recorded failed.
    """

    async def deny(request: aiohttp.web.Request) -> aiohttp.web.Response:
        op = request.headers["X-Amz-Target"].rpartition(".")[2]
        body = {
            "__type": "AccessDeniedException",
            "Message": f"User: arn:aws:iam::123456789012:user/lab is not authorized to "
            f"perform: mechanicalturk:{op}",
        }
        return aiohttp.web.json_response(
            body, status=400, content_type="application/x-amz-json-1.1"
        )

    job = write_bonuses(tmp_path / "job.jsonl", 2)
    async with Endpoint(deny) as url:
        code, _, balance = await run_cli("run", str(job), "--endpoint-url", url)
        code2, _, run = await run_cli(
            "run", str(job), "--endpoint-url", url, "--no-balance-check", "--progress", "0"
        )
    assert code == 2 and "allow mechanicalturk:GetAccountBalance" in balance, balance
    assert code2 == 2 and "may not call SendBonus" in run, run
    assert "allow mechanicalturk:SendBonus" in run and "turkbatch policy JOB" in run
    records = journal_records(tmp_path / "job.journal.jsonl")
    assert not any(r["t"] in ("failed", "done") for r in records)


async def test_a_trickling_endpoint_cannot_hold_an_attempt_past_its_deadline(
    tmp_path: Path,
) -> None:
    """
    An endpoint that answers one byte at a time never trips --cli-read-timeout, but each
    attempt ends after --cli-connect-timeout + --cli-read-timeout in all: plan's balance
    lookup gives up with that reason instead of hanging.
    """

    async def trickle(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(
            headers={"Content-Type": "application/x-amz-json-1.1"}
        )
        await response.prepare(request)
        while True:
            await response.write(b" ")
            await anyio.sleep(0.05)

    job = write_bonuses(tmp_path / "job.jsonl", 1)
    timeouts = ("--cli-connect-timeout", "0.3", "--cli-read-timeout", "0.3")
    async with Endpoint(trickle) as url:
        with anyio.fail_after(60):
            code, out, err = await run_cli("plan", str(job), "--endpoint-url", url, *timeouts)
    assert code == 0, err
    assert "balance: unknown (no complete answer within 0.6 s" in out, out


async def test_a_web_page_is_never_taken_for_mturk(tmp_path: Path) -> None:
    """
    An --endpoint-url that is some web server (a 200 page, a redirect, a 403 page) stops
    the run, exit 2, saying it does not answer as MTurk: no bonus is ever recorded paid
    on the strength of a web page, and nothing is recorded failed.
    """
    job = write_bonuses(tmp_path / "job.jsonl", 2)
    journal = tmp_path / "job.journal.jsonl"
    for status in (200, 301, 403):

        async def page(request: aiohttp.web.Request, status: int = status) -> Any:
            html = "<html><body>Welcome to nginx!</body></html>"
            return aiohttp.web.Response(text=html, status=status, content_type="text/html")

        async with Endpoint(page) as url:
            args = ["--endpoint-url", url, "--no-balance-check", "--progress", "0"]
            code, _, err = await run_cli("run", str(job), *args)
        assert code == 2, (status, err)
        assert "does not answer as an MTurk endpoint" in err and "--endpoint-url" in err
        kinds = Counter(r["t"] for r in journal_records(journal))
        assert kinds["done"] == kinds["failed"] == 0, (status, kinds)
