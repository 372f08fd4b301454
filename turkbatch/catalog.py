"""
Per-operation facts about the MTurk 2017-01-17 API that turkbatch relies on.

Plain data, so importing it costs nothing: every table here is checked against botocore's
service and paginator models by ``tests/test_catalog.py``, so a botocore upgrade that
changes a fact fails a test rather than turkbatch's behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, Literal

from botocore import xform_name

__all__ = [
    "IAM_PREFIX",
    "IDEMPOTENT",
    "MONEY_OPERATIONS",
    "OPERATIONS",
    "PAGINATED",
    "READ_ONLY",
    "TOKEN_OPERATIONS",
    "access_level",
    "iam_action",
    "iam_actions",
    "method_name",
]

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

#: Operations that take ``UniqueRequestToken`` (botocore never fills it in: the caller must).
TOKEN_OPERATIONS: Final = frozenset(
    {"SendBonus", "CreateHIT", "CreateHITWithHITType", "CreateAdditionalAssignmentsForHIT"}
)

#: Operations that draw on the account balance: a bonus, or rewards and fees for new
#: assignments. (ApproveAssignment pays a reward already reserved by CreateHIT.)
MONEY_OPERATIONS: Final = TOKEN_OPERATIONS

#: Operations that change nothing: the ``Get*`` and ``List*`` calls.
READ_ONLY: Final = frozenset(op for op in OPERATIONS if op.startswith(("Get", "List")))

#: Operations the model marks ``idempotent``. Documentation only: MTurk still answers a
#: repeated Approve/RejectAssignment with an error (which turkbatch counts as done).
IDEMPOTENT: Final = READ_ONLY | frozenset(
    {
        "ApproveAssignment",
        "CreateHITType",
        "DeleteHIT",
        "DeleteQualificationType",
        "DeleteWorkerBlock",
        "RejectAssignment",
        "UpdateExpirationForHIT",
        "UpdateHITReviewStatus",
        "UpdateHITTypeOfHIT",
        "UpdateNotificationSettings",
    }
)

#: Paginated operations (``NextToken``/``MaxResults``) and the output member holding the
#: page's items. ListReviewPolicyResultsForHIT pages too but has no botocore paginator.
PAGINATED: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ListAssignmentsForHIT": "Assignments",
        "ListBonusPayments": "BonusPayments",
        "ListHITs": "HITs",
        "ListHITsForQualificationType": "HITs",
        "ListQualificationRequests": "QualificationRequests",
        "ListQualificationTypes": "QualificationTypes",
        "ListReviewableHITs": "HITs",
        "ListWorkerBlocks": "WorkerBlocks",
        "ListWorkersWithQualificationType": "Qualifications",
    }
)

#: The IAM service prefix: ``mechanicalturk``, not the boto3 client name ``mturk``.
IAM_PREFIX: Final = "mechanicalturk"


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
    return f"{IAM_PREFIX}:{_known(op)}"


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
    if _known(op).startswith("Get"):
        return "Read"
    return "List" if op.startswith("List") else "Write"


def method_name(op: str) -> str:
    """
    Return the botocore client method for an operation: ``SendBonus`` → ``send_bonus``.

    Raises:
        KeyError: ``op`` is not an MTurk operation.
    """
    name: str = xform_name(_known(op))
    return name
