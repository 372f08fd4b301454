"""``turkbatch report JOURNAL``: one row per operation of a journal's job, the payment record."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from turkbatch import inputs, jobs
from turkbatch.cli import options

__all__ = ["add_parser", "command"]

EXAMPLES = """\
examples:
  turkbatch report payouts.journal.jsonl > payouts-paid.csv
  turkbatch report payouts.journal.jsonl --format json
  turkbatch report old.journal.jsonl --job archive/payouts.jsonl     the job file moved
Outcomes: done, already (MTurk had it done already), reconciled (found paid by lookup),
failed, in_doubt (sent, no answer recorded: run again to settle), not_run.
exit codes: 0 written, 2 no such journal, 3 journal unreadable or damaged
"""


def add_parser(commands: options.Commands) -> argparse.ArgumentParser:
    """Add ``turkbatch report`` to the command line."""
    p = options.subcommand(
        commands,
        "report",
        help="one row per operation (per worker for messages): the payment record",
        description="Write one row per API call of a journal's job, in job line order (one "
        "per worker for NotifyWorkers; a bulk line's calls under it): outcome, error, "
        "request id, token and time, with the worker, assignment, qualification request, "
        "HIT or type each call acted on, and a bonus's amount, MTurk's fee and reason.",
        epilog=EXAMPLES,
    )
    p.add_argument("journal", type=Path, help="the journal file")
    p.add_argument(
        "--format",
        choices=("csv", "json", "jsonl"),
        help="csv, json (one array) or jsonl (one object per line) (default: csv, or json "
        "with --output json)",
    )
    p.add_argument("--job", type=Path, metavar="PATH", help="the job file, if it has moved")
    options.connection_options(p, suppress=True)
    options.output_options(p, suppress=True)
    p.set_defaults(handler=command)
    return p


def command(args: argparse.Namespace) -> int:
    """``turkbatch report JOURNAL``: one row per operation, per worker for messages."""
    from turkbatch.report import write_report

    inputs.check_journal(args.journal)
    if args.job is not None:
        inputs.check_job(args.job)
        jobs.check_job(args.job)  # asked for by name: an invalid one is an error, not a note
    fmt = args.format or ("json" if args.output == "json" else "csv")
    notes = write_report(args.journal, sys.stdout, fmt=fmt, job=args.job)
    sys.stdout.flush()
    for note in notes:
        print(f"turkbatch: note: {note}", file=sys.stderr)
    return 0
