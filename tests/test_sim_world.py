"""Tests for turkbatch.sim.world: every operation's output shape, springing, ledger, reset."""

from __future__ import annotations

from typing import Any

import pytest
from test_sim_world_support import (
    ASSIGNMENTS,
    HIT,
    HIT_PARAMS,
    MODEL,
    QT_EXPERT,
    QT_STUDY,
    REQUESTS,
    WORKERS,
    assert_output,
    call,
    error_of,
    example_world,
)

from turkbatch.sim.clock import Clock
from turkbatch.sim.world import OPERATIONS, World
from turkbatch.sim.world_errors import ERROR_TYPES, TURK_ERROR_CODES


def test_world_implements_every_operation_of_the_model() -> None:
    """The world serves exactly the 39 operations of MTurk 2017-01-17."""
    assert set(OPERATIONS) == set(MODEL.operation_names)
    assert len(OPERATIONS) == 39


class Recorder:
    """Calls operations on one world and keeps each operation's last output."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.outputs: dict[str, dict[str, Any]] = {}

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call ``operation`` and record its output."""
        self.outputs[operation] = self.world.call(operation, params)
        return self.outputs[operation]


def _money_assignments_and_workers(run: Recorder) -> None:
    """Exercise the money, assignment and worker operations."""
    run("GetAccountBalance")
    run(
        "SendBonus",
        WorkerId=WORKERS[0],
        AssignmentId=ASSIGNMENTS[0],
        BonusAmount="1.25",
        Reason="Great boxes",
        UniqueRequestToken="bonus-1",
    )
    run("ListBonusPayments", AssignmentId=ASSIGNMENTS[0])
    run("ApproveAssignment", AssignmentId=ASSIGNMENTS[0], RequesterFeedback="Thanks!")
    run("RejectAssignment", AssignmentId=ASSIGNMENTS[1], RequesterFeedback="Boxes missing")
    run("GetAssignment", AssignmentId=ASSIGNMENTS[0])
    run("ListAssignmentsForHIT", HITId=HIT, AssignmentStatuses=["Submitted"])
    run("GetFileUploadURL", AssignmentId=ASSIGNMENTS[0], QuestionIdentifier="photo")
    run("NotifyWorkers", Subject="New batch", MessageText="Hello", WorkerIds=WORKERS)
    run("CreateWorkerBlock", WorkerId=WORKERS[1], Reason="Spam")
    run("ListWorkerBlocks")
    run("DeleteWorkerBlock", WorkerId=WORKERS[1], Reason="Appeal accepted")


def _qualifications(run: Recorder) -> None:
    """Exercise the qualification type, grant and request operations."""
    qual = run(
        "CreateQualificationType",
        Name="Receipt reader",
        Description="Reads receipts",
        QualificationTypeStatus="Active",
        Keywords="receipts",
    )["QualificationType"]
    run("GetQualificationType", QualificationTypeId=qual["QualificationTypeId"])
    run(
        "UpdateQualificationType",
        QualificationTypeId=qual["QualificationTypeId"],
        Description="Reads receipts well",
        AutoGranted=True,
        AutoGrantedValue=5,
    )
    run("ListQualificationTypes", MustBeRequestable=False, Query="receipt")
    run(
        "AssociateQualificationWithWorker",
        QualificationTypeId=QT_STUDY,
        WorkerId=WORKERS[0],
        IntegerValue=3,
        SendNotification=False,
    )
    run("GetQualificationScore", QualificationTypeId=QT_STUDY, WorkerId=WORKERS[0])
    run("ListWorkersWithQualificationType", QualificationTypeId=QT_STUDY, Status="Granted")
    run(
        "DisassociateQualificationFromWorker",
        QualificationTypeId=QT_STUDY,
        WorkerId=WORKERS[0],
        Reason="Study over",
    )
    run("ListQualificationRequests", QualificationTypeId=QT_EXPERT)
    run("AcceptQualificationRequest", QualificationRequestId=REQUESTS[0], IntegerValue=92)
    run("RejectQualificationRequest", QualificationRequestId=REQUESTS[1], Reason="Too low")
    run("ListHITsForQualificationType", QualificationTypeId=QT_EXPERT)
    run("DeleteQualificationType", QualificationTypeId=qual["QualificationTypeId"])


def _hits(run: Recorder) -> None:
    """Exercise the HIT and notification operations."""
    hit_type = run(
        "CreateHITType",
        **{k: v for k, v in HIT_PARAMS.items() if k not in ("LifetimeInSeconds", "Question")},
    )
    run(
        "CreateHIT",
        **HIT_PARAMS,
        MaxAssignments=3,
        UniqueRequestToken="hit-1",
        QualificationRequirements=[
            {"QualificationTypeId": QT_EXPERT, "Comparator": "Exists", "ActionsGuarded": "Accept"}
        ],
    )
    new = run(
        "CreateHITWithHITType",
        HITTypeId=hit_type["HITTypeId"],
        MaxAssignments=2,
        LifetimeInSeconds=3600,
        Question=HIT_PARAMS["Question"],
        RequesterAnnotation="batch 7",
    )["HIT"]
    run(
        "CreateAdditionalAssignmentsForHIT",
        HITId=new["HITId"],
        NumberOfAdditionalAssignments=2,
        UniqueRequestToken="extend-1",
    )
    run("GetHIT", HITId=new["HITId"])
    run("ListHITs", MaxResults=100)
    run("UpdateHITTypeOfHIT", HITId=new["HITId"], HITTypeId=hit_type["HITTypeId"])
    run(
        "UpdateNotificationSettings",
        HITTypeId=hit_type["HITTypeId"],
        Active=True,
        Notification={
            "Destination": "ops@example.com",
            "Transport": "Email",
            "Version": "2006-05-05",
            "EventTypes": ["AssignmentSubmitted"],
        },
    )
    run(
        "SendTestEventNotification",
        TestEventType="Ping",
        Notification={
            "Destination": "arn:aws:sns:us-east-1:123456789012:turk",
            "Transport": "SNS",
            "Version": "2006-05-05",
            "EventTypes": ["Ping"],
        },
    )
    run("UpdateExpirationForHIT", HITId=new["HITId"], ExpireAt=0)
    run("ListReviewableHITs", Status="Reviewable", MaxResults=100)
    run("UpdateHITReviewStatus", HITId=new["HITId"])
    run(
        "ListReviewPolicyResultsForHIT",
        HITId=new["HITId"],
        RetrieveActions=True,
        RetrieveResults=True,
        PolicyLevels=["Assignment", "HIT"],
    )
    run("UpdateHITReviewStatus", HITId=new["HITId"], Revert=True)
    run("DeleteHIT", HITId=new["HITId"])


def _every_operation(world: World) -> dict[str, dict[str, Any]]:
    """Call all 39 operations once with realistic parameters; return outputs by name."""
    run = Recorder(world)
    _money_assignments_and_workers(run)
    _qualifications(run)
    _hits(run)
    return run.outputs


def test_every_operation_answers_in_its_botocore_output_shape() -> None:
    """All 39 operations succeed on the example world and answer only modelled members."""
    outputs = _every_operation(example_world())
    assert set(outputs) == set(OPERATIONS)
    for operation, output in outputs.items():
        assert_output(operation, output)


def test_empty_outputs_are_empty_objects() -> None:
    """Operations whose output has no members answer ``{}``."""
    outputs = _every_operation(example_world())
    for operation, output in outputs.items():
        if not MODEL.operation_model(operation).output_shape.members:
            assert output == {}, operation


def test_list_outputs_count_their_items() -> None:
    """Every List* output's NumResults equals the number of items on the page."""
    outputs = _every_operation(example_world())
    keys = {
        "ListBonusPayments": "BonusPayments",
        "ListAssignmentsForHIT": "Assignments",
        "ListWorkerBlocks": "WorkerBlocks",
        "ListQualificationTypes": "QualificationTypes",
        "ListWorkersWithQualificationType": "Qualifications",
        "ListHITs": "HITs",
        "ListQualificationRequests": "QualificationRequests",
        "ListReviewableHITs": "HITs",
        "ListHITsForQualificationType": "HITs",
    }
    for operation, key in keys.items():
        assert outputs[operation]["NumResults"] == len(outputs[operation][key]), operation


def test_unknown_operation_is_a_key_error() -> None:
    """An operation name the model lacks raises KeyError (the server guards before)."""
    with pytest.raises(KeyError):
        World(clock=Clock()).call("GrantBonus", {})


def test_permissive_world_springs_workers_assignments_and_quals() -> None:
    """A permissive world runs a demo job on ids it has never seen."""
    world = World(clock=Clock())
    call(
        world,
        "SendBonus",
        WorkerId="A1B2C3",
        AssignmentId="3X4Y5Z",
        BonusAmount="1.25",
        Reason="Great work",
    )
    call(world, "ApproveAssignment", AssignmentId="3X4Y5Z")
    call(world, "ApproveAssignment", AssignmentId="3NEVERSEEN")
    call(world, "AssociateQualificationWithWorker", QualificationTypeId="3QUALX", WorkerId="A9Z")
    call(world, "AcceptQualificationRequest", QualificationRequestId="3REQ1")
    call(world, "RejectQualificationRequest", QualificationRequestId="3REQ2", Reason="no")
    notify = call(
        world, "NotifyWorkers", Subject="Hi", MessageText="Thanks", WorkerIds=["A1B2C3", "ANEW1"]
    )
    assert notify == {"NotifyWorkersFailureStatuses": []}
    assignment = call(world, "GetAssignment", AssignmentId="3X4Y5Z")["Assignment"]
    assert assignment["WorkerId"] == "A1B2C3"
    assert assignment["AssignmentStatus"] == "Approved"
    qual_type = call(world, "GetQualificationType", QualificationTypeId="3QUALX")
    assert qual_type["QualificationType"]["QualificationTypeStatus"] == "Active"
    hit = call(world, "GetHIT", HITId="3SOMEHIT")["HIT"]
    assert hit["HITStatus"] == "Reviewable"
    assert len(world.ledger()["bonuses"]) == 1


def test_permissive_sprung_assignments_share_their_workers_placeholder_hit() -> None:
    """Sprung assignments of one worker land on one placeholder HIT that grows to fit."""
    world = World(clock=Clock())
    for assignment in ("3AAA", "3BBB", "3CCC"):
        call(
            world,
            "SendBonus",
            WorkerId="A1W",
            AssignmentId=assignment,
            BonusAmount="0.10",
            Reason="r",
        )
    hit_id = call(world, "GetAssignment", AssignmentId="3AAA")["HIT"]["HITId"]
    listed = call(world, "ListAssignmentsForHIT", HITId=hit_id)
    assert [a["AssignmentId"] for a in listed["Assignments"]] == ["3AAA", "3BBB", "3CCC"]
    assert call(world, "GetHIT", HITId=hit_id)["HIT"]["MaxAssignments"] == 3
    assert call(world, "ListBonusPayments", HITId=hit_id)["NumResults"] == 3


def test_strict_world_refuses_unknown_ids() -> None:
    """A strict world answers MTurk's errors for ids it does not hold."""
    world = example_world()
    assert error_of(world, "GetAssignment", AssignmentId="3NOPE").turk_code == (
        "AWS.MechanicalTurk.AssignmentDoesNotExist"
    )
    assert error_of(world, "GetHIT", HITId="3NOPE").message == "Hit 3NOPE does not exist."
    assert error_of(world, "GetQualificationType", QualificationTypeId="3NOPE").turk_code == (
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist"
    )
    assert error_of(
        world, "AcceptQualificationRequest", QualificationRequestId="3NOPE"
    ).turk_code == ("AWS.MechanicalTurk.QualificationRequestDoesNotExist")
    blocked = error_of(world, "CreateWorkerBlock", WorkerId="A143XRCI1YXAFE", Reason="x")
    assert blocked.type_ == "ParameterValidationError"
    assert blocked.message == 'The value "A143XRCI1YXAFE" is not valid for the parameter WorkerId.'
    assert blocked.turk_code == "AWS.MechanicalTurk.InvalidParameterValue"
    assert blocked.parameter == "WorkerId"


def test_world_messages_never_carry_the_timestamp_suffix() -> None:
    """The server appends `` (<epoch-ms>)``; the world's messages end without it."""
    world = example_world()
    error = error_of(world, "GetHIT", HITId="3NOPE")
    assert not error.message.endswith(")")
    assert error.suffix is True


def test_error_catalogue_lists_every_code_raised() -> None:
    """The codes raised in these tests are all in TURK_ERROR_CODES."""
    world = example_world()
    errors = [
        error_of(world, "GetHIT", HITId="3NOPE"),
        error_of(world, "GetQualificationScore", QualificationTypeId=QT_STUDY, WorkerId=WORKERS[0]),
        error_of(world, "DeleteHIT", HITId=HIT),
    ]
    for error in errors:
        assert error.type_ in ERROR_TYPES
        assert error.turk_code in TURK_ERROR_CODES


def test_ledger_is_json_ready_and_ordered() -> None:
    """The ledger lists bonuses in payment order with fee and token, plus the balance."""
    world = example_world()
    for index, assignment in enumerate(ASSIGNMENTS[:3]):
        call(
            world,
            "SendBonus",
            WorkerId=WORKERS[index],
            AssignmentId=assignment,
            BonusAmount=f"{index + 1}.00",
            Reason="thanks",
            UniqueRequestToken=f"t{index}",
        )
    ledger = world.ledger()
    assert [b["BonusAmount"] for b in ledger["bonuses"]] == ["1.00", "2.00", "3.00"]
    assert ledger["bonuses"][0] == {
        "WorkerId": WORKERS[0],
        "AssignmentId": ASSIGNMENTS[0],
        "BonusAmount": "1.00",
        "Reason": "thanks",
        "UniqueRequestToken": "t0",
        "GrantTime": ledger["bonuses"][0]["GrantTime"],
        "Fee": "0.20",
    }
    assert ledger["balance"] == "242.80"
    assert set(ledger) == {
        "bonuses",
        "notifications",
        "qualification_changes",
        "assignment_changes",
        "blocks",
        "hits_created",
        "hit_extensions",
        "refunds",
        "work",
        "balance",
    }
    assert_output("GetAccountBalance", {"AvailableBalance": ledger["balance"]})


def test_ledger_copies_cannot_change_the_world() -> None:
    """Mutating a returned ledger leaves the world's own record intact."""
    world = example_world()
    call(world, "CreateWorkerBlock", WorkerId=WORKERS[0], Reason="x")
    world.ledger()["blocks"][0]["Reason"] = "changed"
    assert world.ledger()["blocks"][0]["Reason"] == "x"


def test_reset_restores_the_initial_state_ledger_and_tokens() -> None:
    """reset() undoes every change, empties the ledger and forgets every token."""
    world = example_world()
    params = {
        "WorkerId": WORKERS[0],
        "AssignmentId": ASSIGNMENTS[0],
        "BonusAmount": "2.00",
        "Reason": "r",
        "UniqueRequestToken": "same",
    }
    world.call("SendBonus", dict(params))
    call(world, "ApproveAssignment", AssignmentId=ASSIGNMENTS[0])
    call(world, "AcceptQualificationRequest", QualificationRequestId=REQUESTS[0])
    world.reset()
    assert world.ledger()["bonuses"] == []
    assert world.ledger()["assignment_changes"] == []
    assert world.balance == "250.00"
    status = call(world, "GetAssignment", AssignmentId=ASSIGNMENTS[0])["Assignment"]
    assert status["AssignmentStatus"] == "Submitted"
    assert call(world, "ListQualificationRequests")["NumResults"] == 4
    world.call("SendBonus", dict(params))
    assert len(world.ledger()["bonuses"]) == 1
    world.reset()
    assert world.strict


def test_reset_keeps_the_trailing_token_setting_and_kills_old_tokens() -> None:
    """After reset the quirk setting survives and NextTokens from before are refused."""
    world = example_world()
    world.trailing_next_token = True
    token = call(world, "ListQualificationRequests", MaxResults=2)["NextToken"]
    world.reset()
    assert world.trailing_next_token is True
    error = error_of(world, "ListQualificationRequests", MaxResults=2, NextToken=token)
    assert error.type_ == "ParameterValidationError"


def test_snapshot_moves_the_reset_point() -> None:
    """snapshot() makes the current state the one reset() returns to."""
    world = World(clock=Clock(), balance="50.00")
    call(world, "CreateWorkerBlock", WorkerId="A1", Reason="x")
    world.snapshot()
    call(world, "DeleteWorkerBlock", WorkerId="A1")
    world.reset()
    assert call(world, "ListWorkerBlocks")["NumResults"] == 1
    assert world.ledger()["blocks"][0]["Action"] == "Create"


def test_world_shares_the_callers_clock() -> None:
    """The world keeps the very clock it was given (reset does not copy it)."""
    clock = Clock()
    world = World(clock=clock)
    world.reset()
    assert world.clock is clock
    clock.advance(100)
    call(world, "CreateWorkerBlock", WorkerId="A1", Reason="x")
    assert world.ledger()["blocks"][0]["Time"] == pytest.approx(clock.time(), abs=1)


def test_constructor_options() -> None:
    """balance, strict and trailing_next_token are honoured; a bad balance is refused."""
    world = World(clock=Clock(), strict=True, balance="12.5", trailing_next_token=True)
    assert world.strict and world.trailing_next_token
    assert call(world, "GetAccountBalance") == {"AvailableBalance": "12.50"}
    assert World(clock=Clock()).balance == "10000.00"
    with pytest.raises(ValueError, match="balance"):
        World(clock=Clock(), balance="lots")


def test_tokens_follow_the_shared_clock_after_reset() -> None:
    """After reset the token memory still expires on the caller's clock."""
    clock = Clock()
    world = World(clock=clock)
    world.reset()
    params = {
        "WorkerId": "A1",
        "AssignmentId": "3A",
        "BonusAmount": "1.00",
        "Reason": "r",
        "UniqueRequestToken": "tok",
    }
    world.call("SendBonus", dict(params))
    assert error_of(world, "SendBonus", **params).turk_code == "AWS.MechanicalTurk.DuplicateRequest"
    clock.advance(24 * 3600 + 1)
    world.call("SendBonus", dict(params))
    assert len(world.ledger()["bonuses"]) == 2
