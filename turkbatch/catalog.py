"""
The catalog of MTurk operations: one :class:`Traits` record per operation, and every
per-operation fact turkbatch acts on derived from those records.

What an operation is to turkbatch (whether it carries a ``UniqueRequestToken``, how it
is priced, its bulk form, which answer means "already done", what its intent records,
its recipient limit, the reads that settle or verify it, its IAM action) is stated here
once, in :data:`TRAITS`; the other modules look traits up (``TRAITS[op].pricing``) or use
the sets and maps derived below (:data:`MONEY_OPERATIONS`, :data:`PAYMENT_OPERATIONS`,
:data:`RECIPIENT_LIMITS`, ...), never an operation's name. Adding a priced operation is
one edit here.

Plain data, so importing it costs nothing: every table here is checked against botocore's
service and paginator models by ``tests/test_catalog.py``, so a botocore upgrade that
changes a fact fails a test rather than turkbatch's behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from botocore import xform_name

__all__ = [
    "BONUS_AMOUNTS",
    "BULK_FORMS",
    "DONE_STATES",
    "IAM_PREFIX",
    "IDEMPOTENT",
    "MONEY_OPERATIONS",
    "OPERATIONS",
    "PAGINATED",
    "PAYMENT_OPERATIONS",
    "PRICED",
    "PROOFS",
    "READ_ONLY",
    "RECIPIENT_LIMITS",
    "TOKEN_OPERATIONS",
    "TRAITS",
    "Bulk",
    "BulkForm",
    "Pricing",
    "Proof",
    "Traits",
    "access_level",
    "iam_action",
    "iam_actions",
    "method_name",
    "traits",
]


class Bulk(StrEnum):
    """The bulk forms: how a line naming many items becomes single calls."""

    CHUNKS = "chunks"
    WORKERS = "workers"
    REQUESTS = "requests"
    ASSIGNMENTS = "assignments"
    BONUSES = "bonuses"


class Pricing(StrEnum):
    """How a call draws on the account balance (:mod:`turkbatch.money`)."""

    NONE = "none"
    #: the amount parameter (:attr:`Traits.amount`) plus MTurk's fee on it, per payment
    BONUS = "bonus"
    #: ``Reward`` × ``MaxAssignments`` plus MTurk's fees on them (:func:`money.hit_cost`)
    HIT = "hit"
    #: the reward of a HIT type the line does not state: money moves, its cost is unknown
    HIT_TYPE = "hit_type"


class Proof(StrEnum):
    """What ``turkbatch verify`` checks an operation's lines against."""

    NONE = "other"  # nothing MTurk keeps: counted, not checked
    PAYMENT = "bonuses"  # ListBonusPayments
    REVIEW = "reviews"  # the assignment's status
    QUALIFICATION = "quals"  # the worker's qualification
    REQUEST = "requests"  # the request is no longer pending
    BLOCK = "blocks"  # ListWorkerBlocks
    MESSAGE = "notify"  # the journal (MTurk keeps no record of a message)


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkForm:
    """
    The bulk form of an operation: a parent id (or a list) in place of the one item.

    Attributes:
        form: which form.
        item: the one-item parameter the line leaves out (the child call's id).
        parent: the parameter that makes a line of the operation a bulk line.
        listing: the List operation that finds the items of a listed form.
        member: the listing's output member holding a page's items.
        wanted: the item statuses the line acts on (a bonus-by-HIT line's default);
            empty: every item the listing returns.
        widened: ``(parameter, status)``: with the parameter ``true`` the line also acts
            on items of that status (ApproveAssignment's ``OverrideRejection``).
    """

    form: Bulk
    item: str
    parent: str
    listing: str | None = None
    member: str | None = None
    wanted: tuple[str, ...] = ()
    widened: tuple[str, str] | None = None

    def statuses(self, params: Mapping[str, object]) -> tuple[str, ...]:
        """Return the item statuses a line with ``params`` acts on."""
        if self.widened is not None and params.get(self.widened[0]) is True:
            return (*self.wanted, self.widened[1])
        return self.wanted


@dataclass(frozen=True, slots=True, kw_only=True)
class Traits:
    """
    Everything turkbatch needs to know of one operation.

    Attributes:
        name: the 2017-01-17 operation name.
        token: the call takes ``UniqueRequestToken`` (turkbatch fills it in).
        pricing: how the call draws on the balance.
        amount: the parameter stating the amount, for :attr:`Pricing.BONUS`.
        bulk: the operation's bulk form, if it has one.
        already: fragments of MTurk's error message (or code) meaning the call was done
            before (besides a token's "already processed", which holds for every call).
        done_state: the assignment status that confirms such an "already" answer.
        intent: the parameters an intent records (``p``), identifying a payment.
        recipients: the parameter naming the workers a call reaches, when limited.
        max_recipients: how many workers one call may name.
        removes: the call takes away what its check looks for (revoke, unblock).
        lookups: reads turkbatch adds to a run of the operation, and why.
        verify_reads: the reads ``turkbatch verify`` may make to check it.
        proof: what ``turkbatch verify`` checks it against.
        idempotent: botocore's model marks it ``idempotent``.
        page_member: the output member of a paginated operation's items.
    """

    name: str
    token: bool = False
    pricing: Pricing = Pricing.NONE
    amount: str | None = None
    bulk: BulkForm | None = None
    already: tuple[str, ...] = ()
    done_state: str | None = None
    intent: tuple[str, ...] = ()
    recipients: str | None = None
    max_recipients: int | None = None
    removes: bool = False
    lookups: tuple[tuple[str, str], ...] = ()
    verify_reads: tuple[str, ...] = ()
    proof: Proof = Proof.NONE
    idempotent: bool = False
    page_member: str | None = None
    read_only: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "read_only", self.name.startswith(("Get", "List")))

    @property
    def priced(self) -> bool:
        """Whether the call draws on the account balance."""
        return self.pricing is not Pricing.NONE

    @property
    def iam_action(self) -> str:
        """The IAM action the call needs, e.g. ``mechanicalturk:SendBonus``."""
        return f"{IAM_PREFIX}:{self.name}"

    @property
    def access_level(self) -> Literal["Read", "List", "Write"]:
        """The IAM access level of the operation (Service Authorization Reference)."""
        if self.name.startswith("Get"):
            return "Read"
        return "List" if self.name.startswith("List") else "Write"


#: The IAM service prefix: ``mechanicalturk``, not the boto3 client name ``mturk``.
IAM_PREFIX: Final = "mechanicalturk"

#: MTurk's answer to a repeated review: the assignment is no longer Submitted.
_STATE_MESSAGE: Final = "can be called with a status of"
_REVIEW_LOOKUP: Final = (("GetAssignment", "confirm an 'already reviewed' answer"),)
_ASSIGNMENT_READS: Final = ("GetAssignment", "ListAssignmentsForHIT")
_QUALIFICATION_READS: Final = ("ListWorkersWithQualificationType", "GetQualificationScore")


def _assignments(**widened: str) -> BulkForm:
    return BulkForm(
        form=Bulk.ASSIGNMENTS,
        item="AssignmentId",
        parent="HITId",
        listing="ListAssignmentsForHIT",
        member="Assignments",
        wanted=("Submitted",),
        widened=next(iter(widened.items()), None),
    )


_WORKERS: Final = BulkForm(form=Bulk.WORKERS, item="WorkerId", parent="WorkerIds")
_REQUESTS: Final = BulkForm(
    form=Bulk.REQUESTS,
    item="QualificationRequestId",
    parent="QualificationTypeId",
    listing="ListQualificationRequests",
    member="QualificationRequests",  # (it lists only pending requests)
)

#: Every operation whose traits differ from the defaults; the rest are listed bare.
_SPECIAL: Final = (
    Traits(
        name="SendBonus",
        token=True,
        pricing=Pricing.BONUS,
        amount="BonusAmount",
        bulk=BulkForm(
            form=Bulk.BONUSES,
            item="AssignmentId",
            parent="HITId",
            listing="ListAssignmentsForHIT",
            member="Assignments",
            wanted=("Approved",),
        ),
        intent=("WorkerId", "AssignmentId", "BonusAmount", "Reason"),
        lookups=(("ListBonusPayments", "look up in-doubt bonuses on resume"),),
        verify_reads=("ListBonusPayments", *_ASSIGNMENT_READS),
        proof=Proof.PAYMENT,
    ),
    Traits(name="CreateHIT", token=True, pricing=Pricing.HIT),
    Traits(name="CreateHITWithHITType", token=True, pricing=Pricing.HIT_TYPE),
    Traits(name="CreateAdditionalAssignmentsForHIT", token=True, pricing=Pricing.HIT_TYPE),
    Traits(
        name="NotifyWorkers",
        bulk=BulkForm(form=Bulk.CHUNKS, item="WorkerIds", parent="WorkerIds"),
        recipients="WorkerIds",
        max_recipients=100,
        proof=Proof.MESSAGE,
    ),
    Traits(
        name="ApproveAssignment",
        bulk=_assignments(OverrideRejection="Rejected"),
        already=(_STATE_MESSAGE,),
        done_state="Approved",
        lookups=_REVIEW_LOOKUP,
        verify_reads=_ASSIGNMENT_READS,
        proof=Proof.REVIEW,
        idempotent=True,
    ),
    Traits(
        name="RejectAssignment",
        bulk=_assignments(),
        already=(_STATE_MESSAGE,),
        done_state="Rejected",
        lookups=_REVIEW_LOOKUP,
        verify_reads=_ASSIGNMENT_READS,
        proof=Proof.REVIEW,
        idempotent=True,
    ),
    Traits(
        name="AssociateQualificationWithWorker",
        bulk=_WORKERS,
        verify_reads=_QUALIFICATION_READS,
        proof=Proof.QUALIFICATION,
    ),
    # Revoking what is revoked or was never granted leaves the worker without it.
    Traits(
        name="DisassociateQualificationFromWorker",
        bulk=_WORKERS,
        already=(_STATE_MESSAGE, "QualificationDoesNotExist"),
        removes=True,
        verify_reads=_QUALIFICATION_READS,
        proof=Proof.QUALIFICATION,
    ),
    # A request already accepted or rejected is no longer Pending. (An unknown request id
    # is "does not exist": a mistake worth failing loudly, not a success.)
    Traits(
        name="AcceptQualificationRequest",
        bulk=_REQUESTS,
        already=("InvalidQualificationRequestState",),
        verify_reads=("ListQualificationRequests",),
        proof=Proof.REQUEST,
    ),
    Traits(
        name="RejectQualificationRequest",
        bulk=_REQUESTS,
        already=("InvalidQualificationRequestState",),
        verify_reads=("ListQualificationRequests",),
        proof=Proof.REQUEST,
    ),
    Traits(
        name="CreateWorkerBlock",
        bulk=_WORKERS,
        verify_reads=("ListWorkerBlocks",),
        proof=Proof.BLOCK,
    ),
    Traits(
        name="DeleteWorkerBlock",
        bulk=_WORKERS,
        removes=True,
        verify_reads=("ListWorkerBlocks",),
        proof=Proof.BLOCK,
        idempotent=True,
    ),
    Traits(name="DeleteHIT", already=("currently in the state 'Disposed'",), idempotent=True),
    Traits(name="CreateHITType", idempotent=True),
    Traits(name="DeleteQualificationType", idempotent=True),
    Traits(name="UpdateExpirationForHIT", idempotent=True),
    Traits(name="UpdateHITReviewStatus", idempotent=True),
    Traits(name="UpdateHITTypeOfHIT", idempotent=True),
    Traits(name="UpdateNotificationSettings", idempotent=True),
    # Paginated operations and the output member holding a page's items.
    # ListReviewPolicyResultsForHIT pages too but has no botocore paginator.
    Traits(name="ListAssignmentsForHIT", idempotent=True, page_member="Assignments"),
    Traits(name="ListBonusPayments", idempotent=True, page_member="BonusPayments"),
    Traits(name="ListHITs", idempotent=True, page_member="HITs"),
    Traits(name="ListHITsForQualificationType", idempotent=True, page_member="HITs"),
    Traits(name="ListQualificationRequests", idempotent=True, page_member="QualificationRequests"),
    Traits(name="ListQualificationTypes", idempotent=True, page_member="QualificationTypes"),
    Traits(name="ListReviewableHITs", idempotent=True, page_member="HITs"),
    Traits(name="ListWorkerBlocks", idempotent=True, page_member="WorkerBlocks"),
    Traits(name="ListWorkersWithQualificationType", idempotent=True, page_member="Qualifications"),
)

#: The 39 operations of the 2017-01-17 Requester API, sorted.
OPERATIONS: Final[tuple[str, ...]] = (
    "AcceptQualificationRequest",
    "ApproveAssignment",
    "AssociateQualificationWithWorker",
    "CreateAdditionalAssignmentsForHIT",
    "CreateHIT",
    "CreateHITType",
    "CreateHITWithHITType",
    "CreateQualificationType",
    "CreateWorkerBlock",
    "DeleteHIT",
    "DeleteQualificationType",
    "DeleteWorkerBlock",
    "DisassociateQualificationFromWorker",
    "GetAccountBalance",
    "GetAssignment",
    "GetFileUploadURL",
    "GetHIT",
    "GetQualificationScore",
    "GetQualificationType",
    "ListAssignmentsForHIT",
    "ListBonusPayments",
    "ListHITs",
    "ListHITsForQualificationType",
    "ListQualificationRequests",
    "ListQualificationTypes",
    "ListReviewPolicyResultsForHIT",
    "ListReviewableHITs",
    "ListWorkerBlocks",
    "ListWorkersWithQualificationType",
    "NotifyWorkers",
    "RejectAssignment",
    "RejectQualificationRequest",
    "SendBonus",
    "SendTestEventNotification",
    "UpdateExpirationForHIT",
    "UpdateHITReviewStatus",
    "UpdateHITTypeOfHIT",
    "UpdateNotificationSettings",
    "UpdateQualificationType",
)
_KNOWN: Final = frozenset(OPERATIONS)


def _catalog() -> Mapping[str, Traits]:
    special = {t.name: t for t in _SPECIAL}
    # Get* calls are read-only, and botocore's model marks every read-only call idempotent.
    return MappingProxyType(
        {
            op: special.get(op) or Traits(name=op, idempotent=op.startswith(("Get", "List")))
            for op in OPERATIONS
        }
    )


#: Every operation's traits, by name.
TRAITS: Final[Mapping[str, Traits]] = _catalog()

# --- derived from TRAITS: precomputed for the per-line paths ---------------------------------

#: Operations that take ``UniqueRequestToken`` (botocore never fills it in: the caller must).
TOKEN_OPERATIONS: Final = frozenset(op for op, t in TRAITS.items() if t.token)

#: Operations that draw on the account balance: a bonus, or rewards and fees for new
#: assignments. (ApproveAssignment pays a reward already reserved by CreateHIT.)
MONEY_OPERATIONS: Final = frozenset(op for op, t in TRAITS.items() if t.priced)

#: How each money operation is priced.
PRICED: Final[Mapping[str, Pricing]] = MappingProxyType(
    {op: t.pricing for op, t in TRAITS.items() if t.priced}
)

#: Payment operations → the parameter stating the amount paid (and MTurk's fee on it).
BONUS_AMOUNTS: Final[Mapping[str, str]] = MappingProxyType(
    {op: t.amount for op, t in TRAITS.items() if t.pricing is Pricing.BONUS and t.amount}
)

#: Operations whose intent records a payment (:mod:`turkbatch.ledger`): their lines are
#: keyed by the payment, and in-doubt calls are looked up by it.
PAYMENT_OPERATIONS: Final = frozenset(op for op, t in TRAITS.items() if t.intent)

#: Operations whose calls name a limited list of workers → ``(parameter, limit)``.
RECIPIENT_LIMITS: Final[Mapping[str, tuple[str, int]]] = MappingProxyType(
    {
        op: (t.recipients, t.max_recipients)
        for op, t in TRAITS.items()
        if t.recipients and t.max_recipients
    }
)

#: Operations whose "already done" answer an assignment status confirms → that status.
DONE_STATES: Final[Mapping[str, str]] = MappingProxyType(
    {op: t.done_state for op, t in TRAITS.items() if t.done_state}
)

#: Operations with a bulk form → the form.
BULK_FORMS: Final[Mapping[str, BulkForm]] = MappingProxyType(
    {op: t.bulk for op, t in TRAITS.items() if t.bulk}
)

#: What ``turkbatch verify`` checks each operation against.
PROOFS: Final[Mapping[str, Proof]] = MappingProxyType({op: t.proof for op, t in TRAITS.items()})

#: Operations that change nothing: the ``Get*`` and ``List*`` calls.
READ_ONLY: Final = frozenset(op for op, t in TRAITS.items() if t.read_only)

#: Operations the model marks ``idempotent``. Documentation only: MTurk still answers a
#: repeated Approve/RejectAssignment with an error (which turkbatch counts as done).
IDEMPOTENT: Final = frozenset(op for op, t in TRAITS.items() if t.idempotent)

#: Paginated operations (``NextToken``/``MaxResults``) and the output member holding the
#: page's items. ListReviewPolicyResultsForHIT pages too but has no botocore paginator.
PAGINATED: Final[Mapping[str, str]] = MappingProxyType(
    {op: t.page_member for op, t in TRAITS.items() if t.page_member}
)


def traits(op: str) -> Traits:
    """
    Return an operation's traits.

    Raises:
        KeyError: ``op`` is not an MTurk operation.
    """
    return TRAITS[op]


def _known(op: str) -> str:
    if op not in _KNOWN:
        raise KeyError(op)
    return op


def iam_action(op: str) -> str:
    """
    Return the IAM action a call needs, e.g. ``mechanicalturk:SendBonus``.

    Raises:
        KeyError: ``op`` is not an MTurk operation.
    """
    return TRAITS[op].iam_action


def iam_actions(ops: Iterable[str]) -> tuple[str, ...]:
    """
    Return the IAM actions a set of calls needs, sorted and without repeats.

    Raises:
        KeyError: one of ``ops`` is not an MTurk operation.
    """
    return tuple(sorted({iam_action(op) for op in ops}))


def access_level(op: str) -> Literal["Read", "List", "Write"]:
    """
    Return the IAM access level of an operation (Service Authorization Reference).

    Raises:
        KeyError: ``op`` is not an MTurk operation.
    """
    return TRAITS[op].access_level


def method_name(op: str) -> str:
    """
    Return the botocore client method for an operation: ``SendBonus`` → ``send_bonus``.

    Raises:
        KeyError: ``op`` is not an MTurk operation.
    """
    name: str = xform_name(_known(op))
    return name
