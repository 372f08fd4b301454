"""
Assignment review: ApproveAssignment, RejectAssignment, GetAssignment,
ListAssignmentsForHIT, GetFileUploadURL.

The state machine is Submitted → Approved | Rejected, plus Rejected → Approved with
``OverrideRejection`` within 30 days of submission while the HIT is not deleted. A
Submitted assignment whose AutoApprovalTime has passed is approved by MTurk itself the
next time anything looks at it. Any other transition fails with "This operation can be
called with a status of: Submitted" (InvalidAssignmentState). Every change is logged in
the ledger's ``assignment_changes`` and makes the worker eligible for NotifyWorkers.
A rejection gives the assignment's reward and commission back to the balance; overriding
it debits them again (InsufficientFunds when the balance cannot cover them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_lifecycle import charge_override, refund_rejected
from turkbatch.sim.world_pages import paginate
from turkbatch.sim.world_records import Assignment, AssignmentStatus, Json
from turkbatch.sim.world_state import DAY, Operation, Params, State

OVERRIDE_WINDOW = 30 * DAY
"""How long after submission a rejection can still be overridden."""

UPLOAD_HOST = "https://mturk-sim-uploads.s3.amazonaws.com"
"""Where GetFileUploadURL's temporary URLs point (they are never served)."""


def approve_assignment(state: State, params: Params) -> Json:
    """Approve a Submitted assignment, or a Rejected one with ``OverrideRejection``."""
    assignment = state.assignment(params["AssignmentId"])
    now = state.now()
    if assignment.status is AssignmentStatus.REJECTED and params.get("OverrideRejection"):
        if assignment.hit.disposed:
            raise err.override_hit_deleted(assignment.hit.hit_id)
        if now - assignment.submit_time > OVERRIDE_WINDOW:
            raise err.override_too_late(assignment.assignment_id)
        charge_override(state, assignment)
    elif assignment.status is not AssignmentStatus.SUBMITTED:
        raise err.wrong_status("Submitted", err.INVALID_ASSIGNMENT_STATE)
    state.change_assignment(
        assignment, AssignmentStatus.APPROVED, now, params.get("RequesterFeedback"), "requester"
    )
    return {}


def reject_assignment(state: State, params: Params) -> Json:
    """Reject a Submitted assignment."""
    assignment = state.assignment(params["AssignmentId"])
    if assignment.status is not AssignmentStatus.SUBMITTED:
        raise err.wrong_status("Submitted", err.INVALID_ASSIGNMENT_STATE)
    now = state.now()
    state.change_assignment(
        assignment, AssignmentStatus.REJECTED, now, params["RequesterFeedback"], "requester"
    )
    refund_rejected(state, assignment, now)
    return {}


def get_assignment(state: State, params: Params) -> Json:
    """Return an assignment and its HIT."""
    assignment = state.assignment(params["AssignmentId"])
    hit = state.settle_hit(assignment.hit)
    return {"Assignment": assignment.to_json(), "HIT": hit.to_json(state.now())}


def list_assignments_for_hit(state: State, params: Params) -> Json:
    """List a HIT's assignments, optionally only those in ``AssignmentStatuses``."""
    hit = state.hit(params["HITId"])
    statuses = params.get("AssignmentStatuses")
    wanted = frozenset(statuses) if statuses else None

    def keep(assignment: Assignment) -> bool:
        return wanted is None or state.settle(assignment).status in wanted

    def render(assignment: Assignment) -> Json:
        return state.settle(assignment).to_json()

    return paginate(
        state,
        params,
        scope=f"ListAssignmentsForHIT:{hit.hit_id}:{sorted(wanted or ())}",
        items=hit.assignments,
        result_key="Assignments",
        render=render,
        keep=keep,
    )


def get_file_upload_url(state: State, params: Params) -> Json:
    """Return a 60-second URL for a file a worker uploaded (until the HIT is deleted)."""
    assignment = state.assignment(params["AssignmentId"])
    if assignment.hit.disposed:
        raise err.hit_in_state("Disposed", "Assignable, Unassignable, Reviewable, Reviewing")
    stamp = datetime.fromtimestamp(state.now(), UTC).strftime("%Y%m%dT%H%M%SZ")
    question = quote(params["QuestionIdentifier"], safe="")
    url = (
        f"{UPLOAD_HOST}/{assignment.hit.hit_id}/{assignment.assignment_id}/{question}"
        f"?X-Amz-Date={stamp}&X-Amz-Expires=60"
    )
    return {"FileUploadURL": url}


OPERATIONS: dict[str, Operation] = {
    "ApproveAssignment": approve_assignment,
    "RejectAssignment": reject_assignment,
    "GetAssignment": get_assignment,
    "ListAssignmentsForHIT": list_assignments_for_hit,
    "GetFileUploadURL": get_file_upload_url,
}
