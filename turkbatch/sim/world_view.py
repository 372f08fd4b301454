"""
A read-only, JSON-ready picture of a world's state, for people (the admin page).

Unlike the ledger, which lists what changed hands, the view shows what is there now:
HITs with their status and counts, assignments, workers with their qualifications and
blocks, qualification types and pending requests. Each list keeps its newest
:data:`VIEW_LIMIT` entries and says how many there are in all.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from turkbatch.sim.world_records import (
    Assignment,
    Hit,
    Json,
    QualificationStatus,
    QualRequest,
    QualType,
    RequestState,
    Worker,
)
from turkbatch.sim.world_state import State

T = TypeVar("T")

VIEW_LIMIT = 200
"""How many entries of each kind the view keeps (the newest)."""


def _newest(items: Iterable[T], total: int, render: Callable[[T], Json]) -> dict[str, Any]:
    """Render the last :data:`VIEW_LIMIT` of ``items`` (given newest first), oldest first."""
    kept = [render(item) for item in itertools.islice(items, VIEW_LIMIT)]
    kept.reverse()
    return {"total": total, "items": kept}


def view(state: State) -> dict[str, Any]:
    """
    Return the world's current state as plain data (see the module docstring).

    Only the shown entries are rendered, so a world of a million assignments costs the
    same as a small one (the pending requests are counted, one check each).
    """
    now = state.now()
    names = {t.type_id: t.name for t in state.qual_type_list}

    def hit_row(hit: Hit) -> Json:
        submitted, completed = hit.counts()
        return {
            "HITId": hit.hit_id,
            "Title": hit.hit_type.title,
            "HITStatus": str(hit.status(now)),
            "Reward": hit.hit_type.reward,
            "MaxAssignments": hit.max_assignments,
            "Pending": hit.pending,
            "Available": hit.available(),
            "Submitted": submitted,
            "Completed": completed,
            "Expiration": hit.expiration,
        }

    def assignment_row(a: Assignment) -> Json:
        return {
            "AssignmentId": a.assignment_id,
            "HITId": a.hit.hit_id,
            "WorkerId": a.worker_id,
            "AssignmentStatus": str(a.status),
            "SubmitTime": a.submit_time,
        }

    def worker_row(w: Worker) -> Json:
        held = [
            f"{names.get(t, t)}={q.value}"
            for t in names
            if (q := state.qualifications.get((t, w.worker_id))) is not None
            and q.status is QualificationStatus.GRANTED
        ]
        return {
            "WorkerId": w.worker_id,
            "Notifiable": w.notifiable,
            "Blocked": w.worker_id in state.blocks,
            "Qualifications": held,
        }

    def request_row(r: QualRequest) -> Json:
        return {
            "QualificationRequestId": r.request_id,
            "QualificationType": names.get(r.type_id, r.type_id),
            "WorkerId": r.worker_id,
            "SubmitTime": r.submit_time,
        }

    def type_row(t: QualType) -> Json:
        return {
            "QualificationTypeId": t.type_id,
            "Name": t.name,
            "Status": "Deleted" if t.disposed else t.status,
            "Requestable": t.is_requestable,
            "Granted": sum(q.status is QualificationStatus.GRANTED for q in t.grants),
        }

    pending = [r for r in state.request_list if r.state is RequestState.PENDING]
    owned = [t for t in state.qual_type_list if t.owned]
    return {
        "now": now,
        "strict": state.strict,
        "balance": f"{state.balance:.2f}",
        "hits": _newest(reversed(state.hit_list), len(state.hit_list), hit_row),
        "assignments": _newest(
            reversed(state.assignments.values()), len(state.assignments), assignment_row
        ),
        "workers": _newest(reversed(state.workers.values()), len(state.workers), worker_row),
        "qualification_types": _newest(reversed(owned), len(owned), type_row),
        "pending_requests": _newest(reversed(pending), len(pending), request_row),
    }
