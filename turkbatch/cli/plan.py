"""
``turkbatch plan JOB``: what running a job would do and cost, sending nothing that
changes state.
"""

from __future__ import annotations

import argparse
from functools import partial

import anyio

from turkbatch import engine, inputs, logs
from turkbatch.cli import options, render

__all__ = ["add_parser", "command"]

EXAMPLES = """\
examples:
  turkbatch plan payouts.jsonl --sim               totals, balance, IAM actions, warnings
  turkbatch plan payouts.jsonl --offline           send nothing at all (no balance)
  turkbatch plan payouts.jsonl --output json | jq .to_spend.total
Nothing that changes state is sent: the job is validated, its journal read (a run may be
using it), and the balance looked up with GetAccountBalance.
exit codes: 0 planned (warnings included), 2 invalid job or usage, 3 damaged journal
"""


def add_parser(commands: options.Commands) -> argparse.ArgumentParser:
    """Add ``turkbatch plan`` to the command line."""
    p = options.subcommand(
        commands,
        "plan",
        help="show what a job will do and cost, sending nothing that changes state",
        description="Validate a job and show what running it would do: operations by type, "
        "what the journal has done already, bonuses with MTurk's fees, the balance and "
        "whether it covers them, the IAM actions needed, and warnings.",
        epilog=EXAMPLES,
    )
    p.add_argument("job", help="the JSONL job file")
    options.endpoint_options(p)
    p.add_argument(
        "--offline", action="store_true", help="send nothing at all (the balance is not shown)"
    )
    options.connection_options(p, suppress=True)
    options.guard_options(p)
    options.journal_option(p)
    p.add_argument(
        "--retry-failed", action="store_true", help="plan as a run with --retry-failed would"
    )
    options.output_options(p, suppress=True)
    p.set_defaults(handler=command, invalid_job=options.INVALID_NOTHING_SENT)
    return p


def command(args: argparse.Namespace) -> int:
    """``turkbatch plan JOB``: print what running the job would do and cost."""
    inputs.check_job(args.job)
    if args.journal is not None:
        inputs.check_journal(args.journal, may_be_missing=True)
    logs.configure(level="debug" if args.debug else "warning")
    settings = engine.Settings(
        client=options.client_settings(args),
        journal=args.journal,
        max_bonus=args.max_bonus,
        retry_failed=args.retry_failed,
    )
    result = anyio.run(partial(engine.plan, args.job, settings, sim=args.sim, offline=args.offline))
    if args.sim and result.endpoint:
        result.endpoint = "the embedded simulator"
    if args.output == "json":
        render.print_json(result.as_dict(max_spend=args.max_spend))
    else:
        print(render.plan_text(result, max_spend=args.max_spend))
    return 0
