"""Tests for qualification types, grants and requests in the simulated world."""

from __future__ import annotations

from typing import Any

from test_sim_world_support import (
    HIT,
    QT_EXPERT,
    QT_STUDY,
    REQUESTS,
    UNNOTIFIABLE,
    WORKERS,
    call,
    error_of,
    example_world,
)

from turkbatch.sim.clock import Clock
from turkbatch.sim.world import World

NOT_EXIST = "You requested a Qualification that does not exist."
NEED_GRANTED = "This operation can be called with a status of: Granted"
NEED_PENDING = "This operation can be called with a status of: Pending"
MASTERS_SANDBOX = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"


def create_type(world: World, name: str, **extra: Any) -> dict[str, Any]:
    """Create a qualification type and return it."""
    out = call(
        world,
        "CreateQualificationType",
        Name=name,
        Description=f"{name} people",
        QualificationTypeStatus="Active",
        **extra,
    )
    return out["QualificationType"]


def pending_ids(world: World, **params: Any) -> list[str]:
    """Return the ids of the pending requests listed on one page."""
    page = call(world, "ListQualificationRequests", MaxResults=100, **params)
    return [r["QualificationRequestId"] for r in page["QualificationRequests"]]


def test_create_get_and_update_a_qualification_type() -> None:
    """A created type is readable and updatable; Name is fixed, the rest can change."""
    world = example_world()
    created = create_type(world, "Careful raters", Keywords="rating", RetryDelayInSeconds=3600)
    type_id = created["QualificationTypeId"]
    assert len(type_id) == 30 and type_id.isalnum() and type_id.isupper()
    assert created["IsRequestable"] is True and created["AutoGranted"] is False
    assert call(world, "GetQualificationType", QualificationTypeId=type_id) == {
        "QualificationType": created
    }
    updated = call(
        world,
        "UpdateQualificationType",
        QualificationTypeId=type_id,
        QualificationTypeStatus="Inactive",
        AutoGranted=True,
    )["QualificationType"]
    assert updated["QualificationTypeStatus"] == "Inactive"
    assert updated["AutoGrantedValue"] == 1
    assert updated["Name"] == "Careful raters"


def test_qualification_type_names_are_unique() -> None:
    """A second type with a live type's name fails with MTurk's text."""
    world = example_world()
    error = error_of(
        world,
        "CreateQualificationType",
        Name="Expert image labeler",
        Description="again",
        QualificationTypeStatus="Active",
    )
    assert error.turk_code == "AWS.MechanicalTurk.QualificationTypeAlreadyExists"
    assert error.message.startswith("You have already created a QualificationType with this name.")


def test_a_test_needs_a_duration_and_excludes_auto_granting() -> None:
    """Test without TestDurationInSeconds, or with AutoGranted, is refused."""
    world = example_world()
    assert (
        error_of(
            world,
            "CreateQualificationType",
            Name="T",
            Description="d",
            QualificationTypeStatus="Active",
            Test="<QuestionForm/>",
        ).type_
        == "RequestError"
    )
    assert (
        "AutoGranted"
        in error_of(
            world,
            "CreateQualificationType",
            Name="T",
            Description="d",
            QualificationTypeStatus="Active",
            Test="<QuestionForm/>",
            TestDurationInSeconds=60,
            AutoGranted=True,
        ).message
    )
    with_test = create_type(world, "Tested", Test="<QuestionForm/>", TestDurationInSeconds=60)
    assert (
        "AutoGranted"
        in error_of(
            world,
            "UpdateQualificationType",
            QualificationTypeId=with_test["QualificationTypeId"],
            AutoGranted=True,
        ).message
    )


def test_delete_rejects_pending_requests_keeps_grants_and_frees_the_name() -> None:
    """A deleted type vanishes; its requests are rejected and its name is free again
    48 hours later."""
    clock = Clock()
    world = example_world(clock)
    call(world, "DeleteQualificationType", QualificationTypeId=QT_EXPERT)
    error = error_of(world, "GetQualificationType", QualificationTypeId=QT_EXPERT)
    assert error.turk_code == "AWS.MechanicalTurk.QualificationTypeDoesNotExist"
    assert error_of(world, "DeleteQualificationType", QualificationTypeId=QT_EXPERT).turk_code == (
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist"
    )
    assert pending_ids(world) == []
    assert (
        call(world, "GetQualificationScore", QualificationTypeId=QT_EXPERT, WorkerId=WORKERS[3])[
            "Qualification"
        ]["IntegerValue"]
        == 95
    )
    taken = error_of(world, "CreateQualificationType", Name="Expert image labeler",
                     Description="d", QualificationTypeStatus="Active")  # fmt: skip
    assert taken.turk_code == "AWS.MechanicalTurk.QualificationTypeAlreadyExists"
    clock.advance(48 * 3600)
    create_type(world, "Expert image labeler")
    rejected = [
        c for c in world.ledger()["qualification_changes"] if c["Action"] == "RejectRequest"
    ]
    assert len(rejected) == 4


def test_list_qualification_types_filters() -> None:
    """MustBeRequestable, MustBeOwnedByCaller and Query filter the listing."""
    world = example_world()

    def names(**params: Any) -> list[str]:
        page = call(world, "ListQualificationTypes", MaxResults=100, **params)
        return [qual_type["Name"] for qual_type in page["QualificationTypes"]]

    assert names(MustBeRequestable=True) == ["Expert image labeler", "Completed study 2026-11"]
    assert "Masters" in names(MustBeRequestable=False)
    assert "Masters" not in names(MustBeRequestable=False, MustBeOwnedByCaller=True)
    assert names(MustBeRequestable=False, Query="LABELLING") == ["Expert image labeler"]


def test_system_types_cannot_be_granted_or_changed() -> None:
    """MTurk's own types are readable but not grantable or deletable by the requester."""
    world = example_world()
    masters = call(world, "GetQualificationType", QualificationTypeId=MASTERS_SANDBOX)
    assert masters["QualificationType"]["IsRequestable"] is False
    for operation, extra in (
        ("AssociateQualificationWithWorker", {"WorkerId": WORKERS[0]}),
        ("DeleteQualificationType", {}),
    ):
        error = error_of(world, operation, QualificationTypeId=MASTERS_SANDBOX, **extra)
        assert error.turk_code == "AWS.MechanicalTurk.PermissionDenied"


def test_associate_grants_overwrites_and_regrants() -> None:
    """Associate grants, overwrites the value, and re-grants a revoked qualification."""
    clock = Clock()
    world = example_world(clock)
    key = {"QualificationTypeId": QT_STUDY, "WorkerId": WORKERS[0]}
    call(world, "AssociateQualificationWithWorker", **key, IntegerValue=10)
    first = call(world, "GetQualificationScore", **key)["Qualification"]
    assert (first["IntegerValue"], first["Status"]) == (10, "Granted")
    call(world, "AssociateQualificationWithWorker", **key)
    assert call(world, "GetQualificationScore", **key)["Qualification"]["IntegerValue"] == 1
    call(world, "DisassociateQualificationFromWorker", **key, Reason="done")
    clock.advance(60)
    call(world, "AssociateQualificationWithWorker", **key, IntegerValue=7)
    regranted = call(world, "GetQualificationScore", **key)["Qualification"]
    assert (regranted["IntegerValue"], regranted["Status"]) == (7, "Granted")
    assert regranted["GrantTime"] > first["GrantTime"]
    actions = [c["Action"] for c in world.ledger()["qualification_changes"]]
    assert actions == ["Associate", "Associate", "Disassociate", "Associate"]


def test_associate_in_strict_world_needs_a_known_worker_and_type() -> None:
    """Strict: unknown worker → ParameterValidationError; unknown type → does not exist."""
    world = example_world()
    worker = error_of(
        world, "AssociateQualificationWithWorker", QualificationTypeId=QT_STUDY, WorkerId="A0NOBODY"
    )
    assert worker.type_ == "ParameterValidationError"
    qual_type = error_of(
        world, "AssociateQualificationWithWorker", QualificationTypeId="3NOPE", WorkerId=WORKERS[0]
    )
    assert qual_type.turk_code == "AWS.MechanicalTurk.QualificationTypeDoesNotExist"


def test_disassociate_and_score_errors() -> None:
    """Never granted → 'does not exist'; revoked → 'status of: Granted'."""
    world = example_world()
    key = {"QualificationTypeId": QT_STUDY, "WorkerId": WORKERS[0]}
    for operation in ("DisassociateQualificationFromWorker", "GetQualificationScore"):
        error = error_of(world, operation, **key)
        assert (error.message, error.turk_code) == (
            NOT_EXIST,
            "AWS.MechanicalTurk.QualificationDoesNotExist",
        )
    held = {"QualificationTypeId": QT_STUDY, "WorkerId": WORKERS[2]}
    call(world, "DisassociateQualificationFromWorker", **held)
    for operation in ("DisassociateQualificationFromWorker", "GetQualificationScore"):
        error = error_of(world, operation, **held)
        assert (error.message, error.turk_code) == (
            NEED_GRANTED,
            "AWS.MechanicalTurk.InvalidQualificationState",
        )
    unknown = error_of(
        world, "GetQualificationScore", QualificationTypeId="3NOPE", WorkerId=WORKERS[0]
    )
    assert unknown.message == NOT_EXIST


def test_list_workers_with_qualification_type_by_status() -> None:
    """Status narrows ListWorkersWithQualificationType to Granted or Revoked."""
    world = example_world()
    call(
        world, "AssociateQualificationWithWorker", QualificationTypeId=QT_STUDY, WorkerId=WORKERS[0]
    )
    call(
        world,
        "DisassociateQualificationFromWorker",
        QualificationTypeId=QT_STUDY,
        WorkerId=WORKERS[2],
    )

    def workers(**p: Any) -> list[str]:
        page = call(world, "ListWorkersWithQualificationType", QualificationTypeId=QT_STUDY, **p)
        return [q["WorkerId"] for q in page["Qualifications"]]

    assert workers() == [WORKERS[2], WORKERS[0]]
    assert workers(Status="Granted") == [WORKERS[0]]
    assert workers(Status="Revoked") == [WORKERS[2]]


def test_qualification_request_lifecycle() -> None:
    """Pending requests are listed; accepted or rejected ones drop out and cannot repeat."""
    world = example_world()
    assert pending_ids(world, QualificationTypeId=QT_EXPERT) == REQUESTS
    assert pending_ids(world) == REQUESTS
    assert pending_ids(world, QualificationTypeId=QT_STUDY) == []
    call(world, "AcceptQualificationRequest", QualificationRequestId=REQUESTS[0], IntegerValue=91)
    call(world, "RejectQualificationRequest", QualificationRequestId=REQUESTS[1], Reason="62%")
    call(world, "AcceptQualificationRequest", QualificationRequestId=REQUESTS[2])
    assert pending_ids(world, QualificationTypeId=QT_EXPERT) == [REQUESTS[3]]
    score = call(
        world, "GetQualificationScore", QualificationTypeId=QT_EXPERT, WorkerId=WORKERS[0]
    )["Qualification"]
    assert score["IntegerValue"] == 91
    default = call(
        world, "GetQualificationScore", QualificationTypeId=QT_EXPERT, WorkerId=UNNOTIFIABLE
    )["Qualification"]
    assert default["IntegerValue"] == 1
    for operation in ("AcceptQualificationRequest", "RejectQualificationRequest"):
        for request in REQUESTS[:3]:
            error = error_of(world, operation, QualificationRequestId=request)
            assert (error.message, error.turk_code) == (
                NEED_PENDING,
                "AWS.MechanicalTurk.InvalidQualificationRequestState",
            )
    changes = world.ledger()["qualification_changes"]
    assert [(c["Action"], c["QualificationRequestId"]) for c in changes] == [
        ("AcceptRequest", REQUESTS[0]),
        ("RejectRequest", REQUESTS[1]),
        ("AcceptRequest", REQUESTS[2]),
    ]
    assert changes[1]["Reason"] == "62%"


def test_accepting_while_paging_pending_requests_skips_nothing() -> None:
    """Accepting each page of pending requests as it is read still reaches every request."""
    world = example_world()
    accepted = []
    params: dict[str, Any] = {"QualificationTypeId": QT_EXPERT, "MaxResults": 1}
    while True:
        page = call(world, "ListQualificationRequests", **params)
        for request in page["QualificationRequests"]:
            call(
                world,
                "AcceptQualificationRequest",
                QualificationRequestId=request["QualificationRequestId"],
            )
            accepted.append(request["QualificationRequestId"])
        if "NextToken" not in page:
            break
        params["NextToken"] = page["NextToken"]
    assert accepted == REQUESTS


def test_list_hits_for_qualification_type() -> None:
    """HITs requiring a type are listed for it; other types list none."""
    world = example_world()
    assert [
        h["HITId"]
        for h in call(world, "ListHITsForQualificationType", QualificationTypeId=QT_EXPERT)["HITs"]
    ] == [HIT]
    assert (
        call(world, "ListHITsForQualificationType", QualificationTypeId=QT_STUDY)["NumResults"] == 0
    )
