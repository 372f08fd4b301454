"""Tests for turkbatch.legacy: 2014-08-15 job lines map onto their 2017-01-17 spelling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from turkbatch import jobs, legacy
from turkbatch.catalog import OPERATIONS
from turkbatch.client import ClientSettings, MTurkClient
from turkbatch.errors import JobError
from turkbatch.jobs import Operation
from turkbatch.legacy import LEGACY_OPERATIONS, REMOVED, LegacyError, modernise
from turkbatch.sim import Clock, Simulator, World

W, A, H, T, Q, R = "A1B2C3", "3ASSIGN1", "3HIT1", "3HITTYPE1", "3QUALTYPE1", "3QUALREQ1"
NOTE = {"Destination": "https://sqs.us-east-1.amazonaws.com/1/q", "Version": "2006-05-05"}
REQUIREMENT = {"QualificationTypeId": Q, "Comparator": "GreaterThan"}

# (legacy line, its 2017-01-17 spelling): one row per mapping in mturk-facts.md §8.
MAPPINGS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"op": "GrantBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r",
         "BonusAmount": {"Amount": "1.00", "CurrencyCode": "USD"}},
        {"op": "SendBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r", "BonusAmount": "1.00"},
    ),
    (
        {"op": "GrantBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r",
         "BonusAmount.1.Amount": "2.50", "BonusAmount.1.CurrencyCode": "USD",
         "UniqueRequestToken": "tok-1"},
        {"op": "SendBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r", "BonusAmount": "2.50",
         "UniqueRequestToken": "tok-1"},
    ),
    (
        {"op": "GrantBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r", "BonusAmount": "3"},
        {"op": "SendBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r", "BonusAmount": "3"},
    ),
    (
        {"op": "GrantBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r",
         "BonusAmount": [{"Amount": 1.5, "CurrencyCode": "USD", "FormattedPrice": "$1.50"}]},
        {"op": "SendBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r", "BonusAmount": "1.5"},
    ),
    (
        {"op": "RevokeQualification", "SubjectId": W, "QualificationTypeId": Q, "Reason": "r"},
        {"op": "DisassociateQualificationFromWorker", "WorkerId": W, "QualificationTypeId": Q,
         "Reason": "r"},
    ),
    (
        {"op": "AssignQualification", "QualificationTypeId": Q, "WorkerId": W, "IntegerValue": 7,
         "SendNotification": True},
        {"op": "AssociateQualificationWithWorker", "QualificationTypeId": Q, "WorkerId": W,
         "IntegerValue": 7, "SendNotification": True},
    ),
    (
        {"op": "UpdateQualificationScore", "QualificationTypeId": Q, "SubjectId": W,
         "IntegerValue": 90},
        {"op": "AssociateQualificationWithWorker", "QualificationTypeId": Q, "WorkerId": W,
         "IntegerValue": 90, "SendNotification": False},
    ),
    (
        {"op": "GetQualificationScore", "QualificationTypeId": Q, "SubjectId": W},
        {"op": "GetQualificationScore", "QualificationTypeId": Q, "WorkerId": W},
    ),
    (
        {"op": "GrantQualification", "QualificationRequestId": R, "IntegerValue": 1},
        {"op": "AcceptQualificationRequest", "QualificationRequestId": R, "IntegerValue": 1},
    ),
    (
        {"op": "BlockWorker", "WorkerId": W, "Reason": "spam"},
        {"op": "CreateWorkerBlock", "WorkerId": W, "Reason": "spam"},
    ),
    (
        {"op": "UnblockWorker", "WorkerId": W, "Reason": "sorry"},
        {"op": "DeleteWorkerBlock", "WorkerId": W, "Reason": "sorry"},
    ),
    (
        {"op": "ApproveRejectedAssignment", "AssignmentId": A, "RequesterFeedback": "oops"},
        {"op": "ApproveAssignment", "AssignmentId": A, "RequesterFeedback": "oops",
         "OverrideRejection": True},
    ),
    ({"op": "DisposeHIT", "HITId": H}, {"op": "DeleteHIT", "HITId": H}),
    (
        {"op": "DisposeQualificationType", "QualificationTypeId": Q},
        {"op": "DeleteQualificationType", "QualificationTypeId": Q},
    ),
    ({"op": "ForceExpireHIT", "HITId": H}, {"op": "UpdateExpirationForHIT", "HITId": H,
                                            "ExpireAt": 0}),
    (
        {"op": "ExtendHIT", "HITId": H, "MaxAssignmentsIncrement": 5},
        {"op": "CreateAdditionalAssignmentsForHIT", "HITId": H, "NumberOfAdditionalAssignments": 5},
    ),
    (
        {"op": "ChangeHITTypeOfHIT", "HITId": H, "HITTypeId": T},
        {"op": "UpdateHITTypeOfHIT", "HITId": H, "HITTypeId": T},
    ),
    (
        {"op": "SetHITAsReviewing", "HITId": H, "Revert": "true"},
        {"op": "UpdateHITReviewStatus", "HITId": H, "Revert": True},
    ),
    (
        {"op": "RegisterHITType", "Title": "t", "Description": "d",
         "AssignmentDurationInSeconds": 600, "Keywords": "k",
         "Reward.1.Amount": "0.25", "Reward.1.CurrencyCode": "USD",
         "QualificationRequirement.1.QualificationTypeId": Q,
         "QualificationRequirement.1.Comparator": "GreaterThan",
         "QualificationRequirement.1.IntegerValue": 80,
         "QualificationRequirement.2.QualificationTypeId": "00000000000000000071",
         "QualificationRequirement.2.Comparator": "EqualTo",
         "QualificationRequirement.2.LocaleValue.Country": "US"},
        {"op": "CreateHITType", "Title": "t", "Description": "d",
         "AssignmentDurationInSeconds": 600, "Keywords": "k", "Reward": "0.25",
         "QualificationRequirements": [
             {**REQUIREMENT, "IntegerValues": [80]},
             {"QualificationTypeId": "00000000000000000071", "Comparator": "EqualTo",
              "LocaleValues": [{"Country": "US"}]},
         ]},
    ),
    (
        {"op": "CreateHIT", "HITTypeId": T, "LifetimeInSeconds": 3600, "MaxAssignments": 3,
         "Question": "<q/>", "ResponseGroup": ["Minimal"]},
        {"op": "CreateHITWithHITType", "HITTypeId": T, "LifetimeInSeconds": 3600,
         "MaxAssignments": 3, "Question": "<q/>"},
    ),
    (
        {"op": "CreateHIT", "Title": "t", "Description": "d", "Question": "<q/>",
         "AssignmentDurationInSeconds": 600, "LifetimeInSeconds": 3600,
         "Reward": {"Amount": "0.10", "CurrencyCode": "USD"},
         "QualificationRequirement": {**REQUIREMENT, "IntegerValue": [1, 2]},
         "HITLayoutParameter": [{"Name": "a", "Value": "b"}]},
        {"op": "CreateHIT", "Title": "t", "Description": "d", "Question": "<q/>",
         "AssignmentDurationInSeconds": 600, "LifetimeInSeconds": 3600, "Reward": "0.10",
         "QualificationRequirements": [{**REQUIREMENT, "IntegerValues": [1, 2]}],
         "HITLayoutParameters": [{"Name": "a", "Value": "b"}]},
    ),
    (
        {"op": "SearchHITs", "SortProperty": "Enumeration", "SortDirection": "Ascending",
         "PageSize": 50, "PageNumber": 1},
        {"op": "ListHITs", "MaxResults": 50},
    ),
    (
        {"op": "GetReviewableHITs", "HITTypeId": T, "Status": "Reviewing", "PageSize": "400"},
        {"op": "ListReviewableHITs", "HITTypeId": T, "Status": "Reviewing", "MaxResults": 100},
    ),
    (
        {"op": "GetAssignmentsForHIT", "HITId": H, "AssignmentStatus": "Submitted,Approved",
         "SortProperty": "SubmitTime"},
        {"op": "ListAssignmentsForHIT", "HITId": H,
         "AssignmentStatuses": ["Submitted", "Approved"]},
    ),
    (
        {"op": "GetBonusPayments", "AssignmentId": A, "PageNumber": "1"},
        {"op": "ListBonusPayments", "AssignmentId": A},
    ),
    (
        {"op": "GetQualificationRequests", "QualificationTypeId": Q, "SortProperty": "SubmitTime"},
        {"op": "ListQualificationRequests", "QualificationTypeId": Q},
    ),
    (
        {"op": "GetQualificationsForQualificationType", "QualificationTypeId": Q,
         "Status": "Granted", "PageSize": 100},
        {"op": "ListWorkersWithQualificationType", "QualificationTypeId": Q, "Status": "Granted",
         "MaxResults": 100},
    ),
    ({"op": "GetBlockedWorkers", "PageSize": 10}, {"op": "ListWorkerBlocks", "MaxResults": 10}),
    (
        {"op": "GetHITsForQualificationType", "QualificationTypeId": Q},
        {"op": "ListHITsForQualificationType", "QualificationTypeId": Q},
    ),
    (
        {"op": "GetReviewResultsForHIT", "HITId": H, "PolicyLevel": "HIT",
         "RetrieveActions": "T", "RetrieveResults": "F"},
        {"op": "ListReviewPolicyResultsForHIT", "HITId": H, "PolicyLevels": ["HIT"],
         "RetrieveActions": True, "RetrieveResults": False},
    ),
    (
        {"op": "SearchQualificationTypes", "Query": "image", "MustBeRequestable": True,
         "SortDirection": "Descending"},
        {"op": "ListQualificationTypes", "Query": "image", "MustBeRequestable": True},
    ),
    (
        {"op": "SetHITTypeNotification", "HITTypeId": T, "Active": True,
         "Notification": {**NOTE, "Transport": "SQS", "EventType": "AssignmentSubmitted"}},
        {"op": "UpdateNotificationSettings", "HITTypeId": T, "Active": True,
         "Notification": {**NOTE, "Transport": "SQS", "EventTypes": ["AssignmentSubmitted"]}},
    ),
    (
        {"op": "SendTestEventNotification", "TestEventType": "Ping",
         "Notification": {**NOTE, "Transport": "SQS", "EventType": ["Ping", "HITExpired"]}},
        {"op": "SendTestEventNotification", "TestEventType": "Ping",
         "Notification": {**NOTE, "Transport": "SQS", "EventTypes": ["Ping", "HITExpired"]}},
    ),
    (
        {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m", "WorkerId.1": "A1",
         "WorkerId.2": "A2", "WorkerId.10": "A10"},
        {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m",
         "WorkerIds": ["A1", "A2", "A10"]},
    ),
    (
        {"op": "GetAssignment", "AssignmentId": A, "ResponseGroup.0": "Minimal"},
        {"op": "GetAssignment", "AssignmentId": A},
    ),
    ({"op": "GetHIT", "HITId": H, "ResponseGroup": "HITDetail"}, {"op": "GetHIT", "HITId": H}),
    ({"op": "GetAccountBalance", "ResponseGroup": ["Minimal"]}, {"op": "GetAccountBalance"}),
]  # fmt: skip


def operations(items: list[dict[str, Any]]) -> list[Operation]:
    """Validate in-memory job records, then stream them as operations."""
    jobs.check_items(items)
    return [o for o in jobs.iter_items(items) if isinstance(o, Operation)]


@pytest.mark.parametrize(
    ("old", "new"), MAPPINGS, ids=[f"{o['op']}-{i}" for i, (o, _) in enumerate(MAPPINGS)]
)
def test_every_mapping_validates_and_keys_like_its_2017_spelling(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    """Each legacy line becomes its 2017 spelling: same op, params, key, token and digest."""
    assert modernise(old) == new
    (mapped,) = operations([old])
    (modern,) = operations([new])
    assert mapped == modern
    assert jobs.check_items([old]).digest == jobs.check_items([new]).digest
    named = operations([{**old, "id": "row-1"}])[0]
    assert named == operations([{**new, "id": "row-1"}])[0]


def test_the_mapping_table_covers_every_legacy_operation() -> None:
    """Every renamed legacy operation maps onto a real 2017 operation, and the table in
    §8 is covered: renamed, removed, or spelled the same in both APIs."""
    assert set(LEGACY_OPERATIONS.values()) <= set(OPERATIONS)
    assert not set(LEGACY_OPERATIONS) & set(OPERATIONS)
    legacy_2014 = {
        "ApproveAssignment", "ApproveRejectedAssignment", "AssignQualification", "BlockWorker",
        "ChangeHITTypeOfHIT", "CreateHIT", "CreateQualificationType", "DisableHIT",
        "DisposeHIT", "DisposeQualificationType", "ExtendHIT", "ForceExpireHIT",
        "GetAccountBalance", "GetAssignment", "GetAssignmentsForHIT", "GetBlockedWorkers",
        "GetBonusPayments", "GetFileUploadURL", "GetHIT", "GetHITsForQualificationType",
        "GetQualificationRequests", "GetQualificationScore",
        "GetQualificationsForQualificationType", "GetQualificationType",
        "GetRequesterStatistic", "GetRequesterWorkerStatistic", "GetReviewResultsForHIT",
        "GetReviewableHITs", "GrantBonus", "GrantQualification", "Help", "NotifyWorkers",
        "RegisterHITType", "RejectAssignment", "RejectQualificationRequest",
        "RevokeQualification", "SearchHITs", "SearchQualificationTypes",
        "SendTestEventNotification", "SetHITAsReviewing", "SetHITTypeNotification",
        "UnblockWorker", "UpdateQualificationScore", "UpdateQualificationType",
    }  # fmt: skip
    unmapped = legacy_2014 - set(LEGACY_OPERATIONS) - set(REMOVED) - set(OPERATIONS)
    assert not unmapped
    assert {old["op"] for old, _ in MAPPINGS} >= set(LEGACY_OPERATIONS)


def test_the_same_bonus_in_either_spelling_is_one_key_and_one_token() -> None:
    """A GrantBonus line and the SendBonus line it means share a key, so a job rewritten
    from the old names does not pay twice."""
    old, new = MAPPINGS[0]
    (a,) = operations([old])
    (b,) = operations([new])
    assert (a.key, a.token) == (b.key, b.token)
    assert a.token is not None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"op": "DisableHIT", "HITId": H}, "DisableHIT no longer exists: expire the HIT"),
        ({"op": "GetRequesterStatistic"}, "GetRequesterStatistic was removed"),
        ({"op": "GetRequesterWorkerStatistic"}, "GetRequesterWorkerStatistic was removed"),
        ({"op": "Help", "HelpType": "Operation"}, "Help was removed"),
        (
            {"op": "ExtendHIT", "HITId": H, "MaxAssignmentsIncrement": 2,
             "ExpirationIncrementInSeconds": 3600},
            "ExtendHIT's ExpirationIncrementInSeconds has no 2017 equivalent",
        ),
        ({"op": "ExtendHIT", "HITId": H}, "ExtendHIT needs MaxAssignmentsIncrement"),
        ({"op": "SearchHITs", "PageNumber": 2}, "PageNumber 2 has no 2017 equivalent"),
        (
            {"op": "GrantBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r",
             "BonusAmount": {"Amount": "1.00", "CurrencyCode": "EUR"}},
            "BonusAmount is in EUR: MTurk pays in USD only",
        ),
        (
            {"op": "SetHITTypeNotification", "HITTypeId": T,
             "Notification": {**NOTE, "Transport": "REST", "EventType": "Ping"}},
            "SetHITTypeNotification: the REST notification transport is no longer supported",
        ),
        (
            {"op": "RevokeQualification", "SubjectId": W, "WorkerId": W,
             "QualificationTypeId": Q},
            "give WorkerId or its legacy name SubjectId, not both",
        ),
        (
            {"op": "GrantBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r",
             "BonusAmount": "1.00", "BonusAmount.1.Amount": "1.00"},
            "BonusAmount is given both flattened",
        ),
        (
            {"op": "GrantBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r",
             "BonusAmount": {"Amount": "1.234"}},
            "BonusAmount '1.234' does not match",
        ),
    ],
)  # fmt: skip
def test_unmappable_lines_are_errors_naming_what_to_do(
    tmp_path: Path, line: dict[str, Any], message: str
) -> None:
    """Removed operations and parameters without a 2017 equivalent are errors on their line
    that say what to write instead; a mapped line that is still invalid says why."""
    path = tmp_path / "job.jsonl"
    good = {"op": "GetAccountBalance"}
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in (good, line, good)) + b"\n")
    with pytest.raises(JobError) as caught:
        jobs.check_job(path)
    errors = [(e.line, e.message) for e in caught.value.errors]
    assert {n for n, _ in errors} == {2}
    assert any(text.startswith(message) for _, text in errors), errors


def test_removed_operations_name_their_replacement() -> None:
    """modernise() raises LegacyError (a ValueError) naming the replacement of DisableHIT."""
    with pytest.raises(LegacyError) as caught:
        modernise({"op": "DisableHIT", "HITId": H})
    assert isinstance(caught.value, ValueError)
    for step in ("UpdateExpirationForHIT", "ApproveAssignment", "DeleteHIT"):
        assert step in str(caught.value)


def test_a_misspelt_legacy_name_gets_a_suggestion(tmp_path: Path) -> None:
    """An unknown operation close to a legacy name is pointed at it."""
    with pytest.raises(JobError) as caught:
        jobs.check_items([{"op": "GrantBonuss", "WorkerId": W}])
    assert caught.value.errors[0].message == (
        "unknown operation 'GrantBonuss'; did you mean 'GrantBonus'?"
    )


def test_modern_lines_pass_through_unchanged() -> None:
    """A 2017 record comes back equal (a new dict), and odd shapes are left to validation."""
    record = {"op": "SendBonus", "WorkerId": W, "BonusAmount": 1.25, "Reason": ["x"]}
    out = modernise(record)
    assert out == record and out is not record
    assert modernise({"op": 7, "SubjectId": W}) == {"op": 7, "SubjectId": W}
    assert modernise({"op": "NoSuchOp", "ResponseGroup": "x"})["op"] == "NoSuchOp"


async def test_force_expire_maps_to_a_call_the_simulator_accepts() -> None:
    """ForceExpireHIT's mapping (ExpireAt 0) expires an open HIT on the strict simulator."""
    hit = {"HITId": H, "Title": "t", "Description": "d", "Reward": "0.10",
           "HITStatus": "Assignable", "LifetimeInSeconds": 86400}  # fmt: skip
    world = World.from_dict({"hits": [hit]}, clock=Clock())
    (op,) = operations([{"op": "ForceExpireHIT", "HITId": H}])
    async with (
        Simulator(world=world) as sim,
        MTurkClient(ClientSettings(endpoint_url=sim.endpoint_url)) as client,
    ):
        before = (await client.call("GetHIT", {"HITId": H})).body["HIT"]
        await client.call(op.op, op.params)
        after = (await client.call("GetHIT", {"HITId": H})).body["HIT"]
    assert before["HITStatus"] == "Assignable"
    assert after["HITStatus"] == "Reviewable"
    assert after["Expiration"].timestamp() <= world.clock.time()


def test_legacy_module_names_what_it_exports() -> None:
    """legacy.__all__ lists the public names."""
    assert set(legacy.__all__) == {"LEGACY_OPERATIONS", "REMOVED", "LegacyError", "modernise"}


@pytest.mark.parametrize(
    "line",
    [
        {"op": "ListHITs", "MaxResults": 500},
        {"op": "ListAssignmentsForHIT", "HITId": H, "AssignmentStatuses": "Submitted"},
        {"op": "UpdateHITReviewStatus", "HITId": H, "Revert": "true"},
        {"op": "SendBonus", "WorkerId": W, "AssignmentId": A, "Reason": "r", "BonusAmount": 1.25},
    ],
)
def test_leniency_is_for_legacy_spellings_only(line: dict[str, Any]) -> None:
    """A 2017 line with a wrong value stays an error: values are reshaped only when they
    come under a legacy name or operation, or have a shape no 2017 value has."""
    assert modernise(line) == line
    with pytest.raises(JobError):
        jobs.check_items([line])
