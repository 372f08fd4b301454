"""Tests for HITs in the simulated world: creation, tokens, lifecycle, notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from test_sim_world_support import (
    ASSIGNMENTS,
    HIT,
    HIT_PARAMS,
    QT_EXPERT,
    call,
    error_of,
    example_world,
)

from turkbatch.sim.clock import Clock
from turkbatch.sim.ops_hit_lifecycle import java_date
from turkbatch.sim.world import World

DAY = 24 * 3600
TYPE_PARAMS = {k: v for k, v in HIT_PARAMS.items() if k not in ("LifetimeInSeconds", "Question")}


def create_hit(world: World, **extra: Any) -> dict[str, Any]:
    """Create a HIT from HIT_PARAMS (plus ``extra``) and return it."""
    return call(world, "CreateHIT", **{**HIT_PARAMS, **extra})["HIT"]


def test_create_hit_answers_a_complete_assignable_hit() -> None:
    """CreateHIT returns the new HIT: Assignable, counts, times, type, 30-character id."""
    world = World(clock=Clock())
    hit = create_hit(world, MaxAssignments=3, Keywords="receipts", RequesterAnnotation="b7")
    assert len(hit["HITId"]) == 30 and hit["HITId"].isalnum()
    assert hit["HITStatus"] == "Assignable"
    assert (hit["MaxAssignments"], hit["NumberOfAssignmentsAvailable"]) == (3, 3)
    assert hit["NumberOfAssignmentsPending"] == hit["NumberOfAssignmentsCompleted"] == 0
    assert hit["Expiration"] == pytest.approx(hit["CreationTime"] + 86_400)
    assert hit["Reward"] == "0.25" and hit["HITReviewStatus"] == "NotReviewed"
    assert hit["QualificationRequirements"] == []
    assert call(world, "GetHIT", HITId=hit["HITId"]) == {"HIT": hit}


def test_create_hit_charges_reward_and_commission() -> None:
    """Creating a HIT debits reward + 20 % per assignment (40 % from 10 assignments)."""
    world = World(clock=Clock(), balance="100.00")
    create_hit(world, MaxAssignments=3)
    assert world.balance == "99.10"
    create_hit(world, MaxAssignments=10)
    assert world.balance == "95.60"
    assert [h["Cost"] for h in world.ledger()["hits_created"]] == ["0.90", "3.50"]


def test_create_hit_with_insufficient_funds_creates_nothing() -> None:
    """A HIT the balance cannot pay for fails with InsufficientFunds and is not listed."""
    world = World(clock=Clock(), balance="0.50")
    error = error_of(world, "CreateHIT", **HIT_PARAMS, MaxAssignments=2)
    assert error.turk_code == "AWS.MechanicalTurk.InsufficientFunds"
    assert call(world, "ListHITs")["NumResults"] == 0


def test_create_hit_token_duplicate_names_the_hit_and_expires_after_a_day() -> None:
    """A repeated CreateHIT token fails with the HIT's id; after 24 h it creates again."""
    clock = Clock()
    world = World(clock=clock)
    hit = create_hit(world, UniqueRequestToken="batch-7-hit-1")
    error = error_of(world, "CreateHIT", **HIT_PARAMS, UniqueRequestToken="batch-7-hit-1")
    assert error.message == f'The HIT with ID "{hit["HITId"]}" already exists.'
    assert error.turk_code == "AWS.MechanicalTurk.HitAlreadyExists"
    clock.advance(DAY + 1)
    again = create_hit(world, UniqueRequestToken="batch-7-hit-1")
    assert again["HITId"] != hit["HITId"]
    assert len(world.ledger()["hits_created"]) == 2


def test_hit_types_are_deterministic() -> None:
    """Equal properties give one HITTypeId, in this world and in any other."""
    first = call(World(clock=Clock()), "CreateHITType", **TYPE_PARAMS)["HITTypeId"]
    world = World(clock=Clock())
    assert call(world, "CreateHITType", **TYPE_PARAMS)["HITTypeId"] == first
    assert call(world, "CreateHITType", **{**TYPE_PARAMS, "Reward": "0.250"})["HITTypeId"] == first
    assert call(world, "CreateHITType", **{**TYPE_PARAMS, "Reward": "0.30"})["HITTypeId"] != first
    assert create_hit(world)["HITTypeId"] == first


def test_create_hit_with_hit_type_uses_the_types_properties() -> None:
    """CreateHITWithHITType makes a HIT with the type's title and reward."""
    world = World(clock=Clock())
    type_id = call(world, "CreateHITType", **TYPE_PARAMS)["HITTypeId"]
    hit = call(
        world,
        "CreateHITWithHITType",
        HITTypeId=type_id,
        LifetimeInSeconds=60,
        Question=HIT_PARAMS["Question"],
        UniqueRequestToken="t",
    )["HIT"]
    assert (hit["Title"], hit["Reward"], hit["HITTypeId"]) == (HIT_PARAMS["Title"], "0.25", type_id)
    error = error_of(
        world,
        "CreateHITWithHITType",
        HITTypeId=type_id,
        LifetimeInSeconds=60,
        Question=HIT_PARAMS["Question"],
        UniqueRequestToken="t",
    )
    assert hit["HITId"] in error.message
    strict = example_world()
    missing = error_of(
        strict,
        "CreateHITWithHITType",
        HITTypeId="3NOPE",
        LifetimeInSeconds=60,
        Question=HIT_PARAMS["Question"],
    )
    assert missing.message == "HITType 3NOPE does not exist."


def test_create_hit_needs_a_question_or_layout_and_known_qualifications() -> None:
    """No Question and no HITLayoutId is refused; strict worlds check requirement types
    and know only the layouts their file lists."""
    world = example_world()
    params = {k: v for k, v in HIT_PARAMS.items() if k != "Question"}
    assert "HITLayoutId" in error_of(world, "CreateHIT", **params).message
    unknown = error_of(world, "CreateHIT", **params, HITLayoutId="3LAYOUT")
    assert (unknown.type_, unknown.parameter) == ("ParameterValidationError", "HITLayoutId")
    laid_out = World.from_dict({"hit_layouts": ["3LAYOUT"]}, clock=Clock())
    assert create_hit(laid_out, HITLayoutId="3LAYOUT")["HITLayoutId"] == "3LAYOUT"
    assert create_hit(World(clock=Clock()), HITLayoutId="3ANY")["HITLayoutId"] == "3ANY"
    bad = [{"QualificationTypeId": "3NOPE", "Comparator": "Exists"}]
    assert error_of(world, "CreateHIT", **HIT_PARAMS, QualificationRequirements=bad).turk_code == (
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist"
    )
    good = [{"QualificationTypeId": QT_EXPERT, "Comparator": "GreaterThan", "IntegerValues": [80]}]
    assert create_hit(world, QualificationRequirements=good)["QualificationRequirements"] == good


def test_additional_assignments_token_and_the_ten_assignment_line() -> None:
    """Extending charges, honours tokens, and refuses crossing from <10 to ≥10 assignments."""
    world = World(clock=Clock(), balance="100.00")
    hit = create_hit(world, MaxAssignments=5)
    call(
        world,
        "CreateAdditionalAssignmentsForHIT",
        HITId=hit["HITId"],
        NumberOfAdditionalAssignments=4,
        UniqueRequestToken="x1",
    )
    assert call(world, "GetHIT", HITId=hit["HITId"])["HIT"]["MaxAssignments"] == 9
    duplicate = error_of(
        world,
        "CreateAdditionalAssignmentsForHIT",
        HITId=hit["HITId"],
        NumberOfAdditionalAssignments=4,
        UniqueRequestToken="x1",
    )
    assert duplicate.message == 'The idempotency token "x1" has already been processed.'
    crossing = error_of(
        world,
        "CreateAdditionalAssignmentsForHIT",
        HITId=hit["HITId"],
        NumberOfAdditionalAssignments=1,
    )
    assert crossing.turk_code == "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease"
    assert world.ledger()["hit_extensions"][0]["Cost"] == "1.20"
    assert world.balance == "97.30"


def test_expiring_a_hit_makes_it_reviewable_and_repeats_are_refused() -> None:
    """ExpireAt in the past → Reviewable; the same ExpireAt again within 24 h is refused."""
    clock = Clock()
    world = World(clock=clock)
    hit_id = create_hit(world)["HITId"]
    call(world, "UpdateExpirationForHIT", HITId=hit_id, ExpireAt=0)
    assert call(world, "GetHIT", HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"
    error = error_of(world, "UpdateExpirationForHIT", HITId=hit_id, ExpireAt=0)
    token = f"{hit_id}Thu Jan 01 00:00:00 UTC 1970"
    assert error.message == f'The idempotency token "{token}" has already been processed.'
    future = clock.time() + 3600
    call(world, "UpdateExpirationForHIT", HITId=hit_id, ExpireAt=future)
    reopened = call(world, "GetHIT", HITId=hit_id)["HIT"]
    assert (reopened["HITStatus"], reopened["Expiration"]) == ("Assignable", future)
    clock.advance(DAY + 1)
    call(world, "UpdateExpirationForHIT", HITId=hit_id, ExpireAt=0)


def test_java_date_matches_mturks_token_format() -> None:
    """The derived UpdateExpirationForHIT token formats time as Java's Date does."""
    moment = datetime(2021, 7, 14, 20, 26, 6, tzinfo=UTC).timestamp()
    assert java_date(moment) == "Wed Jul 14 20:26:06 UTC 2021"


def test_review_status_moves_between_reviewable_and_reviewing() -> None:
    """UpdateHITReviewStatus: Reviewable → Reviewing, Revert back; wrong states refused."""
    world = example_world()
    reviewing = error_of(world, "UpdateHITReviewStatus", HITId=HIT, Revert=True)
    assert reviewing.message.startswith("This HIT is currently in the state 'Reviewable'.")
    call(world, "UpdateHITReviewStatus", HITId=HIT)
    listed = call(world, "ListReviewableHITs", Status="Reviewing")
    assert [h["HITId"] for h in listed["HITs"]] == [HIT]
    assert call(world, "ListReviewableHITs")["NumResults"] == 0
    assert error_of(world, "UpdateHITReviewStatus", HITId=HIT).turk_code == (
        "AWS.MechanicalTurk.InvalidHITState"
    )
    call(world, "UpdateHITReviewStatus", HITId=HIT, Revert=True)
    assert call(world, "ListReviewableHITs")["HITs"] == [{"HITId": HIT}]
    assert call(world, "GetHIT", HITId=HIT)["HIT"]["HITStatus"] == "Reviewable"


def test_list_reviewable_hits_by_hit_type() -> None:
    """ListReviewableHITs(HITTypeId) keeps only that type's reviewable HITs."""
    world = World(clock=Clock())
    hit = create_hit(world, LifetimeInSeconds=1)
    call(world, "UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=0)
    other = call(world, "CreateHITType", **{**TYPE_PARAMS, "Title": "Other"})["HITTypeId"]
    by_type = call(world, "ListReviewableHITs", HITTypeId=hit["HITTypeId"])
    assert [h["HITId"] for h in by_type["HITs"]] == [hit["HITId"]]
    assert call(world, "ListReviewableHITs", HITTypeId=other)["NumResults"] == 0


def test_delete_hit_rules() -> None:
    """Only a Reviewable HIT with all work reviewed can be deleted, and only once; unreviewed
    work is refused in MTurk's words, which name the state and not the cause."""
    world = example_world()
    assert error_of(world, "DeleteHIT", HITId=HIT).message == (
        "This HIT is currently in the state 'Reviewable'.  "
        "This operation can be called with a status of: Reviewing, Reviewable"
    )
    for assignment in ASSIGNMENTS:
        call(world, "ApproveAssignment", AssignmentId=assignment)
    call(world, "DeleteHIT", HITId=HIT)
    again = error_of(world, "DeleteHIT", HITId=HIT)
    assert "currently in the state 'Disposed'" in again.message
    assert call(world, "GetHIT", HITId=HIT)["HIT"]["HITStatus"] == "Disposed"
    assert call(world, "ListHITs")["NumResults"] == 0
    fresh = World(clock=Clock())
    live = create_hit(fresh)["HITId"]
    assert "currently in the state 'Assignable'" in error_of(fresh, "DeleteHIT", HITId=live).message


def test_update_hit_type_of_hit_takes_the_new_properties() -> None:
    """UpdateHITTypeOfHIT gives the HIT the new type's title and reward."""
    world = World(clock=Clock())
    hit_id = create_hit(world)["HITId"]
    new_type = call(world, "CreateHITType", **{**TYPE_PARAMS, "Title": "New", "Reward": "1"})
    call(world, "UpdateHITTypeOfHIT", HITId=hit_id, HITTypeId=new_type["HITTypeId"])
    hit = call(world, "GetHIT", HITId=hit_id)["HIT"]
    assert (hit["Title"], hit["Reward"], hit["HITTypeId"]) == ("New", "1.00", new_type["HITTypeId"])


def test_review_policy_results_are_empty_but_shaped() -> None:
    """ListReviewPolicyResultsForHIT echoes policies and answers empty reports per level."""
    world = World(clock=Clock())
    policy = {
        "PolicyName": "ScoreMyKnownAnswers/2011-09-01",
        "Parameters": [{"Key": "AnswerKey", "MapEntries": [{"Key": "q1", "Values": ["a"]}]}],
    }
    hit_id = create_hit(world, AssignmentReviewPolicy=policy)["HITId"]
    out = call(
        world,
        "ListReviewPolicyResultsForHIT",
        HITId=hit_id,
        PolicyLevels=["Assignment"],
        RetrieveResults=True,
    )
    assert out == {
        "HITId": hit_id,
        "AssignmentReviewPolicy": policy,
        "AssignmentReviewReport": {"ReviewResults": []},
    }
    both = call(world, "ListReviewPolicyResultsForHIT", HITId=hit_id)
    assert both["HITReviewReport"] == both["AssignmentReviewReport"] == {}


def test_notification_settings_check_the_destination() -> None:
    """Destinations must fit their transport; Active alone needs an existing specification."""
    world = World(clock=Clock())
    type_id = call(world, "CreateHITType", **TYPE_PARAMS)["HITTypeId"]
    sqs = {
        "Destination": "https://sqs.us-east-1.amazonaws.com/123456789012/turk",
        "Transport": "SQS",
        "Version": "2006-05-05",
        "EventTypes": ["HITReviewable"],
    }
    assert error_of(world, "UpdateNotificationSettings", HITTypeId=type_id, Active=True).type_ == (
        "RequestError"
    )
    assert error_of(world, "UpdateNotificationSettings", HITTypeId=type_id).type_ == "RequestError"
    call(world, "UpdateNotificationSettings", HITTypeId=type_id, Notification=sqs)
    call(world, "UpdateNotificationSettings", HITTypeId=type_id, Active=False)
    bad = {**sqs, "Destination": "not-a-queue"}
    error = error_of(world, "SendTestEventNotification", Notification=bad, TestEventType="Ping")
    assert error.turk_code == "AWS.MechanicalTurk.InvalidParameterValue"
    email = {**sqs, "Transport": "Email", "Destination": "me@example.com"}
    assert call(world, "SendTestEventNotification", Notification=email, TestEventType="Ping") == {}


def test_an_unrepresentable_expiry_is_a_request_error() -> None:
    """An ExpireAt beyond any calendar is refused cleanly, not a server fault."""
    world = World(clock=Clock())
    hit_id = create_hit(world)["HITId"]
    error = error_of(world, "UpdateExpirationForHIT", HITId=hit_id, ExpireAt=1e20)
    assert error.turk_code == "AWS.MechanicalTurk.InvalidParameterValue"
