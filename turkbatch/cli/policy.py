"""``turkbatch policy JOB``: the least-privilege IAM policy a job needs."""

from __future__ import annotations

import argparse
import sys

from turkbatch import expand, inputs, jobs
from turkbatch import plan as planning
from turkbatch import policy as iam
from turkbatch.cli import options, render

__all__ = ["add_parser", "command"]

EXAMPLES = """\
examples:
  turkbatch policy payouts.jsonl > policy.json
  aws iam put-user-policy --user-name lab-payer --policy-name turkbatch \\
      --policy-document file://policy.json
  turkbatch policy payouts.jsonl --verify          only what turkbatch verify reads
exit codes: 0 printed, 2 invalid job
"""


def add_parser(commands: options.Commands) -> argparse.ArgumentParser:
    """Add ``turkbatch policy`` to the command line."""
    p = options.subcommand(
        commands,
        "policy",
        help="print the least-privilege IAM policy a job needs",
        description="Print the IAM policy (mechanicalturk: actions on Resource '*': MTurk has "
        "no resource-level permissions) allowing the job's operations and the read-only "
        "calls turkbatch makes for it (balance check, bonus lookups, review checks).",
        epilog=EXAMPLES,
    )
    p.add_argument("job", help="the JSONL job file")
    p.add_argument(
        "--verify",
        action="store_true",
        help="the policy turkbatch verify JOB needs instead: only its read calls",
    )
    options.connection_options(p, suppress=True)
    options.output_options(p, suppress=True)
    p.set_defaults(handler=command)
    return p


def command(args: argparse.Namespace) -> int:
    """``turkbatch policy JOB``: the least-privilege IAM policy the job needs."""
    inputs.check_job(args.job)
    jobs.check_job(args.job)
    survey = planning.survey(
        args.job,
        jobs.read_job(args.job, checked=True),
        details=False,
        expand=expand.plan_expansion,
    )
    actions = iam.for_verify(survey.by_op) if args.verify else survey.iam
    if not actions:
        print("turkbatch: verify makes no MTurk call for this job", file=sys.stderr)
        return 0
    render.print_json(iam.document(actions))  # a policy document is JSON whatever --output says
    return 0
