"""
Qualification types: CreateQualificationType, GetQualificationType,
UpdateQualificationType, DeleteQualificationType, ListQualificationTypes.

Names are unique among the requester's live types. MTurk's system types (Masters,
Worker_Locale, ...) exist in every world: they can be read, listed and required by HITs,
but not granted, changed or deleted (PermissionDenied). A deleted type disappears at once:
every later call naming it fails with QualificationTypeDoesNotExist, its pending
requests are rejected, the qualifications already granted stay with the workers, and
the HIT types that require it are deleted too, so creating HITs of them fails with
HITTypeDoesNotExist [C: model doc]. Its name stays taken for 48 hours of simulated time
(the doc's "up to 48 hours"; the simulator takes the longest). A ``Test`` must be
QuestionForm XML (:mod:`turkbatch.sim.world_inputs`).
"""

from __future__ import annotations

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_inputs import check_test
from turkbatch.sim.world_lifecycle import announce_type
from turkbatch.sim.world_pages import paginate
from turkbatch.sim.world_records import Json, QualType, RequestState
from turkbatch.sim.world_state import Operation, Params, State

_UPDATABLE = {
    "Description": "description",
    "QualificationTypeStatus": "status",
    "Test": "test",
    "AnswerKey": "answer_key",
    "TestDurationInSeconds": "test_duration",
    "RetryDelayInSeconds": "retry_delay",
    "AutoGranted": "auto_granted",
    "AutoGrantedValue": "auto_granted_value",
}


_TEST_AND_AUTO = "A QualificationType cannot have both a Test and AutoGranted set to true."
NAME_RESERVED = 48 * 3600.0
"""How long a deleted type's name stays taken, in seconds."""


def _check_test(test: str | None, duration: int | None, auto_granted: bool) -> None:
    if test is not None:
        check_test(test)
    if test is not None and duration is None:
        raise err.invalid_parameter("TestDurationInSeconds must be specified with a Test.")
    if test is not None and auto_granted:
        raise err.invalid_parameter(_TEST_AND_AUTO)


def create_qualification_type(state: State, params: Params) -> Json:
    """Create a qualification type with a name not used by another live type."""
    name = params["Name"]
    holder = state.qual_type_names.get(name)
    if holder is not None:
        held = state.qual_types[holder]
        if held.deleted_at is None or state.now() < held.deleted_at + NAME_RESERVED:
            raise err.qual_type_name_taken()
        del state.qual_type_names[name]
    test = params.get("Test")
    if params.get("AnswerKey") is not None and test is None:
        raise err.invalid_parameter("An AnswerKey can only be given with a Test.")
    auto = bool(params.get("AutoGranted", False))
    _check_test(test, params.get("TestDurationInSeconds"), auto)
    qual_type = state.add_qual_type(
        QualType(
            type_id=state.new_id("qualtype", state.qual_types),
            seq=state.next_seq(),
            name=name,
            description=params["Description"],
            status=params["QualificationTypeStatus"],
            creation_time=state.now(),
            keywords=params.get("Keywords"),
            test=test,
            test_duration=params.get("TestDurationInSeconds"),
            answer_key=params.get("AnswerKey"),
            retry_delay=params.get("RetryDelayInSeconds"),
            auto_granted=auto,
            auto_granted_value=params.get("AutoGrantedValue"),
        )
    )
    announce_type(state, qual_type)
    return {"QualificationType": qual_type.to_json()}


def get_qualification_type(state: State, params: Params) -> Json:
    """Return a qualification type."""
    return {"QualificationType": state.qual_type(params["QualificationTypeId"]).to_json()}


def _owned(state: State, params: Params) -> QualType:
    qual_type = state.qual_type(params["QualificationTypeId"])
    if not qual_type.owned:
        raise err.not_owner(qual_type.type_id)
    return qual_type


def update_qualification_type(state: State, params: Params) -> Json:
    """Change a type's description, status, test, retry delay or auto-granting."""
    qual_type = _owned(state, params)
    test = params.get("Test")
    if test is not None:
        _check_test(test, params.get("TestDurationInSeconds"), False)
    has_test = test is not None or qual_type.test is not None
    if params.get("AutoGranted") and has_test:
        raise err.invalid_parameter(_TEST_AND_AUTO)
    for member, attribute in _UPDATABLE.items():
        if member in params:
            setattr(qual_type, attribute, params[member])
    if test is not None and "AnswerKey" not in params:
        qual_type.answer_key = None
    return {"QualificationType": qual_type.to_json()}


def delete_qualification_type(state: State, params: Params) -> Json:
    """Delete a type and the HIT types requiring it; reject its pending requests."""
    qual_type = _owned(state, params)
    qual_type.disposed = True
    qual_type.deleted_at = state.now()
    for hit_type in state.hit_types.values():
        if any(q["QualificationTypeId"] == qual_type.type_id for q in hit_type.qual_requirements):
            hit_type.disposed = True
    for request in qual_type.requests:
        if request.state is RequestState.PENDING:
            request.state = RequestState.REJECTED
            state.log["qualification_changes"].append(
                {
                    "Action": "RejectRequest",
                    "QualificationTypeId": qual_type.type_id,
                    "WorkerId": request.worker_id,
                    "IntegerValue": None,
                    "QualificationRequestId": request.request_id,
                    "Reason": "The Qualification type was deleted.",
                    "SendNotification": None,
                    "Time": state.now(),
                }
            )
    return {}


def list_qualification_types(state: State, params: Params) -> Json:
    """List live types, filtered by requestability, ownership and a text query."""
    requestable = bool(params["MustBeRequestable"])
    owned = bool(params.get("MustBeOwnedByCaller", False))
    query = params.get("Query")
    needle = None if query is None else query.casefold()

    def keep(qual_type: QualType) -> bool:
        if qual_type.disposed or (requestable and not qual_type.is_requestable):
            return False
        if owned and not qual_type.owned:
            return False
        if needle is None:
            return True
        text = " ".join([qual_type.name, qual_type.description, qual_type.keywords or ""])
        return needle in text.casefold()

    return paginate(
        state,
        params,
        scope=f"ListQualificationTypes:{requestable}:{owned}:{query}",
        items=state.qual_type_list,
        result_key="QualificationTypes",
        render=QualType.to_json,
        keep=keep,
    )


OPERATIONS: dict[str, Operation] = {
    "CreateQualificationType": create_qualification_type,
    "GetQualificationType": get_qualification_type,
    "UpdateQualificationType": update_qualification_type,
    "DeleteQualificationType": delete_qualification_type,
    "ListQualificationTypes": list_qualification_types,
}
