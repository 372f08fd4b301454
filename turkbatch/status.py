"""
Where a job stands, from its journal (``turkbatch status``): safe while a run writes it.

No lock is taken (``Journal.read`` does not lock; a torn last line is ignored). Everything
comes from one replay with the views' detail (:class:`~turkbatch.journal.Detail`): calls
by operation and last word, the money, whether the last run closed the journal and how it
ended. When the job file is still there, :func:`turkbatch.plan.survey` sets the job's
calls against the same state, so ``status`` and ``plan`` say the same numbers.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from turkbatch import expand, jobs
from turkbatch import plan as planning
from turkbatch.errors import JobError
from turkbatch.journal import Journal, JournalState, Tally
from turkbatch.money import ZERO, usd
from turkbatch.report import iso
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


@dataclass(slots=True, kw_only=True)
class Status:
    """
    Where a job stands, from its journal.

    Attributes:
        state: ``running``; ``finished``, ``interrupted`` or ``stopped`` (the last run
            closed the journal: ran out of work; was interrupted; stopped early, by a spend
            cap or its setting); ``crashed`` (it did not close the journal: killed or
            crashed; run again to resume) or ``never run``.
        job_operations: lines in the job file now, when it can be read; ``job_calls``
            the calls they make (so far, for lines listed at run time), ``job_done``,
            ``job_failed``, ``job_in_doubt``, ``to_send`` those calls by what the journal
            says (as ``turkbatch plan`` counts them), ``job_listed`` the lines listed at
            run time.
        job_changed: the job file differs from what the last run ran.
        by_op: every call the journal records, by operation and last word.
        bonus_paid / fees: bonuses paid (sent, already or found paid) and their fees;
            ``unpriced``: done bonuses without their amount (reconciled after a lost
            journal).
    """

    journal: str
    job: str | None = None
    job_operations: int | None = None
    job_calls: int = 0
    job_done: int = 0
    job_failed: int = 0
    job_in_doubt: int = 0
    to_send: int = 0
    job_listed: int = 0
    job_changed: bool | None = None
    job_note: str | None = None
    runs: int = 0
    pid: int | None = None
    state: str = "never run"
    started: float | None = None
    last_activity: float | None = None
    by_op: dict[str, Tally] = field(default_factory=dict)
    bonuses: int = 0
    bonus_paid: Decimal = ZERO
    fees: Decimal = ZERO
    unpriced: int = 0

    def total(self) -> Tally:
        """Return the counts over every operation."""
        return Tally.sum(self.by_op.values())

    def as_dict(self) -> dict[str, Any]:
        """Return the status as a JSON-ready record."""
        counts = {op: c.as_dict() for op, c in self.by_op.items()}
        return {
            "journal": self.journal,
            "job": self.job,
            "job_operations": self.job_operations,
            "job_calls": self.job_calls,
            "job_done": self.job_done,
            "job_failed": self.job_failed,
            "job_in_doubt": self.job_in_doubt,
            "to_send": self.to_send,
            "job_listed_lines": self.job_listed,
            "job_changed": self.job_changed,
            "job_note": self.job_note,
            "runs": self.runs,
            "pid": self.pid,
            "state": self.state,
            "started": iso(self.started) or None,
            "last_activity": iso(self.last_activity) or None,
            "by_op": counts,
            "total": self.total().as_dict(),
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
            job += f" ({counted(self.job_operations, 'line')}{changed})"
        elif self.job_note:
            job += f" ({self.job_note})"
        run = self.state
        if self.pid is not None:
            run = f"pid {self.pid}, started {iso(self.started)}: {self.state}"
            run += _HOW.get(self.state, "")
        ago = "" if self.last_activity is None else f" ({now - self.last_activity:.0f}s ago)"
        lines = [
            f"journal:       {self.journal}",
            f"job:           {job}",
            f"last run:      {run}",
            f"runs:          {self.runs}",
            f"last activity: {iso(self.last_activity) or 'none'}{ago}",
            "",
        ]
        header = ("operation", "done", "already", "reconciled", "counted", "failed", "in doubt")
        rows = [(op, *_cells(c)) for op, c in sorted(self.by_op.items())]
        lines += table(header, rows, ("total", *_cells(self.total())))
        if self.job_operations is not None:
            lines.append("")
            lines.append(
                f"the job: {self.job_done} of {counted(self.job_calls, 'call')} done, "
                f"{self.job_failed} failed, {self.job_in_doubt} in doubt, {self.to_send} to send"
            )
            if self.job_listed:
                lines.append(
                    f"  ({counted(self.job_listed, 'line')} by HIT or qualification type: "
                    "their calls are those listed so far; a run lists again and acts on "
                    "anything new)"
                )
        paid = (
            f"{usd(self.bonus_paid)} + fees {usd(self.fees)} = {usd(self.bonus_paid + self.fees)}"
        )
        lines.append(f"bonuses paid: {self.bonuses}, {paid}")
        t = self.total()
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


_HOW = {
    "crashed": " without closing the journal (killed or crashed); run again to resume",
    "interrupted": "; run again to resume",
    "stopped": " early (a spend cap or its setting); run again to go on",
}


def _cells(c: Tally) -> tuple[int, ...]:
    return (c.done, c.already, c.reconciled, c.counted, c.failed, c.in_doubt)


def status(journal: str | os.PathLike[str]) -> Status:
    """
    Return where the job of ``journal`` stands; safe while a run is writing it.

    Raises:
        JournalError: the journal cannot be read, or is damaged before its last line.
    """
    path = os.fspath(journal)
    state = Journal.read(path, detail=True)
    detail = state.detail
    assert detail is not None, "read with detail"
    result = Status(journal=path, runs=len(state.runs), by_op=detail.by_op)
    result.last_activity = detail.last_activity
    result.bonuses, result.bonus_paid = detail.bonuses, detail.bonus_paid
    result.fees, result.unpriced = detail.fees, detail.unpriced
    _last_run(result, state)
    return result


def _last_run(result: Status, state: JournalState) -> None:
    """Fill in the last run's process, how it ended or whether it is going, and its job."""
    last, detail = state.last_run, state.detail
    if last is None or detail is None:
        return
    result.pid, result.started = last.pid, last.at
    if detail.ended:
        result.state = detail.how
    else:
        result.state = "running" if result.pid and _alive(result.pid) else "crashed"
    result.job = last.job_path
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
            _job(result, state, result.job, stats)


def _job(result: Status, state: JournalState, job: str, stats: jobs.JobStats) -> None:
    """Set the job's calls against the journal, as ``turkbatch plan`` does."""
    plan = planning.survey(
        job,
        jobs.read_job(job, checked=True),
        state=state,
        digest=stats.digest,
        details=False,
        expand=expand.plan_expansion,
    )
    total = plan.total()
    result.job_operations, result.job_changed = stats.operations, plan.job_changed
    result.job_calls, result.job_done = total.calls, total.done
    result.job_failed, result.job_in_doubt = total.failed, total.in_doubt
    result.to_send, result.job_listed = total.to_send, total.expanding
