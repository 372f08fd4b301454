"""
The things a simulated MTurk world holds, and how each is rendered as MTurk JSON.

Records are mutable slotted dataclasses (the world changes them in place); rendering
follows the botocore output shapes: optional members are left out when absent and
timestamps are epoch-second floats, as the awsJson 1.1 protocol sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

Json = dict[str, Any]

ANSWER_XML = (
    '<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="http://mechanicalturk'
    '.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"><Answer>'
    "<QuestionIdentifier>answer</QuestionIdentifier><FreeText>done</FreeText></Answer>"
    "</QuestionFormAnswers>"
)
"""The answer a sprung or file-loaded assignment carries unless told otherwise."""


class AssignmentStatus(StrEnum):
    """An assignment's status: Submitted, then Approved or Rejected."""

    SUBMITTED = "Submitted"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class HITStatus(StrEnum):
    """A HIT's status, derived from its expiry, its assignments and its flags."""

    ASSIGNABLE = "Assignable"
    UNASSIGNABLE = "Unassignable"
    REVIEWABLE = "Reviewable"
    REVIEWING = "Reviewing"
    DISPOSED = "Disposed"


class QualificationStatus(StrEnum):
    """A worker's qualification: Granted, or Revoked by the requester."""

    GRANTED = "Granted"
    REVOKED = "Revoked"


class RequestState(StrEnum):
    """A qualification request: Pending until accepted or rejected (then never listed)."""

    PENDING = "Pending"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


def _put(out: Json, key: str, value: object) -> None:
    """Set ``out[key]`` unless ``value`` is None (MTurk omits absent members)."""
    if value is not None:
        out[key] = value


@dataclass(slots=True, kw_only=True)
class HitType:
    """The shared properties of HITs of one type (CreateHITType)."""

    hit_type_id: str
    group_id: str
    title: str
    description: str
    reward: str
    assignment_duration: int
    auto_approval_delay: int
    keywords: str | None = None
    qual_requirements: list[Json] = field(default_factory=list)
    notification: Json | None = None
    notification_active: bool = False
    disposed: bool = False


@dataclass(slots=True, kw_only=True)
class Hit:
    """A HIT; its status and counts are derived from its assignments and the clock."""

    hit_id: str
    seq: int
    hit_type: HitType
    creation_time: float
    expiration: float
    max_assignments: int
    question: str | None = None
    layout_id: str | None = None
    annotation: str | None = None
    assignment_review_policy: Json | None = None
    hit_review_policy: Json | None = None
    pending: int = 0
    reviewing: bool = False
    disposed: bool = False
    review_status: str = "NotReviewed"
    placeholder: bool = False
    unit_cost: Decimal = Decimal(0)
    refunded_slots: int = 0
    assignments: list[Assignment] = field(default_factory=list)

    def counts(self) -> tuple[int, int]:
        """Return (submitted, completed) assignments; settle auto-approvals first."""
        submitted = sum(a.status is AssignmentStatus.SUBMITTED for a in self.assignments)
        return submitted, len(self.assignments) - submitted

    def available(self) -> int:
        """Return how many more workers could still accept this HIT."""
        return max(0, self.max_assignments - self.pending - len(self.assignments))

    def status(self, now: float) -> HITStatus:
        """Return the HIT's status at ``now``."""
        if self.disposed:
            return HITStatus.DISPOSED
        if self.reviewing:
            return HITStatus.REVIEWING
        open_ = self.expiration > now and self.available() > 0
        if open_:
            return HITStatus.ASSIGNABLE
        return HITStatus.UNASSIGNABLE if self.pending else HITStatus.REVIEWABLE

    def to_json(self, now: float) -> Json:
        """Render as MTurk's ``HIT`` structure."""
        t = self.hit_type
        completed = self.counts()[1]
        out: Json = {
            "HITId": self.hit_id,
            "HITTypeId": t.hit_type_id,
            "HITGroupId": t.group_id,
            "CreationTime": self.creation_time,
            "Title": t.title,
            "Description": t.description,
            "HITStatus": str(self.status(now)),
            "MaxAssignments": self.max_assignments,
            "Reward": t.reward,
            "AutoApprovalDelayInSeconds": t.auto_approval_delay,
            "Expiration": self.expiration,
            "AssignmentDurationInSeconds": t.assignment_duration,
            "QualificationRequirements": [dict(q) for q in t.qual_requirements],
            "HITReviewStatus": self.review_status,
            "NumberOfAssignmentsPending": self.pending,
            "NumberOfAssignmentsAvailable": self.available(),
            "NumberOfAssignmentsCompleted": completed,
        }
        _put(out, "HITLayoutId", self.layout_id)
        _put(out, "Question", self.question)
        _put(out, "Keywords", t.keywords)
        _put(out, "RequesterAnnotation", self.annotation)
        return out


@dataclass(slots=True, kw_only=True)
class Assignment:
    """One worker's submitted work on one HIT."""

    assignment_id: str
    worker_id: str
    hit: Hit
    seq: int
    status: AssignmentStatus
    accept_time: float
    submit_time: float
    approval_time: float | None = None
    rejection_time: float | None = None
    answer: str | None = ANSWER_XML
    feedback: str | None = None
    refunded: bool = False

    @property
    def auto_approval_time(self) -> float:
        """When MTurk approves this assignment by itself if nobody reviews it."""
        return self.submit_time + self.hit.hit_type.auto_approval_delay

    def to_json(self) -> Json:
        """Render as MTurk's ``Assignment`` structure."""
        out: Json = {
            "AssignmentId": self.assignment_id,
            "WorkerId": self.worker_id,
            "HITId": self.hit.hit_id,
            "AssignmentStatus": str(self.status),
            "AutoApprovalTime": self.auto_approval_time,
            "AcceptTime": self.accept_time,
            "SubmitTime": self.submit_time,
            "Deadline": self.accept_time + self.hit.hit_type.assignment_duration,
        }
        _put(out, "ApprovalTime", self.approval_time)
        _put(out, "RejectionTime", self.rejection_time)
        _put(out, "Answer", self.answer)
        _put(out, "RequesterFeedback", self.feedback)
        return out


@dataclass(slots=True, kw_only=True)
class Worker:
    """A worker the world knows; ``placeholder_hit`` holds their sprung assignments."""

    worker_id: str
    notifiable: bool = True
    soft_fail: int = 0
    placeholder_hit: Hit | None = None


@dataclass(slots=True, kw_only=True)
class Qualification:
    """A qualification of one type held (or once held) by one worker."""

    type_id: str
    worker_id: str
    seq: int
    value: int | None
    status: QualificationStatus
    grant_time: float

    def to_json(self) -> Json:
        """Render as MTurk's ``Qualification`` structure."""
        out: Json = {
            "QualificationTypeId": self.type_id,
            "WorkerId": self.worker_id,
            "GrantTime": self.grant_time,
            "Status": str(self.status),
        }
        _put(out, "IntegerValue", self.value)
        return out


@dataclass(slots=True, kw_only=True)
class QualRequest:
    """A worker's request for a qualification."""

    request_id: str
    type_id: str
    worker_id: str
    seq: int
    submit_time: float
    test: str | None = None
    answer: str | None = None
    state: RequestState = RequestState.PENDING

    def to_json(self) -> Json:
        """Render as MTurk's ``QualificationRequest`` structure."""
        out: Json = {
            "QualificationRequestId": self.request_id,
            "QualificationTypeId": self.type_id,
            "WorkerId": self.worker_id,
            "SubmitTime": self.submit_time,
        }
        _put(out, "Test", self.test)
        _put(out, "Answer", self.answer)
        return out


@dataclass(slots=True, kw_only=True)
class QualType:
    """A qualification type, with its grants and requests indexed in creation order."""

    type_id: str
    seq: int
    name: str
    description: str
    status: str
    creation_time: float
    keywords: str | None = None
    test: str | None = None
    test_duration: int | None = None
    answer_key: str | None = None
    retry_delay: int | None = None
    is_requestable: bool = True
    auto_granted: bool = False
    auto_granted_value: int | None = None
    owned: bool = True
    disposed: bool = False
    deleted_at: float | None = None
    grants: list[Qualification] = field(default_factory=list)
    requests: list[QualRequest] = field(default_factory=list)

    def to_json(self) -> Json:
        """Render as MTurk's ``QualificationType`` structure."""
        out: Json = {
            "QualificationTypeId": self.type_id,
            "CreationTime": self.creation_time,
            "Name": self.name,
            "Description": self.description,
            "QualificationTypeStatus": self.status,
            "IsRequestable": self.is_requestable,
            "AutoGranted": self.auto_granted,
        }
        _put(out, "Keywords", self.keywords)
        _put(out, "Test", self.test)
        _put(out, "TestDurationInSeconds", self.test_duration)
        _put(out, "AnswerKey", self.answer_key)
        _put(out, "RetryDelayInSeconds", self.retry_delay)
        if self.auto_granted:
            value = self.auto_granted_value
            out["AutoGrantedValue"] = 1 if value is None else value
        return out


@dataclass(slots=True, kw_only=True)
class Block:
    """A worker block; a lifted block stays in the listing index as inactive."""

    worker_id: str
    reason: str
    seq: int
    active: bool = True

    def to_json(self) -> Json:
        """Render as MTurk's ``WorkerBlock`` structure."""
        return {"WorkerId": self.worker_id, "Reason": self.reason}


@dataclass(slots=True, kw_only=True)
class Bonus:
    """A bonus paid: what ListBonusPayments shows, plus the fee and token for the ledger."""

    seq: int
    worker_id: str
    assignment_id: str
    hit_id: str
    amount: str
    fee: str
    reason: str
    token: str | None
    grant_time: float

    def to_json(self) -> Json:
        """Render as MTurk's ``BonusPayment`` structure."""
        return {
            "WorkerId": self.worker_id,
            "BonusAmount": self.amount,
            "AssignmentId": self.assignment_id,
            "Reason": self.reason,
            "GrantTime": self.grant_time,
        }

    def to_ledger(self) -> Json:
        """Render as a ledger entry (what exactly-once tests count)."""
        return {
            "WorkerId": self.worker_id,
            "AssignmentId": self.assignment_id,
            "BonusAmount": self.amount,
            "Reason": self.reason,
            "UniqueRequestToken": self.token,
            "GrantTime": self.grant_time,
            "Fee": self.fee,
        }
