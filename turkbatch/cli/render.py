"""
What the commands print, besides their own tables: a plan for people (the text
``turkbatch plan`` prints, and the totals the production prompt shows before asking),
JSON on standard output, and what to do when its reader goes away.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from decimal import Decimal

from turkbatch.money import usd
from turkbatch.plan import MAX_SHOWN, OpPlan, Plan, spend_text
from turkbatch.summary import table
from turkbatch.wording import counted

__all__ = ["confirmation", "plan_text", "print_json", "reader_gone"]


def print_json(value: object) -> None:
    """Print ``value`` as indented JSON on standard output."""
    print(json.dumps(value, indent=2))


def reader_gone() -> None:
    """
    Point standard output at /dev/null: its reader went away (``| head``) with what it
    wanted, and the interpreter's last flush should not complain either.
    """
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def plan_text(plan: Plan, *, max_spend: Decimal | None = None) -> str:
    """Return a plan for people: operations, money, balance, IAM actions, warnings."""
    journal = "none yet" if not plan.journal_found else "found"
    out = [f"plan for {plan.job} (journal {plan.journal}: {journal})", ""]
    header = ("operation", "lines", "calls", "done", "failed", "in doubt", "to send")
    rows = [(op, *_row(p)) for op, p in plan.by_op.items()]
    out += table(header, rows, ("total", *_row(plan.total())))
    for op, p in plan.by_op.items():
        if p.recipients:
            out.append(f"{op}: {counted(p.recipients, 'worker id')} named")
    s, job = plan.spend, plan.job_spend
    out += ["", f"to spend now: {usd(s.total)}"]
    if s.bonuses:
        out.append(
            f"  {counted(s.bonuses, 'bonus')} {usd(s.bonus)} + MTurk fees {usd(s.bonus_fees)} "
            "(20% each, at least $0.01)"
        )
    if s.hits:
        out.append(
            f"  {counted(s.hits, 'HIT')}: rewards {usd(s.rewards)} + fees {usd(s.reward_fees)}"
        )
    if job.total != s.total:
        out.append(f"  whole job, done or not: {usd(job.total)} ({spend_text(job)})")
    guard = "off" if plan.max_bonus is None else f"bonuses above {usd(plan.max_bonus)} refused"
    out.append(f"typo guard: {guard}")
    if max_spend is not None:
        out.append(f"spend cap (--max-spend): {usd(max_spend)}")
    out.append(_balance_line(plan))
    out += ["", "IAM actions needed (turkbatch policy JOB prints the policy):"]
    width = max((len(a) for a in plan.iam), default=0)
    out += [f"  {action.ljust(width)}  {why}" for action, why in plan.iam.items()]
    if plan.findings:
        out += ["", f"warnings ({sum(plan.counts.values())}):"]
        out += [f"  {f.message}" for f in plan.findings]
        out += [
            f"  ... and {counted(n - MAX_SHOWN, f'more {kind} warning')}"
            for kind, n in plan.counts.items()
            if n > MAX_SHOWN
        ]
    refusals = plan.refusals(max_spend=max_spend)
    out.append("")
    if refusals:
        out.append("run would refuse to start:")
        out += [f"  - {r}" for r in refusals]
    else:
        t = plan.total()
        if not t.to_send:
            out.append("nothing to send: the journal records every call as done or failed")
        else:
            out.append(f"run would send {counted(t.to_send, 'call')}")
        if t.expanding:
            out.append(
                f"  and whatever {counted(t.expanding, 'line')} by HIT or qualification type "
                "find listed then (calls listed so far are counted above)"
            )
    return "\n".join(out)


def _row(p: OpPlan) -> tuple[object, ...]:
    calls = f"{p.calls}+?" if p.expanding else p.calls
    return (p.lines, calls, p.done, p.failed, p.in_doubt, p.to_send)


def _balance_line(plan: Plan) -> str:
    if plan.balance is None:
        why = plan.balance_error or "not looked up"
        return f"balance: unknown ({why})"
    where = f" at {plan.endpoint}" if plan.endpoint else ""
    left = plan.balance - plan.spend.total
    if left >= 0:
        return f"balance: {usd(plan.balance)}{where}: covers it ({usd(left)} left after)"
    return f"balance: {usd(plan.balance)}{where}: does NOT cover it ({usd(-left)} short)"


def confirmation(plan: Plan, endpoint: str) -> str:
    """Return what the production prompt shows before asking: the plan's totals."""
    t = plan.total()
    lines = [
        f"About to run {plan.job} against the PRODUCTION endpoint {endpoint}: real money.",
        f"  calls:      {t.calls} in the job ({plan.operations} lines), {t.to_send} to send "
        f"({t.done} already done)",
        f"  to spend:   {usd(plan.spend.total)} ({spend_text(plan.spend)})",
        "  " + _balance_line(plan),
    ]
    if plan.spend.unknown:
        lines.append(f"  plus {counted(plan.spend.unknown, 'line')} at their HIT type's reward")
    return "\n".join(lines)
