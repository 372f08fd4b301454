"""``turkbatch status JOURNAL``: where a running or finished job stands, from its journal."""

from __future__ import annotations

import argparse
from pathlib import Path

from turkbatch import inputs
from turkbatch.cli import options, render

__all__ = ["add_parser", "command"]

EXAMPLES = """\
examples:
  turkbatch status payouts.journal.jsonl           while the job runs, or after
  watch -n 5 turkbatch status payouts.journal.jsonl
  turkbatch status payouts.journal.jsonl --output json
exit codes: 0 shown, 2 no such journal, 3 journal unreadable or damaged
"""


def add_parser(commands: options.Commands) -> argparse.ArgumentParser:
    """Add ``turkbatch status`` to the command line."""
    p = options.subcommand(
        commands,
        "status",
        help="where a running or finished job stands, from its journal",
        description="Show a journal's job, its last run (running; finished, interrupted or "
        "stopped early; or crashed without closing the journal), its API calls by "
        "operation (done, already done, reconciled, counted, failed, in doubt), the job's "
        "calls against them as turkbatch plan counts them, and bonuses paid. Safe while "
        "the job runs: the journal is only read.",
        epilog=EXAMPLES,
    )
    p.add_argument("journal", type=Path, help="the journal file")
    options.connection_options(p, suppress=True)
    options.output_options(p, suppress=True)
    p.set_defaults(handler=command)
    return p


def command(args: argparse.Namespace) -> int:
    """``turkbatch status JOURNAL``: where the journal's job stands."""
    from turkbatch.status import status as read_status

    inputs.check_journal(args.journal)
    result = read_status(args.journal)
    if args.output == "json":
        render.print_json(result.as_dict())
    else:
        print(result.render())
    return 0
