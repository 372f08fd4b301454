"""
The commands besides ``run``: each turns parsed arguments into output and an exit code.

``plan`` (what a job would do and cost), ``status`` and ``report`` (read a journal),
``policy`` (the IAM policy a job needs) and ``skeleton`` (a sample job line). None of
them sends anything that changes state; errors propagate to :func:`turkbatch.cli.main`,
which maps them to exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

import anyio

from turkbatch import engine, expand, inputs, jobs, logs, options, plan_text
from turkbatch import plan as planning
from turkbatch import policy as iam
from turkbatch.catalog import OPERATIONS
from turkbatch.errors import UsageError

__all__ = ["plan", "policy", "register", "report", "skeleton", "status"]

PLAN_EXAMPLES = """\
examples:
  turkbatch plan payouts.jsonl --sim               totals, balance, IAM actions, warnings
  turkbatch plan payouts.jsonl --offline           send nothing at all (no balance)
  turkbatch plan payouts.jsonl --output json | jq .to_spend.total
Nothing that changes state is sent: the job is validated, its journal read (a run may be
using it), and the balance looked up with GetAccountBalance.
exit codes: 0 planned (warnings included), 2 invalid job or usage, 3 damaged journal
"""
STATUS_EXAMPLES = """\
examples:
  turkbatch status payouts.journal.jsonl           while the job runs, or after
  watch -n 5 turkbatch status payouts.journal.jsonl
  turkbatch status payouts.journal.jsonl --output json
exit codes: 0 shown, 2 no such journal, 3 journal unreadable or damaged
"""
REPORT_EXAMPLES = """\
examples:
  turkbatch report payouts.journal.jsonl > payouts-paid.csv
  turkbatch report payouts.journal.jsonl --format json
  turkbatch report old.journal.jsonl --job archive/payouts.jsonl     the job file moved
Outcomes: done, already (MTurk had it done already), reconciled (found paid by lookup),
failed, in_doubt (sent, no answer recorded: run again to settle), not_run.
exit codes: 0 written, 2 no such journal, 3 journal unreadable or damaged
"""
POLICY_EXAMPLES = """\
examples:
  turkbatch policy payouts.jsonl > policy.json
  aws iam put-user-policy --user-name lab-payer --policy-name turkbatch \\
      --policy-document file://policy.json
  turkbatch policy payouts.jsonl --verify          only what turkbatch verify reads
exit codes: 0 printed, 2 invalid job
"""
SKELETON_EXAMPLES = """\
examples:
  turkbatch skeleton SendBonus >> payouts.jsonl    then edit the values
  turkbatch skeleton CreateHIT --required-only
  turkbatch skeleton                               list every operation
exit codes: 0 printed, 2 unknown operation
"""


def _add_plan(commands: options.Commands) -> argparse.ArgumentParser:
    p = options.subcommand(
        commands,
        "plan",
        help="show what a job will do and cost, sending nothing that changes state",
        description="Validate a job and show what running it would do: operations by type, "
        "what the journal has done already, bonuses with MTurk's fees, the balance and "
        "whether it covers them, the IAM actions needed, and warnings.",
        epilog=PLAN_EXAMPLES,
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
    return p


def _add_status(commands: options.Commands) -> argparse.ArgumentParser:
    p = options.subcommand(
        commands,
        "status",
        help="where a running or finished job stands, from its journal",
        description="Show a journal's job, its last run (running, finished, or stopped "
        "without closing), done/failed/in-doubt counts and bonuses paid. Safe while the "
        "job runs: the journal is only read.",
        epilog=STATUS_EXAMPLES,
    )
    p.add_argument("journal", type=Path, help="the journal file")
    options.connection_options(p, suppress=True)
    options.output_options(p, suppress=True)
    return p


def _add_report(commands: options.Commands) -> argparse.ArgumentParser:
    p = options.subcommand(
        commands,
        "report",
        help="one row per operation (per worker for messages): the payment record",
        description="Write one row per operation of a journal's job (one per worker for "
        "NotifyWorkers): outcome, error, request id, token and time, with the bonus's "
        "worker, assignment, amount, MTurk's fee and reason.",
        epilog=REPORT_EXAMPLES,
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
    return p


def _add_policy(commands: options.Commands) -> argparse.ArgumentParser:
    p = options.subcommand(
        commands,
        "policy",
        help="print the least-privilege IAM policy a job needs",
        description="Print the IAM policy (mechanicalturk: actions on Resource '*': MTurk has "
        "no resource-level permissions) allowing the job's operations and the read-only "
        "calls turkbatch makes for it (balance check, bonus lookups, review checks).",
        epilog=POLICY_EXAMPLES,
    )
    p.add_argument("job", help="the JSONL job file")
    p.add_argument(
        "--verify",
        action="store_true",
        help="the policy turkbatch verify JOB needs instead: only its read calls",
    )
    options.connection_options(p, suppress=True)
    options.output_options(p, suppress=True)
    return p


def _add_skeleton(commands: options.Commands) -> argparse.ArgumentParser:
    p = options.subcommand(
        commands,
        "skeleton",
        help="print a sample job line for an operation, with every parameter",
        description="Print a job line for OPERATION with a placeholder for every parameter "
        "(required first), valid as it stands, like the AWS CLI's --generate-cli-skeleton. "
        "UniqueRequestToken is left out: turkbatch fills it in.",
        epilog=SKELETON_EXAMPLES,
    )
    p.add_argument("operation", nargs="?", help="e.g. SendBonus; leave out to list them all")
    p.add_argument("--required-only", action="store_true", help="only required parameters")
    options.connection_options(p, suppress=True)
    options.output_options(p, suppress=True)
    return p


def register(commands: options.Commands) -> None:
    """Add the parsers of ``plan``, ``status``, ``report``, ``policy`` and ``skeleton``."""
    adders = (_add_plan, _add_status, _add_report, _add_policy, _add_skeleton)
    handlers = (plan, status, report, policy, skeleton)
    for add, handler in zip(adders, handlers, strict=True):
        add(commands).set_defaults(handler=handler)


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2))


def plan(args: argparse.Namespace) -> int:
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
        _print_json(result.as_dict(max_spend=args.max_spend))
    else:
        print(plan_text.render(result, max_spend=args.max_spend))
    return 0


def status(args: argparse.Namespace) -> int:
    """``turkbatch status JOURNAL``: where the journal's job stands."""
    from turkbatch.status import status as read_status

    inputs.check_journal(args.journal)
    result = read_status(args.journal)
    if args.output == "json":
        _print_json(result.as_dict())
    else:
        print(result.render())
    return 0


def report(args: argparse.Namespace) -> int:
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


def policy(args: argparse.Namespace) -> int:
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
    _print_json(iam.document(actions))  # a policy document is JSON whatever --output says
    return 0


def skeleton(args: argparse.Namespace) -> int:
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
        _print_json(line)
        return 0
    needs = ", ".join(required_members(args.operation)) or "none"
    token = "; turkbatch fills in UniqueRequestToken" if args.operation in TOKEN_OPERATIONS else ""
    print(f"# {args.operation}: required: {needs}. Edit the values, delete the rest{token}.")
    print(json.dumps(line, ensure_ascii=False))
    return 0
