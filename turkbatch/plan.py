"""
What a job will do and cost, worked out before anything is sent.

:func:`survey` makes one streaming pass over a validated job and, given its journal's
state, counts operations and calls by type, what is already done, what a run would send,
the money it would move (bonuses and HIT rewards, each with MTurk's fees), the bonuses
above the typo guard, and (with ``details``) the warnings a careful requester wants:
an assignment bonused on several lines, a worker messaged more than once. ``turkbatch
plan`` prints the result (:mod:`turkbatch.cli.render`, :meth:`Plan.as_dict`), and
``run``'s pre-flight guards use :meth:`Plan.refusals` on the same numbers.

Bulk expansions (one line becoming many calls) plug in through ``expand``: a hook that
says how many calls a line becomes, or ``None`` when only a read-only List call can tell
(for example every Submitted assignment of a HIT). Until then every line is one call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final

from turkbatch import jobs, money, policy
from turkbatch.catalog import BONUS_AMOUNTS, MONEY_OPERATIONS, PAYMENT_OPERATIONS, RECIPIENT_LIMITS
from turkbatch.journal import JournalState
from turkbatch.keyset import KeyMap
from turkbatch.ledger import Decision, occurrence
from turkbatch.ledger import pid_of_key as ledger_pid
from turkbatch.money import Spend, usd
from turkbatch.wording import counted

__all__ = [
    "DEFAULT_MAX_BONUS",
    "Expander",
    "Expansion",
    "Finding",
    "OpPlan",
    "Plan",
    "price",
    "single_call",
    "spend_text",
    "survey",
]

#: The typo guard: a bonus above this is refused by ``run`` unless the limit is raised
#: (TurkServer refuses a single bonus over $10, nodegame-mturk's ``maxBonus`` is $10).
DEFAULT_MAX_BONUS: Final = Decimal("10.00")
#: Findings of one kind kept in full; the rest are only counted.
MAX_SHOWN: Final = 20


@dataclass(frozen=True, slots=True)
class Expansion:
    """
    How many API calls one job line becomes.

    Attributes:
        calls: the number of calls, or ``None`` when only listing can tell.
        listing: the read-only List operation that finds the items, if any.
        children: the journal keys of a bulk line's calls, when the line says them (each
            counted done, failed, in doubt or to send on its own).
    """

    calls: int | None
    listing: str | None = None
    children: Callable[[], Iterable[str]] | None = None


Expander = Callable[[jobs.Operation], Expansion]
"""Say how many calls a line becomes (the bulk-expansion hook)."""

_SINGLE: Final = Expansion(calls=1)


def single_call(op: jobs.Operation) -> Expansion:
    """
    The expansion of a job without listed bulk forms: every line is one call, but a
    NotifyWorkers line is one call per 100 workers (its catalogued recipient limit).
    """
    limited = RECIPIENT_LIMITS.get(op.op)
    if limited is not None:
        param, limit = limited
        workers = len(op.params.get(param) or ())
        return Expansion(calls=max(1, -(-workers // limit)))
    return _SINGLE


def price(op: jobs.Operation) -> Decimal | None:
    """Return what one operation costs the account with fees, ``None`` if the job can't say."""
    spend = Spend()
    _charge(spend, op)
    return None if spend.unknown else spend.total


def _charge(spend: Spend, op: jobs.Operation) -> None:
    """Add what an operation costs to ``spend``."""
    spend.charge(op.op, op.params, _amount)


@dataclass(slots=True)
class OpPlan:
    """
    One operation's lines in a plan.

    Attributes:
        lines: job lines naming it.
        calls: the calls those lines become, where known (for a line listed at run time:
            the calls the journal holds for it so far).
        expanding: lines whose calls are known only once listed at run time.
        done: calls the journal records as done (a run skips them).
        failed: calls that failed in an earlier run (skipped unless ``--retry-failed``).
        in_doubt: calls sent by a run that stopped before hearing back.
        to_send: calls a run would send now (in-doubt ones are looked up first); a line
            listed at run time adds what its listing finds then.
        recipients: worker ids named, for NotifyWorkers.
    """

    lines: int = 0
    calls: int = 0
    expanding: int = 0
    done: int = 0
    failed: int = 0
    in_doubt: int = 0
    to_send: int = 0
    recipients: int = 0


@dataclass(frozen=True, slots=True)
class Finding:
    """One warning about a job: its kind, what to tell the user, and the lines involved."""

    kind: str
    message: str
    lines: tuple[int, ...] = ()


@dataclass(slots=True, kw_only=True)
class Plan:
    """
    What a job will do and cost. Amounts are in USD.

    Attributes:
        job: the job file.
        journal: its journal's path; ``journal_found`` says whether it exists yet.
        max_bonus: the typo guard in force, ``None`` for none.
        operations: the job's operations (lines); ``barriers``: its barrier lines.
        by_op: per operation name, sorted.
        job_spend: everything the job moves, done or not.
        spend: what a run would move now (lines not done yet).
        over_limit: ``(line, amount)`` of bonuses to send above ``max_bonus`` (the first
            :data:`MAX_SHOWN`); ``over_limit_count``: all of them.
        findings: warnings (the first :data:`MAX_SHOWN` of each kind); ``counts``: how
            many of each kind there were.
        listings: the read-only List operations bulk expansions call.
        job_changed: the journal's last run ran a different version of the job.
        balance: the account's available balance, once looked up; ``balance_error`` says
            why it could not be.
        endpoint: where the balance was looked up.
        conflicts: why ``run`` would refuse bonus lines edited after their worker and
            assignment were paid (:func:`turkbatch.payments.refusal`); empty when none, or
            when ``--edited-payments`` settles them.
    """

    job: str
    journal: str | None = None
    journal_found: bool = False
    max_bonus: Decimal | None = DEFAULT_MAX_BONUS
    operations: int = 0
    barriers: int = 0
    by_op: dict[str, OpPlan] = field(default_factory=dict)
    job_spend: Spend = field(default_factory=Spend)
    spend: Spend = field(default_factory=Spend)
    over_limit: list[tuple[int, Decimal]] = field(default_factory=list)
    over_limit_count: int = 0
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    listings: set[str] = field(default_factory=set)
    job_changed: bool = False
    balance: Decimal | None = None
    balance_error: str | None = None
    endpoint: str | None = None
    conflicts: list[str] = field(default_factory=list)

    def total(self) -> OpPlan:
        """Return the sums over every operation."""
        t = OpPlan()
        for p in self.by_op.values():
            for name in OpPlan.__slots__:
                setattr(t, name, getattr(t, name) + getattr(p, name))
        return t

    @property
    def iam(self) -> dict[str, str]:
        """Every IAM action the job needs, with why."""
        return policy.needed(self.by_op, listings=self.listings)

    def find(self, kind: str, message: str, lines: Iterable[int] = ()) -> None:
        """Record a finding (kept in full for the first :data:`MAX_SHOWN` of its kind)."""
        count = self.counts[kind] = self.counts.get(kind, 0) + 1
        if count <= MAX_SHOWN:
            self.findings.append(Finding(kind, message, tuple(lines)))

    def refusals(self, *, max_spend: Decimal | None = None) -> list[str]:
        """
        Return why ``run`` must not start (empty when it may): the typo guard, the spend
        cap, and the balance once looked up.
        """
        out: list[str] = list(self.conflicts)
        if self.over_limit_count and self.max_bonus is not None:
            shown = ", ".join(f"line {n} ({usd(a)})" for n, a in self.over_limit[:3])
            more = "" if self.over_limit_count <= 3 else f" and {self.over_limit_count - 3} more"
            out.append(
                f"{counted(self.over_limit_count, 'bonus')} above the {usd(self.max_bonus)} typo "
                f"guard: {shown}{more}; if they are right, raise the limit with "
                "--max-bonus AMOUNT"
            )
        if max_spend is not None and self.spend.unknown:
            out.append(
                f"--max-spend cannot be kept: {counted(self.spend.unknown, 'line')} create HITs "
                "or assignments whose reward the job does not state (it is the HIT type's)"
            )
        elif max_spend is not None and self.spend.total > max_spend:
            out.append(
                f"this run would spend {usd(self.spend.total)} ({spend_text(self.spend)}), "
                f"more than --max-spend {usd(max_spend)}"
            )
        if self.balance is not None and self.balance < self.spend.total:
            out.append(
                f"the available balance {usd(self.balance)} does not cover the "
                f"{usd(self.spend.total)} this run would spend ({spend_text(self.spend)}); "
                "add funds (or --no-balance-check if you know better)"
            )
        return out

    def as_dict(self, *, max_spend: Decimal | None = None) -> dict[str, Any]:
        """Return the plan as a JSON-ready record (amounts as strings)."""
        return {
            "job": self.job,
            "journal": self.journal,
            "journal_found": self.journal_found,
            "job_changed": self.job_changed,
            "operations": self.operations,
            "barriers": self.barriers,
            "by_op": {op: _op_dict(p) for op, p in self.by_op.items()},
            "total": _op_dict(self.total()),
            "job_spend": self.job_spend.as_dict(),
            "to_spend": self.spend.as_dict(),
            "max_bonus": None if self.max_bonus is None else f"{self.max_bonus:.2f}",
            "max_spend": None if max_spend is None else f"{max_spend:.2f}",
            "balance": None if self.balance is None else f"{self.balance:.2f}",
            "balance_error": self.balance_error,
            "endpoint": self.endpoint,
            "covered": None if self.balance is None else self.balance >= self.spend.total,
            "iam_actions": list(self.iam),
            "warnings": [
                {"kind": f.kind, "message": f.message, "lines": list(f.lines)}
                for f in self.findings
            ],
            "warning_counts": dict(self.counts),
            "refusals": self.refusals(max_spend=max_spend),
        }


def _op_dict(p: OpPlan) -> dict[str, int]:
    return {name: getattr(p, name) for name in OpPlan.__slots__}


def spend_text(spend: Spend) -> str:
    """Return ``bonuses $X + HIT rewards $Y + fees $Z`` (the parts there are)."""
    parts = []
    if spend.bonuses:
        parts.append(f"bonuses {usd(spend.bonus)}")
    if spend.hits:
        parts.append(f"HIT rewards {usd(spend.rewards)}")
    parts.append(f"fees {usd(spend.fees)}")
    return " + ".join(parts)


class _Repeats:
    """
    Where each name (an assignment, a worker) was seen: in full for names seen more than
    once, only the first sighting of the others, in a :class:`~turkbatch.keyset.KeyMap`
    (a dict of a million names and their first sightings would cost ~130 MB).
    """

    def __init__(self) -> None:
        self.first = KeyMap()  # name → "<line> <text>" of its first sighting
        self.more: dict[str, list[tuple[int, str]]] = {}  # name → (line, text), all of them

    def add(self, name: str, line: int, text: str = "") -> None:
        """Record a sighting of ``name`` on ``line``, with ``text`` (an amount) if any."""
        if self.first.add(name, f"{line} {text}"):
            return
        sightings = self.more.get(name)
        if sightings is None:
            first = self.first.get(name)
            assert first is not None, "a name add() refused is there"
            first_line, _, first_text = first.partition(" ")
            sightings = self.more[name] = [(int(first_line), first_text)]
        sightings.append((line, text))


@functools.lru_cache(maxsize=4096)
def _amount(text: str) -> Decimal:
    """Parse a BonusAmount (jobs repeat a few amounts: parse each once)."""
    return money.parse(text)


class _Bonuses:
    """Bonus amounts counted by their text, then priced in bulk (a fee per payment)."""

    def __init__(self, spend: Spend) -> None:
        self.spend = spend
        self.counts: dict[str, int] = {}

    def add(self, text: str) -> None:
        counts = self.counts
        counts[text] = counts.get(text, 0) + 1
        if len(counts) > 4096:
            self.flush()

    def flush(self) -> None:
        for text, n in self.counts.items():
            self.spend.add_bonus(_amount(text), n)
        self.counts.clear()


def survey(
    job: str,
    operations: Iterable[jobs.Operation | jobs.Barrier],
    *,
    state: JournalState | None = None,
    journal: str | None = None,
    digest: str | None = None,
    max_bonus: Decimal | None = DEFAULT_MAX_BONUS,
    retry_failed: bool = False,
    details: bool = True,
    expand: Expander = single_call,
) -> Plan:
    """
    Work out what a validated job will do and cost; nothing is sent.

    Args:
        job: the job's name, for messages.
        operations: the job, streamed (:func:`turkbatch.jobs.read_job`).
        state: its journal's state, when it has one (``Journal.read``: no lock needed).
        journal: the journal's path, for messages.
        digest: the job's digest (``JobStats.digest``), to tell whether it changed since
            the journal's last run.
        max_bonus: the typo guard; ``None`` for none.
        retry_failed: a run would send again what failed earlier.
        details: also look for repeated assignments and recipients (memory grows with the
            job; ``run``'s pre-flight leaves it off).
        expand: the bulk-expansion hook.
    """
    plan = Plan(job=job, journal=journal, journal_found=state is not None, max_bonus=max_bonus)
    done: Collection[str] = state.done if state else ()
    job_bonuses, bonuses = _Bonuses(plan.job_spend), _Bonuses(plan.spend)
    bonused, messaged = _Repeats(), _Repeats()
    for item in operations:
        if isinstance(item, jobs.Barrier):
            plan.barriers += 1
            continue
        op, key = item.op, item.key
        p = plan.by_op.get(op) or plan.by_op.setdefault(op, OpPlan())
        p.lines += 1
        calls = expand(item)
        if calls.listing:
            plan.listings.add(calls.listing)
        if item.bulk is not None and key not in done:  # (done whole by turkbatch 0.1: done)
            _count_bulk(p, item, calls, state, retry_failed)
            sending = False  # (a bulk line moves no money until its calls are listed)
        else:
            p.calls += 1
            sending = _count_call(p, item, state, retry_failed)
        amount = BONUS_AMOUNTS.get(op)
        if amount is not None and item.bulk is None:  # (a bonus by HIT: priced once listed)
            text = item.params[amount]
            job_bonuses.add(text)
            if sending:
                bonuses.add(text)
                if max_bonus is not None and _amount(text) > max_bonus:
                    plan.over_limit_count += 1
                    if len(plan.over_limit) < MAX_SHOWN:
                        plan.over_limit.append((item.line, _amount(text)))
            if details:
                bonused.add(str(item.params["AssignmentId"]), item.line, text)
        elif amount is None and op in MONEY_OPERATIONS:  # HIT rewards (cost maybe unknown)
            _charge(plan.job_spend, item)
            if sending:
                _charge(plan.spend, item)
        elif (limited := RECIPIENT_LIMITS.get(op)) is not None:
            workers = item.params.get(limited[0]) or ()
            p.recipients += len(workers)
            if details:
                for worker in workers:
                    messaged.add(str(worker), item.line)
    job_bonuses.flush()
    bonuses.flush()
    plan.by_op = dict(sorted(plan.by_op.items()))
    plan.operations = sum(p.lines for p in plan.by_op.values())
    plan.job_changed = bool(state and state.last_job and digest and state.last_job != digest)
    _find(plan, bonused, messaged)
    return plan


def _count_call(
    p: OpPlan, item: jobs.Operation, state: JournalState | None, retry_failed: bool
) -> bool:
    """Count one call by what the journal says of it; return whether a run would send it."""
    key = item.key
    pid = ledger_pid(key) if item.op in PAYMENT_OPERATIONS and state else None
    if pid is not None and state is not None:  # a bonus: by the ledger, by what it pays
        decision = state.ledger.decide(pid, occurrence(key))
        p.done += decision is Decision.PAID
        p.failed += decision is Decision.FAILED
        p.in_doubt += decision is Decision.SEND and key in state.in_doubt
        sending = decision is Decision.SEND or (decision is Decision.FAILED and retry_failed)
    elif state is None:
        sending = True
    elif key in state.done:
        p.done += 1
        sending = False
    elif key in state.failed:
        p.failed += 1
        sending = retry_failed
    else:
        p.in_doubt += key in state.in_doubt
        sending = True
    p.to_send += sending
    return sending


def _count_bulk(
    p: OpPlan,
    item: jobs.Operation,
    calls: Expansion,
    state: JournalState | None,
    retry_failed: bool,
) -> None:
    """Count a bulk line's calls: each by its own key, or, listed, those the journal holds."""
    if calls.children is not None:
        for key in calls.children():
            p.calls += 1
            _count_call(p, replace(item, key=key, bulk=None), state, retry_failed)
        return
    if calls.calls is not None:  # (a hook that counts without keys: all to send)
        p.calls += calls.calls
        p.to_send += calls.calls
        return
    p.expanding += 1
    detail = state.detail if state is not None else None
    if detail is not None and item.op in PAYMENT_OPERATIONS:  # by HIT: its payments
        for key in detail.hit_payments(item.params):
            p.calls += 1
            _count_call(p, replace(item, key=key, bulk=None), state, retry_failed)
        return
    tally = detail.by_line.get(item.key) if detail is not None else None
    if tally is None:
        return
    p.calls += tally.finished + tally.failed + tally.in_doubt
    p.done += tally.finished
    p.failed += tally.failed
    p.in_doubt += tally.in_doubt
    p.to_send += tally.in_doubt + (tally.failed if retry_failed else 0)


def _find(plan: Plan, bonused: _Repeats, messaged: _Repeats) -> None:
    """Turn what a survey counted into findings, most important first."""
    for line, amount in plan.over_limit:
        plan.find(
            "over_limit",
            f"line {line}: bonus {usd(amount)} is above the "
            f"{usd(plan.max_bonus or money.ZERO)} typo guard (run refuses it; --max-bonus "
            "raises the limit)",
            [line],
        )
    if plan.over_limit_count:
        plan.counts["over_limit"] = plan.over_limit_count
    for assignment, paid in bonused.more.items():
        each = ", ".join(f"line {n} ({usd(_amount(a))})" for n, a in paid)
        plan.find(
            "duplicate_bonus",
            f"assignment {assignment} is bonused on {len(paid)} lines: {each}",
            [n for n, _ in paid],
        )
    for worker, sightings in messaged.more.items():
        lines = [n for n, _ in sightings]
        where = ", ".join(map(str, lines))
        plan.find(
            "messaged_twice",
            f"worker {worker} is messaged {len(lines)} times (lines {where})",
            lines,
        )
    t = plan.total()
    journal = plan.journal or "the journal"
    if t.done:
        plan.find(
            "already_done",
            f"{counted(t.done, 'operation')} already done according to {journal}: a run skips them",
        )
    if t.failed:
        plan.find(
            "failed_earlier",
            f"{counted(t.failed, 'operation')} failed in an earlier run: a run skips them unless "
            "--retry-failed",
        )
    if t.in_doubt:
        plan.find(
            "in_doubt",
            f"{counted(t.in_doubt, 'operation')} sent by a run that stopped before hearing back: "
            "bonuses are looked up (ListBonusPayments) before anything is sent again",
        )
    if plan.job_changed:
        plan.find(
            "job_changed",
            "the job changed since the journal's last run: unchanged lines are skipped, "
            "new lines run, removed lines are not run",
        )
    if plan.job_spend.unknown:
        plan.find(
            "unknown_cost",
            f"{counted(plan.job_spend.unknown, 'line')} create HITs or assignments at the "
            "reward of their HIT type, which the job does not state: not in the totals",
        )
    if t.expanding:
        listed = ", ".join(sorted(plan.listings)) or "a List operation"
        plan.find(
            "expansion",
            f"{counted(t.expanding, 'line')} "
            f"{'expands' if t.expanding == 1 else 'expand'} into calls found at run time with "
            f"{listed}: counted as lines, not calls",
        )
