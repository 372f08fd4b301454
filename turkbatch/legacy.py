"""
Map job lines written against the legacy 2014-08-15 API onto the 2017-01-17 API.

:func:`modernise` rewrites one record (``op`` plus parameters) and is the only thing
:mod:`turkbatch.jobs` calls; it runs only for lines the strict 2017 validator refused,
so a line that is valid as written is never rewritten, and a mapped line validates and
keys exactly like its 2017 spelling (the same bonus as GrantBonus or SendBonus is one
key, one token).

What maps (mturk-facts.md §8):

- renamed operations, :data:`LEGACY_OPERATIONS` (GrantBonus → SendBonus, ...), with
  these parameter changes: UpdateQualificationScore → AssociateQualificationWithWorker
  with ``SendNotification: false`` (the old call never told the worker);
  ApproveRejectedAssignment → ApproveAssignment with ``OverrideRejection: true``;
  ForceExpireHIT → UpdateExpirationForHIT with ``ExpireAt: 0`` (epoch 0: "now");
  ExtendHIT with ``MaxAssignmentsIncrement`` → CreateAdditionalAssignmentsForHIT
  ``NumberOfAdditionalAssignments``; CreateHIT with a ``HITTypeId`` →
  CreateHITWithHITType;
- REST-style flattened keys: ``WorkerId.1``, ``BonusAmount.1.Amount``,
  ``QualificationRequirement.2.IntegerValue.1`` become lists and structures;
- ``SubjectId`` → ``WorkerId``; NotifyWorkers ``WorkerId`` (list or one) → ``WorkerIds``;
- Price structures (``{"Amount": "1.00", "CurrencyCode": "USD"}``, or a list of one) →
  the Amount string (a number Amount is written as its shortest decimal); a currency
  other than USD is an error;
- ``QualificationRequirement`` → ``QualificationRequirements`` with ``IntegerValue`` →
  ``IntegerValues`` and ``LocaleValue`` → ``LocaleValues``; ``HITLayoutParameter`` →
  ``HITLayoutParameters``; notification ``EventType`` → ``EventTypes``;
  ``AssignmentStatus`` (one, a list, or comma-separated) → ``AssignmentStatuses``;
  ``PolicyLevel`` → ``PolicyLevels``; ``RetrieveActions``/``RetrieveResults`` "T"/"F" →
  booleans; ``PageSize`` → ``MaxResults`` (at most 100).

What is dropped, silently, because it only shaped a response: ``ResponseGroup``,
``SortProperty``, ``SortDirection``, ``PageNumber`` 1, a Price's ``FormattedPrice``.

What is an error (:class:`LegacyError`, naming what to do instead): an operation that no
longer exists (:data:`REMOVED`: DisableHIT, GetRequesterStatistic,
GetRequesterWorkerStatistic, Help); ExtendHIT's ``ExpirationIncrementInSeconds`` (MTurk
now takes an absolute time, which a job line cannot compute from a relative one);
``PageNumber`` above 1; a REST or SOAP notification transport; a non-USD price; a legacy
name given together with its 2017 name (``SubjectId`` and ``WorkerId``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from turkbatch import schema
from turkbatch.catalog import RECIPIENT_LIMITS

__all__ = ["LEGACY_OPERATIONS", "REMOVED", "LegacyError", "modernise"]

MAX_PAGE: Final = 100


class LegacyError(ValueError):
    """A legacy line that cannot be mapped; the message says what to write instead."""


#: Legacy operation → its 2017-01-17 replacement (operations renamed or folded).
LEGACY_OPERATIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ApproveRejectedAssignment": "ApproveAssignment",
        "AssignQualification": "AssociateQualificationWithWorker",
        "BlockWorker": "CreateWorkerBlock",
        "ChangeHITTypeOfHIT": "UpdateHITTypeOfHIT",
        "DisposeHIT": "DeleteHIT",
        "DisposeQualificationType": "DeleteQualificationType",
        "ExtendHIT": "CreateAdditionalAssignmentsForHIT",
        "ForceExpireHIT": "UpdateExpirationForHIT",
        "GetAssignmentsForHIT": "ListAssignmentsForHIT",
        "GetBlockedWorkers": "ListWorkerBlocks",
        "GetBonusPayments": "ListBonusPayments",
        "GetHITsForQualificationType": "ListHITsForQualificationType",
        "GetQualificationRequests": "ListQualificationRequests",
        "GetQualificationsForQualificationType": "ListWorkersWithQualificationType",
        "GetReviewResultsForHIT": "ListReviewPolicyResultsForHIT",
        "GetReviewableHITs": "ListReviewableHITs",
        "GrantBonus": "SendBonus",
        "GrantQualification": "AcceptQualificationRequest",
        "RegisterHITType": "CreateHITType",
        "RevokeQualification": "DisassociateQualificationFromWorker",
        "SearchHITs": "ListHITs",
        "SearchQualificationTypes": "ListQualificationTypes",
        "SetHITAsReviewing": "UpdateHITReviewStatus",
        "SetHITTypeNotification": "UpdateNotificationSettings",
        "UnblockWorker": "DeleteWorkerBlock",
        "UpdateQualificationScore": "AssociateQualificationWithWorker",
    }
)

_NO_STATISTICS: Final = (
    "was removed from the MTurk API in 2017 with no replacement; compute it from "
    "ListHITs, ListAssignmentsForHIT and ListBonusPayments"
)
#: Legacy operations that no longer exist → what to do instead.
REMOVED: Final[Mapping[str, str]] = MappingProxyType(
    {
        "DisableHIT": (
            "DisableHIT no longer exists: expire the HIT (UpdateExpirationForHIT with "
            '"ExpireAt": 0), approve or reject its submitted assignments '
            '(ApproveAssignment with "HITId"), then delete it (DeleteHIT); put a '
            '{"barrier": true} line between the steps'
        ),
        "GetRequesterStatistic": f"GetRequesterStatistic {_NO_STATISTICS}",
        "GetRequesterWorkerStatistic": f"GetRequesterWorkerStatistic {_NO_STATISTICS}",
        "Help": (
            "Help was removed from the MTurk API in 2017: see "
            "https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/"
        ),
    }
)

_DROPPED: Final = ("ResponseGroup", "SortProperty", "SortDirection")
_RENAMED: Final = {  # legacy parameter → 2017 parameter, wherever the 2017 op takes it
    "SubjectId": "WorkerId",
    "QualificationRequirement": "QualificationRequirements",
    "HITLayoutParameter": "HITLayoutParameters",
    "PolicyLevel": "PolicyLevels",
    "AssignmentStatus": "AssignmentStatuses",
    "PageSize": "MaxResults",
}
_PRICES: Final = ("Reward", "BonusAmount")
_FLAGS: Final = {"T": True, "F": False, "true": True, "false": False}
#: 2017 parameters that can hold a value of a legacy shape (mapped by _parameters).
_VALUE_MAPPED: Final = frozenset({*_PRICES, "QualificationRequirements", "Notification"})

Record = dict[str, Any]


def modernise(record: Mapping[str, Any]) -> Record:
    """
    Return the 2017-01-17 form of a job record (a new dict; ``record`` is not changed).

    A record that is not legacy comes back equal to the input. Values of the wrong shape
    are left for the strict validator to report.

    Raises:
        LegacyError: the operation no longer exists, or a parameter cannot be mapped.
    """
    rec: Record = dict(record)
    op = rec.get("op")
    if not isinstance(op, str):
        return rec
    if op in REMOVED:
        raise LegacyError(REMOVED[op])
    plain = _plain(op)
    if plain is not None and op not in _OPERATION_FIXES and plain.issuperset(rec):
        return rec  # 2017 names only, none whose value has a legacy shape: nothing to map
    if any(isinstance(k, str) and "." in k for k in rec):
        rec = _unflatten(rec)
    fix = _OPERATION_FIXES.get(op)
    if fix is not None:
        fix(rec)
    target = rec["op"] = LEGACY_OPERATIONS.get(rec["op"], rec["op"])
    members = _members(target)
    if members is None:  # an unknown operation: the validator reports it
        return rec
    _parameters(rec, target, members, legacy=op)
    return rec


@functools.cache
def _members(op: str) -> frozenset[str] | None:
    """Return the parameters of a 2017 operation; ``None`` for an unknown operation."""
    try:
        return frozenset(schema.input_members(op))
    except KeyError:
        return None


@functools.cache
def _plain(op: str) -> frozenset[str] | None:
    """Return ``op`` and the parameters of a 2017 operation whose values never need mapping."""
    members = _members(op)
    return None if members is None else members - _VALUE_MAPPED | {"op"}


# --- flattened REST keys -----------------------------------------------------------------


def _unflatten(rec: Record) -> Record:
    """Turn ``A.1.B`` / ``A.2`` keys into ``{"A": [{"B": ...}, ...]}`` in index order."""
    out: Record = {k: v for k, v in rec.items() if not isinstance(k, str) or "." not in k}
    for key, value in rec.items():
        if not isinstance(key, str) or "." not in key:
            continue
        parts = key.split(".")
        if parts[0] in rec:
            raise LegacyError(f"{parts[0]} is given both flattened ({key}) and as a whole")
        node: Any = out
        for i, part in enumerate(parts):
            name: str | int = int(part) if part.isdigit() else part
            if not isinstance(node, dict) or (i == len(parts) - 1 and name in node):
                raise LegacyError(f"flattened key {key!r} does not fit the keys beside it")
            if i == len(parts) - 1:
                node[name] = value
            else:
                node = node.setdefault(name, {})
    return {k: _listify(v) for k, v in out.items()}


def _listify(node: Any) -> Any:
    """Turn dicts keyed by REST indexes (1, 2, ...) into lists, recursively."""
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(k, int) for k in node):
        return [_listify(node[k]) for k in sorted(node)]
    if any(isinstance(k, int) for k in node):
        raise LegacyError(f"flattened keys mix indexes and names: {sorted(map(str, node))}")
    return {k: _listify(v) for k, v in node.items()}


# --- operations ----------------------------------------------------------------------------


def _update_score(rec: Record) -> None:
    rec.setdefault("SendNotification", False)


def _approve_rejected(rec: Record) -> None:
    rec["OverrideRejection"] = True


def _force_expire(rec: Record) -> None:
    if "ExpireAt" in rec:
        raise LegacyError("ForceExpireHIT takes no ExpireAt: use UpdateExpirationForHIT")
    rec["ExpireAt"] = 0


def _extend(rec: Record) -> None:
    if "ExpirationIncrementInSeconds" in rec:
        raise LegacyError(
            "ExtendHIT's ExpirationIncrementInSeconds has no 2017 equivalent: MTurk now "
            "takes an absolute time; write an UpdateExpirationForHIT line with HITId and "
            "ExpireAt (ISO-8601 or epoch seconds), and MaxAssignmentsIncrement as "
            "CreateAdditionalAssignmentsForHIT with NumberOfAdditionalAssignments"
        )
    if "MaxAssignmentsIncrement" not in rec:
        raise LegacyError(
            "ExtendHIT needs MaxAssignmentsIncrement (it becomes "
            "CreateAdditionalAssignmentsForHIT's NumberOfAdditionalAssignments)"
        )
    rec["NumberOfAdditionalAssignments"] = rec.pop("MaxAssignmentsIncrement")


def _create_hit(rec: Record) -> None:
    if "HITTypeId" in rec:
        rec["op"] = "CreateHITWithHITType"


_OPERATION_FIXES: Final[Mapping[str, Callable[[Record], None]]] = {
    "UpdateQualificationScore": _update_score,
    "ApproveRejectedAssignment": _approve_rejected,
    "ForceExpireHIT": _force_expire,
    "ExtendHIT": _extend,
    "CreateHIT": _create_hit,
}


# --- parameters ------------------------------------------------------------------------------


def _parameters(rec: Record, op: str, members: frozenset[str], *, legacy: str) -> None:
    """
    Apply the cross-cutting parameter changes, in place.

    Values are reshaped only where they come from a legacy name or a legacy operation, or
    have a shape no 2017 value has (Price structures, ``IntegerValue`` in a requirement,
    ``EventType`` in a notification): a 2017 line is never made valid by leniency.
    """
    for name in _DROPPED:
        rec.pop(name, None)
    page = rec.pop("PageNumber", None)
    if page is not None and str(page) != "1":
        raise LegacyError(
            f"PageNumber {page} has no 2017 equivalent: pages are reached with NextToken "
            "(bulk lines page for you)"
        )
    recipients = RECIPIENT_LIMITS.get(op)
    if recipients is not None and "WorkerId" in rec:  # one worker: a list of one
        many = recipients[0]
        _rename(rec, "WorkerId", many)
        if isinstance(rec[many], str):
            rec[many] = [rec[many]]
    for old, new in _RENAMED.items():
        if old in rec and new in members:
            _rename(rec, old, new)
            rec[new] = _reshape(new, rec[new])
    if legacy in LEGACY_OPERATIONS:
        for name in ("RetrieveActions", "RetrieveResults", "Revert"):
            if isinstance(rec.get(name), str) and rec[name] in _FLAGS:
                rec[name] = _FLAGS[rec[name]]
    for name in _PRICES:
        if name in rec:
            rec[name] = _price(name, rec[name])
    requirements = rec.get("QualificationRequirements")
    if isinstance(requirements, dict):
        requirements = rec["QualificationRequirements"] = [requirements]
    if isinstance(requirements, list):
        rec["QualificationRequirements"] = [_requirement(r) for r in requirements]
    if isinstance(rec.get("Notification"), dict):
        rec["Notification"] = _notification(rec["Notification"], legacy)


def _reshape(name: str, value: Any) -> Any:
    """Return a value given under a legacy name in its 2017 shape."""
    if name == "MaxResults":  # from PageSize: larger pages never existed, so cap it
        number = int(value) if isinstance(value, str) and value.isdigit() else value
        return min(number, MAX_PAGE) if isinstance(number, int) else number
    if name in ("AssignmentStatuses", "PolicyLevels") and isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _rename(rec: Record, old: str, new: str) -> None:
    if new in rec:
        raise LegacyError(f"give {new} or its legacy name {old}, not both")
    rec[new] = rec.pop(old)


def _price(name: str, value: Any) -> Any:
    """Return a Price structure's Amount as a string; anything else as it is."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if not isinstance(value, dict) or "Amount" not in value:
        return value
    extra = set(value) - {"Amount", "CurrencyCode", "FormattedPrice"}
    if extra:
        raise LegacyError(f"{name} has unknown Price fields: {', '.join(sorted(map(str, extra)))}")
    currency = value.get("CurrencyCode", "USD")
    if currency != "USD":
        raise LegacyError(f"{name} is in {currency}: MTurk pays in USD only")
    amount = value["Amount"]
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        return repr(amount) if isinstance(amount, float) else str(amount)
    return amount


def _requirement(req: Any) -> Any:
    if not isinstance(req, dict):
        return req
    req = dict(req)
    for old, new in (("IntegerValue", "IntegerValues"), ("LocaleValue", "LocaleValues")):
        if old in req:
            _rename(req, old, new)
            if not isinstance(req[new], list):
                req[new] = [req[new]]
    return req


def _notification(spec: dict[str, Any], legacy: str) -> dict[str, Any]:
    spec = dict(spec)
    transport = spec.get("Transport")
    if transport in ("REST", "SOAP"):
        raise LegacyError(
            f"{legacy}: the {transport} notification transport is no longer supported; "
            "use SQS, SNS or Email (UpdateNotificationSettings)"
        )
    if "EventType" in spec:
        _rename(spec, "EventType", "EventTypes")
        if isinstance(spec["EventTypes"], str):
            spec["EventTypes"] = [spec["EventTypes"]]
    return spec
