"""
A read-only, JSON-ready picture of a world's state, for people (the admin page).

Unlike the ledger, which lists what changed hands, the view shows what is there now:
HITs with their status and counts, assignments, workers with their qualifications and
blocks, qualification types and pending requests. Each list keeps its newest
:data:`VIEW_LIMIT` entries and says how many there are in all.
"""

from __future__ import annotations

from typing import Any

from turkbatch.sim.world_records import Json, QualificationStatus, RequestState
from turkbatch.sim.world_state import State

VIEW_LIMIT = 200
"""How many entries of each kind the view keeps (the newest)."""


def _tail(items: list[Json]) -> dict[str, Any]:
    return {"total": len(items), "items": items[-VIEW_LIMIT:]}


def view(state: State) -> dict[str, Any]:
    """Return the world's current state as plain data (see the module docstring)."""
    now = state.now()
    hits = []
    for hit in state.hit_list:
        submitted, completed = hit.counts()
        hits.append(
            {
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
        )
    assignments = [
        {
            "AssignmentId": a.assignment_id,
            "HITId": a.hit.hit_id,
            "WorkerId": a.worker_id,
            "AssignmentStatus": str(a.status),
            "SubmitTime": a.submit_time,
        }
        for hit in state.hit_list
        for a in hit.assignments
    ]
    names = {t.type_id: t.name for t in state.qual_type_list}
    held: dict[str, list[str]] = {}
    for q in state.qualifications.values():
        if q.status is QualificationStatus.GRANTED:
            held.setdefault(q.worker_id, []).append(f"{names.get(q.type_id, q.type_id)}={q.value}")
    workers = [
        {
            "WorkerId": w.worker_id,
            "Notifiable": w.notifiable,
            "Blocked": w.worker_id in state.blocks,
            "Qualifications": held.get(w.worker_id, []),
        }
        for w in state.workers.values()
    ]
    requests = [
        {
            "QualificationRequestId": r.request_id,
            "QualificationType": names.get(r.type_id, r.type_id),
            "WorkerId": r.worker_id,
            "SubmitTime": r.submit_time,
        }
        for r in state.request_list
        if r.state is RequestState.PENDING
    ]
    types = [
        {
            "QualificationTypeId": t.type_id,
            "Name": t.name,
            "Status": "Deleted" if t.disposed else t.status,
            "Requestable": t.is_requestable,
            "Granted": sum(q.status is QualificationStatus.GRANTED for q in t.grants),
        }
        for t in state.qual_type_list
        if t.owned
    ]
    return {
        "now": now,
        "strict": state.strict,
        "balance": f"{state.balance:.2f}",
        "hits": _tail(hits),
        "assignments": _tail(assignments),
        "workers": _tail(workers),
        "qualification_types": _tail(types),
        "pending_requests": _tail(requests),
    }
