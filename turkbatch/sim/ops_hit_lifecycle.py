"""
A HIT's life after creation: UpdateExpirationForHIT, UpdateHITReviewStatus,
UpdateHITTypeOfHIT, DeleteHIT, ListReviewPolicyResultsForHIT.

A HIT is Assignable while it has not expired and has assignments left, Unassignable
when it is closed but work is still in progress, Reviewable when it is closed with none,
Reviewing when the requester marks it so, and Disposed once deleted (or 120 days old).
DeleteHIT needs a Reviewable or Reviewing HIT whose submitted work is all approved or
rejected; otherwise it fails with "This HIT is currently in the state '<status>'.  This
operation can be called with a status of: Reviewing, Reviewable", even when the state
named is Reviewable and the cause is unreviewed work, as MTurk does (boto3#2107).

UpdateExpirationForHIT has no token parameter, yet MTurk derives one from the HITId and
the new ExpireAt (Dallinger#3109): repeating the same ExpireAt within 24 hours fails with
``The idempotency token "<HITId><Wed Jul 14 20:26:06 UTC 2021>" has already been
processed.``. An ExpireAt at or before now expires the HIT now. A later ExpireAt is
turned into an increment over the HIT's current expiry, which must be 60 to 31,536,000
seconds, else ParameterValidationError "The value -380572 is invalid for
ExpirationIncrementInSeconds. ..." (aws-sdk-ruby#2065, aws-sdk-java#1817): a HIT's
expiry can be moved later, never earlier but to now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_lifecycle import expire_hit, extend_hit
from turkbatch.sim.world_records import AssignmentStatus, HITStatus, Json
from turkbatch.sim.world_state import Operation, Params, State

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LIVE = "Assignable, Unassignable, Reviewable, Reviewing"
_DELETABLE = "Reviewing, Reviewable"
MIN_INCREMENT = 60
"""The shortest extension UpdateExpirationForHIT accepts, in seconds."""
MAX_INCREMENT = 31_536_000
"""The longest extension UpdateExpirationForHIT accepts, in seconds (365 days)."""


def java_date(epoch: float) -> str:
    """Format like Java's ``Date.toString()`` in UTC: ``Wed Jul 14 20:26:06 UTC 2021``."""
    t = datetime.fromtimestamp(int(epoch), UTC)
    return f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t:%d %H:%M:%S} UTC {t.year}"


def epoch_of(value: Any) -> float:
    """Return epoch seconds from an awsJson timestamp (a number; ISO 8601 tolerated)."""
    if isinstance(value, bool):
        raise err.invalid_parameter("ExpireAt must be a timestamp.")
    if isinstance(value, int | float):
        return float(value)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise err.invalid_parameter("ExpireAt must be a timestamp.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def update_expiration(state: State, params: Params) -> Json:
    """Expire a HIT now (a time not in the future), or extend it (see the module doc)."""
    operation = "UpdateExpirationForHIT"
    hit = state.hit(params["HITId"])
    expire_at = epoch_of(params["ExpireAt"])
    try:
        token = f"{hit.hit_id}{java_date(expire_at)}"
    except (OverflowError, OSError, ValueError):
        raise err.invalid_parameter("ExpireAt is not a representable time.") from None
    if state.tokens.seen(operation, token) is not None:
        raise err.token_processed(token)
    if hit.disposed:
        raise err.hit_in_state("Disposed", _LIVE)
    now = state.now()
    if expire_at <= now:
        expire_hit(state, hit, min(hit.expiration, now))
    else:
        increment = round(expire_at - hit.expiration)
        if not MIN_INCREMENT <= increment <= MAX_INCREMENT:
            raise err.bad_increment(increment)
        extend_hit(state, hit, expire_at)
    state.tokens.remember(operation, token, hit.hit_id)
    return {}


def update_review_status(state: State, params: Params) -> Json:
    """Move a HIT from Reviewable to Reviewing, or back with ``Revert``."""
    hit = state.hit(params["HITId"])
    status = hit.status(state.now())
    revert = bool(params.get("Revert", False))
    needed = HITStatus.REVIEWING if revert else HITStatus.REVIEWABLE
    if status is not needed:
        raise err.hit_in_state(str(status), str(needed))
    hit.reviewing = not revert
    return {}


def update_hit_type_of_hit(state: State, params: Params) -> Json:
    """Give a HIT the properties of another HIT type."""
    hit = state.hit(params["HITId"])
    hit_type = state.hit_type(params["HITTypeId"])
    if hit.disposed:
        raise err.hit_in_state("Disposed", _LIVE)
    hit.hit_type = hit_type
    return {}


def delete_hit(state: State, params: Params) -> Json:
    """Dispose of a Reviewable or Reviewing HIT whose submitted work is all reviewed."""
    hit = state.settle_hit(state.hit(params["HITId"]))
    status = hit.status(state.now())
    unreviewed = any(a.status is AssignmentStatus.SUBMITTED for a in hit.assignments)
    if status not in (HITStatus.REVIEWABLE, HITStatus.REVIEWING) or unreviewed:
        raise err.hit_in_state(str(status), _DELETABLE)
    hit.disposed = True
    return {}


def list_review_policy_results(state: State, params: Params) -> Json:
    """Return a HIT's review policies and (always empty) review reports."""
    hit = state.hit(params["HITId"])
    levels = params.get("PolicyLevels") or ["Assignment", "HIT"]
    report: Json = {}
    if params.get("RetrieveResults"):
        report["ReviewResults"] = []
    if params.get("RetrieveActions"):
        report["ReviewActions"] = []
    out: Json = {"HITId": hit.hit_id}
    if hit.assignment_review_policy is not None:
        out["AssignmentReviewPolicy"] = hit.assignment_review_policy
    if hit.hit_review_policy is not None:
        out["HITReviewPolicy"] = hit.hit_review_policy
    if "Assignment" in levels:
        out["AssignmentReviewReport"] = dict(report)
    if "HIT" in levels:
        out["HITReviewReport"] = dict(report)
    return out


OPERATIONS: dict[str, Operation] = {
    "UpdateExpirationForHIT": update_expiration,
    "UpdateHITReviewStatus": update_review_status,
    "UpdateHITTypeOfHIT": update_hit_type_of_hit,
    "DeleteHIT": delete_hit,
    "ListReviewPolicyResultsForHIT": list_review_policy_results,
}
