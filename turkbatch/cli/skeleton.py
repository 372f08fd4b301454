"""``turkbatch skeleton [OPERATION]``: a sample job line for an operation, or every name."""

from __future__ import annotations

import argparse
import json

from turkbatch.catalog import OPERATIONS
from turkbatch.cli import options, render
from turkbatch.errors import UsageError

__all__ = ["add_parser", "command"]

EXAMPLES = """\
examples:
  turkbatch skeleton SendBonus >> payouts.jsonl    then edit the values
  turkbatch skeleton CreateHIT --required-only
  turkbatch skeleton                               list every operation
exit codes: 0 printed, 2 unknown operation
"""


def add_parser(commands: options.Commands) -> argparse.ArgumentParser:
    """Add ``turkbatch skeleton`` to the command line."""
    p = options.subcommand(
        commands,
        "skeleton",
        help="print a sample job line for an operation, with every parameter",
        description="Print a job line for OPERATION with a placeholder for every parameter "
        "(required first), valid as it stands, like the AWS CLI's --generate-cli-skeleton. "
        "UniqueRequestToken is left out: turkbatch fills it in.",
        epilog=EXAMPLES,
    )
    p.add_argument("operation", nargs="?", help="e.g. SendBonus; leave out to list them all")
    p.add_argument("--required-only", action="store_true", help="only required parameters")
    options.connection_options(p, suppress=True)
    options.output_options(p, suppress=True)
    p.set_defaults(handler=command)
    return p


def command(args: argparse.Namespace) -> int:
    """``turkbatch skeleton [OPERATION]``: a sample job line, or every operation's name."""
    from turkbatch.catalog import TOKEN_OPERATIONS
    from turkbatch.skeleton import UnknownOperation, required_members
    from turkbatch.skeleton import skeleton as sample

    if not args.operation:
        print("\n".join(OPERATIONS))
        return 0
    try:
        line = sample(args.operation, required_only=args.required_only)
    except UnknownOperation as exc:
        raise UsageError(str(exc)) from None
    if args.output == "json":
        render.print_json(line)
        return 0
    needs = ", ".join(required_members(args.operation)) or "none"
    token = "; turkbatch fills in UniqueRequestToken" if args.operation in TOKEN_OPERATIONS else ""
    print(f"# {args.operation}: required: {needs}. Edit the values, delete the rest{token}.")
    print(json.dumps(line, ensure_ascii=False))
    return 0
