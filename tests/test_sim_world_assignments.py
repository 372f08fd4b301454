"""Tests for assignment review in the simulated world: the state machine and its listings."""

from __future__ import annotations

import pytest
from test_sim_world_support import ASSIGNMENTS, HIT, WORKERS, call, error_of, example_world

from turkbatch.sim.clock import Clock
from turkbatch.sim.world import World

STATUS_TEXT = "This operation can be called with a status of: Submitted"
DAY = 24 * 3600


def status_of(world: World, assignment_id: str) -> str:
    """Return an assignment's status."""
    return call(world, "GetAssignment", AssignmentId=assignment_id)["Assignment"][
        "AssignmentStatus"
    ]


def test_approve_then_approve_again_is_an_invalid_state() -> None:
    """Submitted → Approved once; a second approval fails with MTurk's status text."""
    world = example_world()
    assert call(world, "ApproveAssignment", AssignmentId=ASSIGNMENTS[0]) == {}
    assert status_of(world, ASSIGNMENTS[0]) == "Approved"
    error = error_of(world, "ApproveAssignment", AssignmentId=ASSIGNMENTS[0])
    assert (error.type_, error.message) == ("RequestError", STATUS_TEXT)
    assert error.turk_code == "AWS.MechanicalTurk.InvalidAssignmentState"


@pytest.mark.parametrize("first", ["ApproveAssignment", "RejectAssignment"])
def test_reject_after_review_is_an_invalid_state(first: str) -> None:
    """RejectAssignment on an Approved or Rejected assignment fails the same way."""
    world = example_world()
    call(world, first, AssignmentId=ASSIGNMENTS[0], RequesterFeedback="done")
    error = error_of(world, "RejectAssignment", AssignmentId=ASSIGNMENTS[0], RequesterFeedback="x")
    assert error.message == STATUS_TEXT


def test_reject_stores_feedback_and_times() -> None:
    """A rejection records RejectionTime and the feedback the worker sees."""
    world = example_world()
    call(world, "RejectAssignment", AssignmentId=ASSIGNMENTS[1], RequesterFeedback="No boxes")
    assignment = call(world, "GetAssignment", AssignmentId=ASSIGNMENTS[1])["Assignment"]
    assert assignment["AssignmentStatus"] == "Rejected"
    assert assignment["RequesterFeedback"] == "No boxes"
    assert "RejectionTime" in assignment and "ApprovalTime" not in assignment
    assert assignment["AcceptTime"] < assignment["SubmitTime"] < assignment["AutoApprovalTime"]


def test_approve_a_rejected_assignment_needs_override() -> None:
    """Rejected → Approved only with OverrideRejection=true."""
    world = example_world()
    call(world, "RejectAssignment", AssignmentId=ASSIGNMENTS[2], RequesterFeedback="oops")
    assert error_of(world, "ApproveAssignment", AssignmentId=ASSIGNMENTS[2]).message == STATUS_TEXT
    call(
        world,
        "ApproveAssignment",
        AssignmentId=ASSIGNMENTS[2],
        OverrideRejection=True,
        RequesterFeedback="Sorry, my mistake",
    )
    assignment = call(world, "GetAssignment", AssignmentId=ASSIGNMENTS[2])["Assignment"]
    assert assignment["AssignmentStatus"] == "Approved"
    assert assignment["RequesterFeedback"] == "Sorry, my mistake"
    changes = [(c["From"], c["To"]) for c in world.ledger()["assignment_changes"]]
    assert changes == [("Submitted", "Rejected"), ("Rejected", "Approved")]


def test_override_on_an_approved_assignment_is_an_invalid_state() -> None:
    """OverrideRejection does not re-approve an Approved assignment."""
    world = example_world()
    call(world, "ApproveAssignment", AssignmentId=ASSIGNMENTS[0])
    error = error_of(
        world, "ApproveAssignment", AssignmentId=ASSIGNMENTS[0], OverrideRejection=True
    )
    assert error.message == STATUS_TEXT


def test_override_is_refused_after_thirty_days() -> None:
    """A rejection can be overridden only within 30 days of submission."""
    document = {
        "hits": [{"HITId": "3H", "AutoApprovalDelayInSeconds": 60 * DAY}],
        "assignments": [{"AssignmentId": "3A", "WorkerId": "A1", "HITId": "3H"}],
    }
    clock = Clock()
    world = World.from_dict(document, clock=clock)
    call(world, "RejectAssignment", AssignmentId="3A", RequesterFeedback="no")
    clock.advance(30 * DAY + 1)
    error = error_of(world, "ApproveAssignment", AssignmentId="3A", OverrideRejection=True)
    assert error.turk_code == "AWS.MechanicalTurk.InvalidAssignmentState"
    assert "30 days" in error.message


def test_override_is_refused_once_the_hit_is_deleted() -> None:
    """After DeleteHIT, a rejected assignment of it can no longer be approved."""
    world = example_world()
    for assignment in ASSIGNMENTS:
        call(world, "RejectAssignment", AssignmentId=assignment, RequesterFeedback="no")
    call(world, "DeleteHIT", HITId=HIT)
    error = error_of(
        world, "ApproveAssignment", AssignmentId=ASSIGNMENTS[0], OverrideRejection=True
    )
    assert "deleted" in error.message


def test_submitted_assignments_are_auto_approved_when_their_time_comes() -> None:
    """Past AutoApprovalTime, MTurk approves by itself; a later approval is 'already'."""
    clock = Clock()
    document = {
        "hits": [{"HITId": "3H", "AutoApprovalDelayInSeconds": 3600}],
        "assignments": [{"AssignmentId": "3A", "WorkerId": "A1", "HITId": "3H"}],
    }
    world = World.from_dict(document, clock=clock)
    assert status_of(world, "3A") == "Submitted"
    clock.advance(3601)
    error = error_of(world, "ApproveAssignment", AssignmentId="3A")
    assert error.message == STATUS_TEXT
    assert status_of(world, "3A") == "Approved"
    change = world.ledger()["assignment_changes"][0]
    assert (change["To"], change["By"]) == ("Approved", "auto")


def test_list_assignments_for_hit_filters_by_status() -> None:
    """AssignmentStatuses narrows the listing; the default lists all of them."""
    world = example_world()
    call(world, "ApproveAssignment", AssignmentId=ASSIGNMENTS[0])
    call(world, "RejectAssignment", AssignmentId=ASSIGNMENTS[1], RequesterFeedback="no")
    every = call(world, "ListAssignmentsForHIT", HITId=HIT)
    assert [a["AssignmentId"] for a in every["Assignments"]] == ASSIGNMENTS
    submitted = call(world, "ListAssignmentsForHIT", HITId=HIT, AssignmentStatuses=["Submitted"])
    assert [a["AssignmentId"] for a in submitted["Assignments"]] == ASSIGNMENTS[2:]
    reviewed = call(
        world, "ListAssignmentsForHIT", HITId=HIT, AssignmentStatuses=["Approved", "Rejected"]
    )
    assert reviewed["NumResults"] == 2


def test_approving_while_paging_skips_nothing() -> None:
    """Approving the Submitted page just read does not make the next page skip items."""
    world = example_world()
    approved = []
    params: dict[str, object] = {"HITId": HIT, "AssignmentStatuses": ["Submitted"], "MaxResults": 2}
    while True:
        page = call(world, "ListAssignmentsForHIT", **params)
        for assignment in page["Assignments"]:
            call(world, "ApproveAssignment", AssignmentId=assignment["AssignmentId"])
            approved.append(assignment["AssignmentId"])
        if "NextToken" not in page:
            break
        params["NextToken"] = page["NextToken"]
    assert approved == ASSIGNMENTS


def test_get_assignment_returns_the_hit_too() -> None:
    """GetAssignment answers the assignment and its HIT, with live counts."""
    world = example_world()
    call(world, "ApproveAssignment", AssignmentId=ASSIGNMENTS[0])
    out = call(world, "GetAssignment", AssignmentId=ASSIGNMENTS[0])
    assert out["Assignment"]["WorkerId"] == WORKERS[0]
    assert out["Assignment"]["HITId"] == HIT == out["HIT"]["HITId"]
    assert out["HIT"]["NumberOfAssignmentsCompleted"] == 1
    assert out["Assignment"]["Answer"].startswith("<?xml")


def test_review_makes_a_worker_notifiable() -> None:
    """A worker never reviewed cannot be messaged; approving their work changes that."""
    document = {
        "workers": [{"WorkerId": "A1", "notifiable": False}],
        "hits": [{"HITId": "3H"}],
        "assignments": [{"AssignmentId": "3A", "WorkerId": "A1", "HITId": "3H"}],
    }
    world = World.from_dict(document, clock=Clock())
    message = {"Subject": "s", "MessageText": "m", "WorkerIds": ["A1"]}
    assert call(world, "NotifyWorkers", **message)["NotifyWorkersFailureStatuses"]
    call(world, "ApproveAssignment", AssignmentId="3A")
    assert call(world, "NotifyWorkers", **message)["NotifyWorkersFailureStatuses"] == []


def test_get_file_upload_url_points_at_the_assignment() -> None:
    """GetFileUploadURL returns an https URL naming the assignment and question."""
    world = example_world()
    url = call(
        world, "GetFileUploadURL", AssignmentId=ASSIGNMENTS[0], QuestionIdentifier="receipt photo"
    )["FileUploadURL"]
    assert url.startswith("https://") and ASSIGNMENTS[0] in url and "receipt%20photo" in url
