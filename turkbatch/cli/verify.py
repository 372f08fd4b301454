"""
The ``turkbatch verify`` command: its options, and what it prints.

The summary, the problems, the repay command, ``--output json`` and ``--report FILE.csv``
are all built on one :class:`~turkbatch.verify.Verification`, so they cannot disagree.
Checking is :mod:`turkbatch.verify`.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, Final, TextIO

import anyio

from turkbatch import inputs, logs, progress
from turkbatch import settings as defaults
from turkbatch.catalog import PROOFS, Proof
from turkbatch.cli import options
from turkbatch.client import DEFAULT_REGION, SANDBOX_URL
from turkbatch.errors import UsageError
from turkbatch.money import parse, usd
from turkbatch.report import neutralise
from turkbatch.summary import table
from turkbatch.verdict import Check, Status, Verification
from turkbatch.verify import Settings, verify

__all__ = [
    "COLUMNS",
    "MAX_SHOWN",
    "add_parser",
    "as_dict",
    "command",
    "render",
    "repay_command",
    "write_csv",
]

EXAMPLES = """\
examples:
  turkbatch verify payouts.jsonl                      against the MTurk sandbox
  turkbatch verify payouts.jsonl --endpoint-url http://127.0.0.1:8443 --report proof.csv
  turkbatch verify payouts.jsonl --production --output json | jq .by_operation
  turkbatch policy payouts.jsonl --verify             the IAM policy verify needs
Sends only read calls (Get*/List*), through the same rate limiter and retries as run.
SendBonus: payments counted per worker, assignment, amount and reason (identical lines
are separate payments): exact, missing (asked, not paid), extra (paid more times than
asked), unexpected (paid on a bonused assignment, asked by no line: shown, not failed).
Reviews, qualifications, requests and blocks: the state MTurk shows now. NotifyWorkers:
the journal's per-worker outcomes (MTurk keeps no record). Other operations: not
checkable. When payments are missing, prints the command that pays exactly those.
exit codes: 0 everything checkable is as the job asks, 1 something is missing or extra
(or MTurk would not say), 2 invalid job or usage, or MTurk cannot be read; 3 damaged
journal
"""

#: Problems listed in the text output; the rest are counted (``--report`` has them all).
MAX_SHOWN: Final = 50
#: The columns of ``--report``, in order.
COLUMNS: Final = (
    "line",
    "key",
    "op",
    "status",
    "source",
    "worker_id",
    "assignment_id",
    "hit_id",
    "qualification_type_id",
    "qualification_request_id",
    "amount",
    "reason",
    "detail",
)
_MTURK_COLUMNS: Final = (
    Status.EXACT,
    Status.MISSING,
    Status.EXTRA,
    Status.UNEXPECTED,
    Status.ERROR,
    Status.NOT_CHECKABLE,
)
_JOURNAL: Final = (
    Status.DELIVERED,
    Status.SOFT_FAILURE,
    Status.HARD_FAILURE,
    Status.FAILED,
    Status.IN_DOUBT,
    Status.NOT_SENT,
    Status.NOT_CHECKABLE,
)


def repay_command(v: Verification, endpoint: Sequence[str] = ()) -> tuple[str, str] | None:
    """
    Return the command that pays exactly the missing payments, and why it is that one.

    With the job's journal, a plain ``run`` pays what the journal has not done; that is
    exactly the missing payments when, per payment, the lines not done are the missing
    ones. Otherwise ``--reconcile`` looks every unpaid line up and counts: it pays the
    asked payments MTurk does not show. When the journal records a missing payment as
    done (a record MTurk contradicts), a fresh journal is used, so nothing is skipped.

    Args:
        v: the verification.
        endpoint: the endpoint options verify was given (``--endpoint-url URL``, ...).

    Returns:
        ``(command, note)``, or ``None`` when nothing is missing.
    """
    missing = Counter(
        (c.worker_id, c.assignment_id, c.amount, c.reason)
        for c in v.checks
        if PROOFS.get(c.op) is Proof.PAYMENT and c.status is Status.MISSING
    )
    if not missing:
        return None
    words = ["run", v.job]
    note = f"it also runs the job's other {v.other_lines} line(s), as a run would"
    if v.journal is None:
        if v.unused_journal is not None:  # it describes another endpoint: one of its own
            words += ["--journal", v.unused_journal.removesuffix(".jsonl") + ".repay.jsonl"]
        words.append("--reconcile")
    else:
        not_done = {i: v.asked[i] - v.journal_done[i] for i in v.asked}
        if any(m > not_done[i] for i, m in missing.items()):
            fresh = v.journal.removesuffix(".jsonl") + ".repay.jsonl"
            words += ["--journal", fresh, "--reconcile"]
            note = (
                f"the journal records some of them as paid, which MTurk contradicts, so a "
                f"fresh journal; {note}"
            )
        else:
            words += ["--journal", v.journal]
            if any(not_done[i] != missing.get(i, 0) for i in v.asked):
                words.append("--reconcile")
            note = "it also sends what else the journal has not done"
        if any(v.journal_failed[i] for i in missing):
            words.append("--retry-failed")
    if not v.other_lines:
        note = "the job has nothing but bonuses"
    # (a command that runs as printed: turkbatch is not on PATH after the README's install)
    return " ".join([options.invocation(), *(shlex.quote(w) for w in [*words, *endpoint])]), note


def _calls(v: Verification) -> str:
    total = sum(v.calls.values())
    each = ", ".join(f"{op} {n:,}" for op, n in sorted(v.calls.items()))
    return f"{total:,} read call{'s' if total != 1 else ''}" + (f" ({each})" if each else "")


def _describe(c: Check) -> str:
    parts = [f"line {c.line}" if c.line else "", c.op, c.status.value]
    if PROOFS.get(c.op) is Proof.PAYMENT:
        parts.append(f"{c.worker_id} {c.assignment_id} {usd(parse(c.amount))} {c.reason!r}")
    else:
        ids = (c.worker_id, c.assignment_id, c.qualification_request_id, c.hit_id)
        parts.append(" ".join(dict.fromkeys(x for x in (*ids, c.qualification_type_id) if x)))
    if c.detail:
        parts.append(f"({c.detail})")
    return "  ".join(p for p in parts if p)


def render(v: Verification, endpoint: Sequence[str] = ()) -> str:
    """Return the text report: counts by operation, problems, and what to do."""
    out = [f"verify {v.job} against {v.endpoint}: {_calls(v)} in {v.elapsed:.1f} s"]
    out += [f"note: {note}" for note in v.notes]
    out.append("")
    counts = v.counts()
    rows = [
        [op, *(f"{c[s]:,}" for s in _MTURK_COLUMNS)]
        for op, c in counts.items()
        if PROOFS.get(op) is not Proof.MESSAGE
    ]
    if rows:
        header = ["operation", *(s.value.replace("_", " ") for s in _MTURK_COLUMNS)]
        out += table(header, rows)
    messages = [op for op in counts if PROOFS.get(op) is Proof.MESSAGE]
    for op in messages:
        c = counts[op]
        if v.journal:
            said = ", ".join(f"{c[s]:,} {s.value.replace('_', ' ')}" for s in _JOURNAL if c[s])
            line = f"{op}, from the journal (MTurk keeps no record of messages): {said}"
        else:
            workers = sum(c.values())
            line = (
                f"{op}: {workers:,} worker(s) not checkable (MTurk keeps no record "
                "of messages, and there is no journal)"
            )
        out += ["", line]
        unreached = [
            c
            for c in v.checks
            if c.op == op and c.status not in (Status.DELIVERED, Status.NOT_CHECKABLE)
        ]
        out += [f"  {_describe(c)}" for c in unreached[:MAX_SHOWN]]
        if len(unreached) > MAX_SHOWN:
            out.append(f"  ... and {len(unreached) - MAX_SHOWN:,} more (--report FILE lists all)")
    problems = list(v.problems())
    if problems:
        out += ["", f"Not as the job asks ({len(problems):,}):"]
        out += [f"  {_describe(c)}" for c in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:
            out.append(f"  ... and {len(problems) - MAX_SHOWN:,} more (--report FILE lists all)")
    unexpected = [c for c in v.checks if c.status is Status.UNEXPECTED]
    if unexpected:
        out += [
            "",
            f"Payments no line asks for, on assignments the job bonuses ({len(unexpected):,}):",
        ]
        out += [f"  {_describe(c)}" for c in unexpected[:MAX_SHOWN]]
    out.append("")
    if not problems:
        out.append("Everything checkable is as the job asks.")
    repay = repay_command(v, endpoint)
    if repay is not None:
        command, note = repay
        missing = [
            c for c in problems if PROOFS.get(c.op) is Proof.PAYMENT and c.status is Status.MISSING
        ]
        total = sum((parse(c.amount) for c in missing), start=parse("0"))
        out += [
            f"{len(missing):,} payment(s) missing ({usd(total)}). To pay exactly those:",
            f"  {command}",
            f"  ({note})",
        ]
    return "\n".join(out)


def _row(c: Check) -> dict[str, Any]:
    row = asdict(c)
    row["status"] = c.status.value
    row["line"] = c.line or ""
    return row


def as_dict(v: Verification, endpoint: Sequence[str] = ()) -> dict[str, Any]:
    """Return the JSON report: counts, calls, every problem and unexpected payment."""
    repay = repay_command(v, endpoint)
    return {
        "job": v.job,
        "endpoint": v.endpoint,
        "journal": v.journal,
        "notes": v.notes,
        "ok": v.exit_code == 0,
        "exit_code": v.exit_code,
        "calls": dict(sorted(v.calls.items())),
        "elapsed": round(v.elapsed, 3),
        "by_operation": {op: {s.value: n for s, n in c.items()} for op, c in v.counts().items()},
        "problems": [_row(c) for c in v.problems()],
        "unexpected": [_row(c) for c in v.checks if c.status is Status.UNEXPECTED],
        "repay": None if repay is None else {"command": repay[0], "note": repay[1]},
    }


def write_csv(v: Verification, out: TextIO) -> None:
    """Write one row per payment, call or (NotifyWorkers) worker, in job order."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for check in v.checks:
        writer.writerow({k: neutralise(x) for k, x in _row(check).items()})


def add_parser(commands: options.Commands) -> argparse.ArgumentParser:
    """Add ``turkbatch verify`` to the command line."""
    p = options.subcommand(
        commands,
        "verify",
        help="prove a job took effect, from MTurk's own records (read-only)",
        description="Check every line of a job against what MTurk shows now, sending only "
        "read calls: bonuses paid exactly as asked (no more, no less), assignments "
        "reviewed, qualifications held or revoked, requests handled, blocks in place. "
        "Needs no journal, so it checks a payout made by any tool.",
        epilog=EXAMPLES,
    )
    p.add_argument("job", help="the JSONL job file")
    options.endpoint_options(p)
    options.connection_options(p, suppress=True)
    options.journal_option(p)
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE.csv",
        help="write one CSV row per payment, call or messaged worker, with its status",
    )
    p.add_argument(
        "--rate",
        type=options.rate_arg,
        default=defaults.DEFAULT_RATE,
        metavar="R",
        help="ceiling in requests/s, cut automatically when MTurk throttles (default: %(default)g)",
    )
    p.add_argument(
        "--concurrency",
        type=options.count_arg,
        default=defaults.DEFAULT_CONCURRENCY,
        metavar="N",
        help="calls in flight at once (default: %(default)s)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    options.output_options(p, suppress=True)
    p.set_defaults(handler=command)
    return p


def _endpoint_words(args: argparse.Namespace) -> list[str]:
    """The options that point a repay ``run`` where verify looked."""
    words: list[str] = []
    if args.sim:
        words.append("--sim")
    if args.endpoint_url:
        words += ["--endpoint-url", args.endpoint_url]
    if args.production:
        words.append("--production")
    if args.profile:
        words += ["--profile", args.profile]
    if args.region != DEFAULT_REGION:
        words += ["--region", args.region]
    return words


def command(args: argparse.Namespace) -> int:
    """``turkbatch verify JOB``: exit 0 when all is as asked, 1 when not."""
    if args.journal is not None:
        inputs.check_journal(args.journal)
    inputs.check_job(args.job)
    if args.report is not None and not args.report.resolve().parent.is_dir():
        raise UsageError(f"cannot write {args.report}: no such directory")
    if not (args.sim or args.endpoint_url or args.production):
        print(f"turkbatch: using the MTurk sandbox ({SANDBOX_URL})", file=sys.stderr)
    bar = progress.Bar(sys.stderr) if not args.quiet and sys.stderr.isatty() else None
    level = "debug" if args.debug else "warning"
    logs.configure(level=level, stream=bar.guard() if bar else sys.stderr)
    settings = Settings(
        client=options.client_settings(args),
        rate=args.rate,
        concurrency=args.concurrency,
        journal=args.journal,
        progress=bar,
        progress_interval=progress.BAR_INTERVAL,
    )
    try:
        result = anyio.run(partial(verify, args.job, settings, sim=args.sim))
    finally:
        if bar is not None:
            bar.clear()
    endpoint = _endpoint_words(args)
    if args.report is not None:
        try:
            with open(args.report, "w", newline="", encoding="utf-8") as out:
                write_csv(result, out)
        except OSError as exc:
            raise UsageError(f"cannot write {args.report}: {exc.strerror}") from exc
    if args.output == "json":
        print(json.dumps(as_dict(result, endpoint), indent=2))
    else:
        print(render(result, endpoint))
    return result.exit_code
