"""Tests for loading world files: the example, generous defaults, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_sim_world_support import EXAMPLE, HIT, QT_EXPERT, call, example_world

from turkbatch.sim.clock import Clock
from turkbatch.sim.world import World


def load(document: Any, tmp_path: Path) -> World:
    """Write ``document`` as world.json and load it."""
    path = tmp_path / "world.json"
    path.write_text(json.dumps(document))
    return World.from_file(path, clock=Clock())


def test_example_world_loads_strict_with_everything_in_it() -> None:
    """jobs/world.example.json loads: balance, HIT, 5 assignments, 4 requests, a block."""
    world = example_world()
    assert world.strict
    assert world.balance == "250.00"
    hit = call(world, "GetHIT", HITId=HIT)["HIT"]
    assert (hit["HITStatus"], hit["MaxAssignments"], hit["Reward"]) == ("Reviewable", 5, "0.50")
    assert call(world, "ListAssignmentsForHIT", HITId=HIT)["NumResults"] == 5
    assert (
        call(world, "ListQualificationRequests", QualificationTypeId=QT_EXPERT)["NumResults"] == 4
    )
    assert call(world, "ListWorkerBlocks")["NumResults"] == 1
    assert json.loads(Path(EXAMPLE).read_text())["balance"] == "250.00"


def test_a_minimal_file_gets_generous_defaults(tmp_path: Path) -> None:
    """Only the required fields: workers are implied, HIT fields and times defaulted."""
    world = load(
        {
            "hits": [{"HITId": "3H"}],
            "assignments": [{"AssignmentId": "3A", "WorkerId": "A1", "HITId": "3H"}],
            "qualification_types": [{"Name": "Good"}],
        },
        tmp_path,
    )
    hit = call(world, "GetHIT", HITId="3H")["HIT"]
    assert (hit["MaxAssignments"], hit["HITStatus"], hit["Reward"]) == (1, "Reviewable", "0.10")
    assert world.balance == "10000.00"
    call(world, "SendBonus", WorkerId="A1", AssignmentId="3A", BonusAmount="1", Reason="r")
    types = call(world, "ListQualificationTypes", MustBeRequestable=True)["QualificationTypes"]
    assert [t["Name"] for t in types] == ["Good"]


def test_times_accept_epoch_seconds_and_iso_8601(tmp_path: Path) -> None:
    """SubmitTime may be epoch seconds or ISO 8601 (naive means UTC)."""
    world = load(
        {
            "hits": [{"HITId": "3H", "MaxAssignments": 3, "AutoApprovalDelayInSeconds": 10**9}],
            "assignments": [
                {
                    "AssignmentId": "3A",
                    "WorkerId": "A1",
                    "HITId": "3H",
                    "SubmitTime": 1_700_000_000,
                },
                {
                    "AssignmentId": "3B",
                    "WorkerId": "A2",
                    "HITId": "3H",
                    "SubmitTime": "2023-11-14T22:13:20Z",
                },
                {
                    "AssignmentId": "3C",
                    "WorkerId": "A3",
                    "HITId": "3H",
                    "SubmitTime": "2023-11-14T22:13:20",
                },
            ],
        },
        tmp_path,
    )
    for assignment in ("3A", "3B", "3C"):
        got = call(world, "GetAssignment", AssignmentId=assignment)["Assignment"]
        assert got["SubmitTime"] == 1_700_000_000


def test_declared_statuses_and_reviewed_assignments_load(tmp_path: Path) -> None:
    """Approved assignments, revoked qualifications and a Reviewing HIT load as written."""
    world = load(
        {
            "qualification_types": [{"QualificationTypeId": "3Q", "Name": "Q"}],
            "hits": [{"HITId": "3H", "HITStatus": "Reviewing", "MaxAssignments": 2}],
            "assignments": [
                {
                    "AssignmentId": "3A",
                    "WorkerId": "A1",
                    "HITId": "3H",
                    "AssignmentStatus": "Approved",
                    "RequesterFeedback": "ok",
                },
            ],
            "qualifications": [
                {"QualificationTypeId": "3Q", "WorkerId": "A1", "Status": "Revoked"}
            ],
            "_comment": "comments are ignored",
        },
        tmp_path,
    )
    assert call(world, "GetHIT", HITId="3H")["HIT"]["HITStatus"] == "Reviewing"
    assignment = call(world, "GetAssignment", AssignmentId="3A")["Assignment"]
    assert assignment["AssignmentStatus"] == "Approved" and "ApprovalTime" in assignment
    listed = call(
        world, "ListWorkersWithQualificationType", QualificationTypeId="3Q", Status="Revoked"
    )
    assert listed["NumResults"] == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "world.json: expected a JSON object, not list"),
        ({"hits": {}}, "world.json: hits must be a list"),
        ({"wokers": []}, "world.json: unknown field 'wokers'"),
        ({"balance": "12.345"}, "world.json: balance '12.345' is not an amount"),
        (
            {"workers": [{"WorkerId": "B1"}]},
            "world.json: workers[0]: WorkerId 'B1' is not a valid id",
        ),
        (
            {"workers": [{"WorkerId": "A1"}, {"WorkerId": "A1"}]},
            "workers[1]: WorkerId 'A1' appears twice",
        ),
        (
            {"workers": [{"WorkerId": "A1", "soft_fail": -1}]},
            "workers[0]: soft_fail must be an integer ≥ 0",
        ),
        (
            {"workers": [{"WorkerId": "A1", "notifiable": "no"}]},
            "workers[0]: notifiable must be true or false",
        ),
        ({"workers": [{}]}, "workers[0]: WorkerId is required"),
        ({"hits": [{"HITId": "3H", "Titel": "x"}]}, "hits[0]: unknown field 'Titel'"),
        ({"hits": [{"HITId": "3H"}, {"HITId": "3H"}]}, "hits[1]: HITId '3H' appears twice"),
        (
            {"hits": [{"HITId": "3H", "HITStatus": "Asleep"}]},
            "hits[0]: HITStatus 'Asleep' is not one of",
        ),
        (
            {
                "hits": [{"HITId": "3H", "HITStatus": "Assignable", "MaxAssignments": 1}],
                "assignments": [{"WorkerId": "A1", "HITId": "3H"}],
            },
            "hits[0]: HITStatus 'Assignable' does not follow from the entry (it is 'Reviewable')",
        ),
        (
            {
                "hits": [{"HITId": "3H", "MaxAssignments": 1}],
                "assignments": [
                    {"WorkerId": "A1", "HITId": "3H"},
                    {"WorkerId": "A2", "HITId": "3H"},
                ],
            },
            "hits[0]: MaxAssignments 1 is less than its 2 assignments plus 0 pending",
        ),
        (
            {
                "hits": [
                    {"HITId": "3H", "QualificationRequirements": [{"QualificationTypeId": "3Q"}]}
                ]
            },
            "hits[0]: QualificationRequirements: QualificationTypeId '3Q' is not a",
        ),
        (
            {"hits": [{"HITId": "3H", "CreationTime": "yesterday"}]},
            "hits[0]: CreationTime must be epoch seconds or an ISO 8601 time",
        ),
        (
            {
                "hits": [{"HITId": "3H", "HITStatus": "Disposed"}],
                "assignments": [{"WorkerId": "A1", "HITId": "3H"}],
            },
            "hits[0]: a Disposed HIT cannot have Submitted assignments",
        ),
        (
            {"assignments": [{"WorkerId": "A1", "HITId": "3X"}]},
            "world.json: assignments[0]: HITId '3X' is not a HIT in this world",
        ),
        (
            {
                "hits": [{"HITId": "3H", "MaxAssignments": 3}],
                "assignments": [
                    {"WorkerId": "A1", "HITId": "3H"},
                    {"WorkerId": "A1", "HITId": "3H"},
                ],
            },
            "assignments[1]: worker 'A1' already has an assignment on HIT '3H'",
        ),
        (
            {
                "hits": [{"HITId": "3H"}],
                "assignments": [{"WorkerId": "A1", "HITId": "3H", "AssignmentStatus": "Done"}],
            },
            "assignments[0]: AssignmentStatus 'Done' is not one of Submitted, Approved, Rejected",
        ),
        (
            {"qualification_types": [{"Name": "Q"}, {"Name": "Q"}]},
            "qualification_types[1]: Name 'Q' is already used",
        ),
        (
            {"qualification_types": [{"QualificationTypeId": "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"}]},
            "appears twice (or is a system type)",
        ),
        (
            {"qualification_requests": [{"QualificationTypeId": "3Q", "WorkerId": "A1"}]},
            "qualification_requests[0]: QualificationTypeId '3Q' is not a qualification type",
        ),
        (
            {
                "qualification_requests": [
                    {"QualificationTypeId": "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "WorkerId": "A1"}
                ]
            },
            "is a system type",
        ),
        (
            {
                "qualification_types": [{"QualificationTypeId": "3Q"}],
                "qualifications": [
                    {"QualificationTypeId": "3Q", "WorkerId": "A1"},
                    {"QualificationTypeId": "3Q", "WorkerId": "A1"},
                ],
            },
            "qualifications[1]: worker 'A1' already has '3Q'",
        ),
        (
            {"blocks": [{"WorkerId": "A1"}, {"WorkerId": "A1"}]},
            "blocks[1]: WorkerId 'A1' is blocked twice",
        ),
        ({"blocks": ["A1"]}, "blocks[0]: expected a JSON object, not str"),
    ],
)
def test_bad_world_files_name_the_offending_entry(
    document: Any, message: str, tmp_path: Path
) -> None:
    """Every invalid world file raises ValueError naming the file and entry."""
    with pytest.raises(ValueError) as caught:
        load(document, tmp_path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "world.json"))


def test_a_file_that_is_not_json_is_a_value_error(tmp_path: Path) -> None:
    """Invalid JSON is reported as ValueError naming the file."""
    path = tmp_path / "world.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"world\.json: not JSON"):
        World.from_file(path, clock=Clock())


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    """A world file that cannot be read raises OSError (the CLI reports it)."""
    with pytest.raises(OSError):
        World.from_file(tmp_path / "absent.json", clock=Clock())


def test_from_dict_can_build_a_seeded_permissive_world() -> None:
    """from_dict(strict=False) seeds a world in which unknown ids still spring."""
    world = World.from_dict(
        {"workers": [{"WorkerId": "A1", "notifiable": False}]}, clock=Clock(), strict=False
    )
    out = call(world, "NotifyWorkers", Subject="s", MessageText="m", WorkerIds=["A1", "A2"])
    assert [f["WorkerId"] for f in out["NotifyWorkersFailureStatuses"]] == ["A1"]
