"""
What MTurk does to a HIT's money and life as time passes, without being asked.

Money [R: MTurk pricing; FAQ "If you reject the work, the Worker is not paid and you
are not charged the MTurk fees"]: creating a HIT (or adding assignments) debits the cost
of every assignment up front, :attr:`Hit.unit_cost` each (reward plus commission). That
money comes back to the available balance

- when the HIT is closed (expired) with assignments nobody took: each such slot is
  refunded once; extending the HIT again debits them again (or fails with
  InsufficientFunds and extends nothing);
- when an assignment is rejected; overriding the rejection debits it again.

An approved (or auto-approved) assignment's money stays spent. The simulator does not
keep held funds apart: ``GetAccountBalance`` shows ``AvailableBalance`` only.

Disposal [C: "HITs are automatically disposed of after 120 days", DeleteHIT doc; I: the
day count starts at creation, and a HIT still open or holding unreviewed work waits]:
a HIT 120 days old is disposed of as if DeleteHIT had been called.

Both happen on the world's :class:`~turkbatch.sim.world_timeline.Timeline`;
:func:`catch_up` runs whatever is due before the world answers a call, and hands the
events it does not own (the workforce's) to ``state.workforce``. Every refund is logged
in the ledger's ``refunds``.
"""

from __future__ import annotations

from typing import Any

from turkbatch.sim.world_records import Assignment, AssignmentStatus, Hit, QualType
from turkbatch.sim.world_state import DAY, State

DISPOSAL_AGE = 120 * DAY
"""How long after its creation MTurk disposes of a HIT by itself."""

EXPIRE = "hit.expire"
DISPOSE = "hit.dispose"
AUTO_APPROVE = "assignment.auto_approve"


def schedule_hit(state: State, hit: Hit) -> None:
    """Put a new HIT's expiry and disposal on the timeline, and offer it to the workforce."""
    state.timeline.push(hit.expiration, EXPIRE, hit)
    state.timeline.push(max(hit.creation_time + DISPOSAL_AGE, hit.expiration), DISPOSE, hit)
    reopen(state, hit)


def reopen(state: State, hit: Hit) -> None:
    """Tell the workforce a HIT may have slots to take (created, extended, added to)."""
    if state.workforce is not None:
        state.workforce.hit_opened(state, hit, state.now())


def announce_type(state: State, qual_type: QualType) -> None:
    """Tell the workforce the requester created a qualification type."""
    if state.workforce is not None:
        state.workforce.type_opened(state, qual_type, state.now())


def catch_up(state: State) -> None:
    """Run every event due by now, in time order (one comparison when none is)."""
    timeline = state.timeline
    first = timeline.next_time()
    if first is None:
        return
    now = state.now()
    if first > now:
        return
    for at, _, kind, subject in timeline.due(now):
        handle(state, kind, subject, at)


def handle(state: State, kind: str, subject: Any, at: float) -> None:
    """Run one due event: the world's own, or the workforce's."""
    if kind == EXPIRE:
        if subject.expiration <= at:
            release_unused(state, subject, at)
    elif kind == DISPOSE:
        _dispose(state, subject, at)
    elif kind == AUTO_APPROVE:
        if subject.status is AssignmentStatus.SUBMITTED and subject.auto_approval_time <= at:
            state.change_assignment(subject, AssignmentStatus.APPROVED, at, None, "auto")
    elif state.workforce is not None:
        state.workforce.handle(state, kind, subject, at)


def release_unused(state: State, hit: Hit, at: float) -> None:
    """Refund the slots of a closed HIT that nobody took and that are not refunded yet."""
    if hit.expiration > at or hit.disposed:
        return
    slots = hit.available() - hit.refunded_slots
    if slots <= 0:
        return
    hit.refunded_slots += slots
    _refund(state, hit, slots, "expired unassigned", at)


def expire_hit(state: State, hit: Hit, at: float) -> None:
    """Close a HIT at ``at`` (UpdateExpirationForHIT to a past time) and refund its slots."""
    hit.expiration = at
    release_unused(state, hit, at)


def extend_hit(state: State, hit: Hit, until: float) -> None:
    """
    Move a HIT's expiry to ``until``, debiting again the slots refunded when it closed.

    Raises:
        ApiError: InsufficientFunds (nothing changes).
    """
    if hit.refunded_slots:
        state.charge(hit.unit_cost * hit.refunded_slots)
        hit.refunded_slots = 0
    hit.expiration = until
    state.timeline.push(until, EXPIRE, hit)
    reopen(state, hit)


def refund_rejected(state: State, assignment: Assignment, at: float) -> None:
    """Give back a rejected assignment's reward and commission."""
    if not assignment.refunded:
        assignment.refunded = True
        _refund(state, assignment.hit, 1, "rejected", at, assignment.assignment_id)


def charge_override(state: State, assignment: Assignment) -> None:
    """
    Debit again an assignment whose rejection is overridden.

    Raises:
        ApiError: InsufficientFunds (nothing changes).
    """
    if assignment.refunded:
        state.charge(assignment.hit.unit_cost)
        assignment.refunded = False


def _refund(
    state: State, hit: Hit, slots: int, reason: str, at: float, assignment_id: str | None = None
) -> None:
    amount = hit.unit_cost * slots
    if amount <= 0:
        return
    state.balance += amount
    state.log["refunds"].append(
        {
            "HITId": hit.hit_id,
            "AssignmentId": assignment_id,
            "Assignments": slots,
            "Amount": f"{amount:.2f}",
            "Reason": reason,
            "Time": at,
        }
    )


def _dispose(state: State, hit: Hit, at: float) -> None:
    """Dispose of a HIT 120 days old, or try again once it is closed and reviewed."""
    if hit.disposed:
        return
    for assignment in hit.assignments:
        if assignment.status is AssignmentStatus.SUBMITTED:
            due = assignment.auto_approval_time
            if due <= at:
                state.change_assignment(assignment, AssignmentStatus.APPROVED, due, None, "auto")
    waiting = [
        a.auto_approval_time for a in hit.assignments if a.status is AssignmentStatus.SUBMITTED
    ]
    later = max([hit.expiration, *waiting])
    if later > at:
        state.timeline.push(later, DISPOSE, hit)
        return
    if hit.pending:
        state.timeline.push(at + hit.hit_type.assignment_duration, DISPOSE, hit)
        return
    release_unused(state, hit, at)
    hit.disposed = True
