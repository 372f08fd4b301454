"""
Where a job stands, from its journal (``turkbatch status``): safe while a run writes it.

No lock is taken (``Journal.read`` does not lock; a torn last line is ignored). The last
``run`` record names the process and the job file; an ``end`` record after it means the
run closed the journal, and otherwise the process is looked for (alive: running; gone:
stopped without closing, crashed or killed). Bonuses paid are summed from the payment
records of the intents of done keys.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from turkbatch import jobs, money
from turkbatch.errors import JobError
from turkbatch.journal import Journal, JournalState
from turkbatch.keyset import KeySet
from turkbatch.money import ZERO, usd
from turkbatch.report import iso, outcome_of, records
from turkbatch.summary import table
from turkbatch.wording import counted

__all__ = ["Status", "status"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@dataclass(slots=True)
class _Counts:
    done: int = 0
    already: int = 0
    reconciled: int = 0
    failed: int = 0
    in_doubt: int = 0
    counted: int = 0  # edited bonus lines an earlier payment counts for (nothing paid)


@dataclass(slots=True, kw_only=True)
class Status:
    """
    Where a job stands, from its journal.

    Attributes:
        state: ``running``, ``finished`` (the last run closed the journal), ``stopped``
            (it did not: crashed or killed; run again to resume) or ``never run``.
        job_operations: operations in the job file now, when it can be read.
        job_changed: the job file differs from what the last run ran.
        bonus_paid / fees: bonuses done (paid this run or found paid) and their fees,
            from the intents' payment records; ``unpriced``: done bonuses without one
            (reconciled after a lost journal).
    """

    journal: str
    job: str | None = None
    job_operations: int | None = None
    job_bulk: int = 0  # bulk lines in the job now: each becomes several calls
    job_changed: bool | None = None
    job_note: str | None = None
    runs: int = 0
    pid: int | None = None
    state: str = "never run"
    started: float | None = None
    last_activity: float | None = None
    by_op: dict[str, _Counts] = field(default_factory=dict)
    bonuses: int = 0
    bonus_paid: Decimal = ZERO
    fees: Decimal = ZERO
    unpriced: int = 0

    def total(self) -> _Counts:
        """Return the counts over every operation."""
        t = _Counts()
        for c in self.by_op.values():
            for name in _Counts.__slots__:
                setattr(t, name, getattr(t, name) + getattr(c, name))
        return t

    def as_dict(self) -> dict[str, Any]:
        """Return the status as a JSON-ready record."""
        counts = {op: {n: getattr(c, n) for n in _Counts.__slots__} for op, c in self.by_op.items()}
        t = self.total()
        return {
            "journal": self.journal,
            "job": self.job,
            "job_operations": self.job_operations,
            "job_bulk_lines": self.job_bulk,
            "job_changed": self.job_changed,
            "job_note": self.job_note,
            "runs": self.runs,
            "pid": self.pid,
            "state": self.state,
            "started": iso(self.started) or None,
            "last_activity": iso(self.last_activity) or None,
            "by_op": counts,
            "total": {n: getattr(t, n) for n in _Counts.__slots__},
            "bonuses": self.bonuses,
            "bonus_paid": f"{self.bonus_paid:.2f}",
            "fees": f"{self.fees:.2f}",
            "unpriced_bonuses": self.unpriced,
        }

    def render(self, now: float | None = None) -> str:
        """Return the status for people."""
        now = time.time() if now is None else now
        job = self.job or "unknown"
        if self.job_operations is not None:
            changed = "; changed since the last run" if self.job_changed else ""
            job += f" ({self.job_operations} operations{changed})"
        elif self.job_note:
            job += f" ({self.job_note})"
        run = self.state
        if self.pid is not None:
            run = f"pid {self.pid}, started {iso(self.started)}: {self.state}"
            if self.state == "stopped":
                run += " without closing the journal (crashed or killed); run again to resume"
        ago = "" if self.last_activity is None else f" ({now - self.last_activity:.0f}s ago)"
        lines = [
            f"journal:       {self.journal}",
            f"job:           {job}",
            f"last run:      {run}",
            f"runs:          {self.runs}",
            f"last activity: {iso(self.last_activity) or 'none'}{ago}",
            "",
        ]
        header = ("operation", "done", "already", "reconciled", "failed", "in doubt")
        rows = [(op, *_cells(c)) for op, c in sorted(self.by_op.items())]
        lines += table(header, rows, ("total", *_cells(self.total())))
        t = self.total()
        finished = t.done + t.already + t.reconciled + t.counted
        if self.job_bulk and not self.job_changed:
            # The journal counts calls, the job lines: a bulk line is many calls.
            lines.append(
                f"\n{counted(finished, 'call')} done, {t.failed} failed; the job has "
                f"{counted(self.job_bulk, 'bulk line')}, each making several calls "
                "(turkbatch plan says how many)"
            )
        elif self.job_operations is not None and not self.job_changed:
            left = self.job_operations - finished - t.failed
            lines.append(
                f"\n{finished} of {self.job_operations} done, {t.failed} failed, {left} left"
            )
        paid = (
            f"{usd(self.bonus_paid)} + fees {usd(self.fees)} = {usd(self.bonus_paid + self.fees)}"
        )
        lines.append(f"bonuses paid: {self.bonuses}, {paid}")
        if t.counted:
            lines.append(
                f"{counted(t.counted, 'edited bonus line')} counted as paid by an earlier "
                "payment (--edited-payments counted): nothing paid for them"
            )
        if self.unpriced:
            lines.append(
                f"  plus {self.unpriced} found paid by reconciliation (amounts in the job)"
            )
        return "\n".join(lines)


def _cells(c: _Counts) -> tuple[int, ...]:
    return (c.done, c.already, c.reconciled, c.failed, c.in_doubt)


def status(journal: str | os.PathLike[str]) -> Status:
    """
    Return where the job of ``journal`` stands; safe while a run is writing it.

    Raises:
        JournalError: the journal cannot be read, or is damaged before its last line.
    """
    path = os.fspath(journal)
    state = Journal.read(path)
    result = Status(journal=path, runs=len(state.runs))
    for rec in state.failed.values():
        _counts(result, rec["op"]).failed += 1
    for intent in state.in_doubt.values():
        _counts(result, intent.op).in_doubt += 1
    amounts: dict[str, Decimal] = {}
    counted = KeySet()  # done keys counted: a million in ~30 MB
    ended = False
    for _, rec in records(path):
        kind, at = rec.get("t"), rec.get("at")
        if isinstance(at, int | float):
            result.last_activity = max(result.last_activity or at, at)
        if kind == "run":
            ended = False
        elif kind == "end":
            ended = True
        elif kind == "intent" and isinstance(rec.get("p"), dict):
            amounts[rec["k"]] = money.parse(rec["p"].get("BonusAmount", "0"))
        elif kind == "done" and rec["k"] in state.done and counted.add(rec["k"]):
            c = _counts(result, rec["op"])
            outcome = outcome_of(rec)
            setattr(c, outcome, getattr(c, outcome) + 1)
            amount = amounts.pop(rec["k"], None)
            if isinstance(rec.get("p"), dict):  # found paid, or counted: no intent of its own
                amount = money.parse(rec["p"].get("BonusAmount", "0"))
            if outcome == "counted":
                continue  # paid once, under the earlier payment's key: counted there
            if amount is not None:
                result.bonuses += 1
                result.bonus_paid += amount
                result.fees += money.bonus_fee(amount)
            elif rec["op"] == "SendBonus":
                result.unpriced += 1
    _last_run(result, state, ended)
    return result


def _counts(result: Status, op: str) -> _Counts:
    return result.by_op.get(op) or result.by_op.setdefault(op, _Counts())


def _last_run(result: Status, state: JournalState, ended: bool) -> None:
    """Fill in the last run's process, whether it is still going, and its job file."""
    if not state.runs:
        return
    last = state.runs[-1]
    result.pid, result.started = last.get("pid"), last.get("at")
    if ended:
        result.state = "finished"
    else:
        result.state = "running" if result.pid and _alive(result.pid) else "stopped"
    result.job = last.get("job_path")
    if not result.job:
        result.job_note = "the run was given items, not a file"
    elif not Path(result.job).exists():
        result.job_note = "the job file is no longer there"
    else:
        try:
            stats = jobs.check_job(result.job)
        except (JobError, OSError) as exc:
            result.job_note = f"the job file cannot be read now: {str(exc).splitlines()[0]}"
        else:
            result.job_operations = stats.operations
            result.job_bulk = sum(stats.bulk.values())
            result.job_changed = stats.digest != last.get("job")
