"""
Workers' qualifications and qualification requests: AssociateQualificationWithWorker,
DisassociateQualificationFromWorker, GetQualificationScore,
ListWorkersWithQualificationType, ListQualificationRequests, AcceptQualificationRequest,
RejectQualificationRequest.

- Associate always succeeds on a type you own: it grants, re-grants a revoked
  qualification, or overwrites the IntegerValue (default 1, as the legacy API had).
- Disassociate and GetQualificationScore fail with "You requested a Qualification that
  does not exist." when the worker never had it, and with "This operation can be called
  with a status of: Granted" when it was revoked.
- Only pending requests are listed; Accept grants (IntegerValue default 1) and Reject
  records the reason; either on a handled request fails with "This operation can be
  called with a status of: Pending" (InvalidQualificationRequestState).

Every change is logged in the ledger's ``qualification_changes``.
"""

from __future__ import annotations

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_pages import paginate
from turkbatch.sim.world_records import (
    Json,
    Qualification,
    QualificationStatus,
    QualRequest,
    QualType,
    RequestState,
)
from turkbatch.sim.world_state import Operation, Params, State

DEFAULT_VALUE = 1
"""The IntegerValue granted when the caller gives none."""


def _log(state: State, action: str, type_id: str, worker_id: str, **extra: object) -> None:
    entry: Json = {
        "Action": action,
        "QualificationTypeId": type_id,
        "WorkerId": worker_id,
        "IntegerValue": None,
        "QualificationRequestId": None,
        "Reason": None,
        "SendNotification": None,
        "Time": state.now(),
    }
    entry.update(extra)
    state.log["qualification_changes"].append(entry)


def grant(state: State, qual_type: QualType, worker_id: str, value: int | None) -> None:
    """Grant (or re-grant, or re-score) a qualification; GrantTime moves on re-grant."""
    key = (qual_type.type_id, worker_id)
    held = state.qualifications.get(key)
    now = state.now()
    if held is None:
        held = Qualification(
            type_id=qual_type.type_id,
            worker_id=worker_id,
            seq=state.next_seq(),
            value=value,
            status=QualificationStatus.GRANTED,
            grant_time=now,
        )
        state.qualifications[key] = held
        qual_type.grants.append(held)
        return
    if held.status is QualificationStatus.REVOKED:
        held.status = QualificationStatus.GRANTED
        held.grant_time = now
    held.value = value


def associate(state: State, params: Params) -> Json:
    """Grant a qualification to a worker, or change its value."""
    qual_type = state.qual_type(params["QualificationTypeId"])
    if not qual_type.owned:
        raise err.not_owner(qual_type.type_id)
    worker_id = params["WorkerId"]
    state.worker(worker_id)
    value = params.get("IntegerValue", DEFAULT_VALUE)
    grant(state, qual_type, worker_id, value)
    notify = params.get("SendNotification", True)
    _log(
        state,
        "Associate",
        qual_type.type_id,
        worker_id,
        IntegerValue=value,
        SendNotification=notify,
    )
    return {}


def _held(state: State, params: Params) -> Qualification:
    """Return a worker's Granted qualification, or raise MTurk's error."""
    held = state.qualifications.get((params["QualificationTypeId"], params["WorkerId"]))
    if held is None:
        raise err.qualification_not_found()
    if held.status is not QualificationStatus.GRANTED:
        raise err.wrong_status("Granted", err.INVALID_QUALIFICATION_STATE)
    return held


def disassociate(state: State, params: Params) -> Json:
    """Revoke a worker's qualification."""
    held = _held(state, params)
    held.status = QualificationStatus.REVOKED
    reason = params.get("Reason")
    _log(state, "Disassociate", held.type_id, held.worker_id, Reason=reason)
    return {}


def get_qualification_score(state: State, params: Params) -> Json:
    """Return a worker's Granted qualification."""
    return {"Qualification": _held(state, params).to_json()}


def list_workers_with_qualification_type(state: State, params: Params) -> Json:
    """List the qualifications of one type, optionally only Granted or Revoked ones."""
    qual_type = state.qual_type(params["QualificationTypeId"])
    status = params.get("Status")
    return paginate(
        state,
        params,
        scope=f"ListWorkersWithQualificationType:{qual_type.type_id}:{status}",
        items=qual_type.grants,
        result_key="Qualifications",
        render=Qualification.to_json,
        keep=None if status is None else (lambda q: q.status == status),
    )


def list_qualification_requests(state: State, params: Params) -> Json:
    """List pending qualification requests, of one type or of all."""
    type_id = params.get("QualificationTypeId")
    items = state.request_list if type_id is None else state.qual_type(type_id).requests
    return paginate(
        state,
        params,
        scope=f"ListQualificationRequests:{type_id}",
        items=items,
        result_key="QualificationRequests",
        render=QualRequest.to_json,
        keep=lambda request: request.state is RequestState.PENDING,
    )


def _pending(state: State, params: Params) -> QualRequest:
    request = state.request(params["QualificationRequestId"])
    if request.state is not RequestState.PENDING:
        raise err.wrong_status("Pending", err.INVALID_QUALIFICATION_REQUEST_STATE)
    return request


def accept_request(state: State, params: Params) -> Json:
    """Accept a pending request: grant the qualification to the worker who asked."""
    request = _pending(state, params)
    value = params.get("IntegerValue", DEFAULT_VALUE)
    grant(state, state.qual_types[request.type_id], request.worker_id, value)
    request.state = RequestState.ACCEPTED
    _log(
        state,
        "AcceptRequest",
        request.type_id,
        request.worker_id,
        IntegerValue=value,
        QualificationRequestId=request.request_id,
    )
    return {}


def reject_request(state: State, params: Params) -> Json:
    """Reject a pending request, with an optional reason the worker sees."""
    request = _pending(state, params)
    request.state = RequestState.REJECTED
    _log(
        state,
        "RejectRequest",
        request.type_id,
        request.worker_id,
        QualificationRequestId=request.request_id,
        Reason=params.get("Reason"),
    )
    return {}


OPERATIONS: dict[str, Operation] = {
    "AssociateQualificationWithWorker": associate,
    "DisassociateQualificationFromWorker": disassociate,
    "GetQualificationScore": get_qualification_score,
    "ListWorkersWithQualificationType": list_workers_with_qualification_type,
    "ListQualificationRequests": list_qualification_requests,
    "AcceptQualificationRequest": accept_request,
    "RejectQualificationRequest": reject_request,
}
