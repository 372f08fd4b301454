"""
Tests for turkbatch.client: every error the simulator can emit is classified.

Each error is provoked over loopback with the real aiobotocore client (botocore is never
mocked) and must come out of :meth:`MTurkClient.call` as the right
:class:`~turkbatch.errors.OperationError` subclass. Completeness is checked against the
simulator itself: the TurkErrorCodes received must be exactly
:data:`turkbatch.sim.world_errors.TURK_ERROR_CODES`, and every ``__type`` the server's
source can put on the wire must have a scenario, so a new simulator error without one
fails here.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web
import anyio
import botocore.exceptions as bce
import botocore.session
import pytest
from botocore.parsers import create_parser

import turkbatch.client
import turkbatch.sim.server
import turkbatch.sim.sigv4
import turkbatch.sim.wire
from turkbatch.client import ClientSettings, MTurkClient, classify
from turkbatch.errors import (
    AlreadyDone,
    OperationError,
    PermanentError,
    SettingError,
    Throttled,
    TransientError,
)
from turkbatch.sim import Clock, FaultSettings, Simulator, World
from turkbatch.sim.server import DEFAULT_MAX_BODY
from turkbatch.sim.wire import JSON_11, TARGET_PREFIX
from turkbatch.sim.world_errors import ERROR_TYPES, TURK_ERROR_CODES

Params = Mapping[str, Any]

REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DAY = 86400.0

GOOD_KEY, GOOD_SECRET = "AKIDGOOD", "goodsecret"
NO_FAULTS = FaultSettings()

# --- the strict world ----------------------------------------------------------------------

WORKER_A = "A1WORKERAAAAAA"
WORKER_B = "A2WORKERBBBBBB"
WORKER_C = "A3WORKERCCCCCC"
STRANGER = "A9STRANGER0000"  # not in the world

QUAL = "3QUALEXPERT000000000000000001"
QUAL_RETIRED = "3QUALRETIRED00000000000000001"
SYSTEM_QUAL = "00000000000000000071"  # Worker_Locale: MTurk's, not ours

HIT_REVIEWABLE = "3HITREVIEWABLE000000000000001"  # two Submitted, one long-rejected
HIT_UNREVIEWED = "3HITUNREVIEWED000000000000001"  # Reviewable, one Submitted (never touched)
HIT_REVIEWED = "3HITREVIEWED00000000000000001"  # Reviewable, all reviewed: deletable
HIT_LIVE = "3HITASSIGNABLE000000000000001"  # Assignable, 5 assignments, cheap
HIT_PRICEY = "3HITPRICEY0000000000000000001"  # Assignable, 1 assignment at 50.00
HIT_TYPE_LIVE = "3HITTYPELIVE00000000000000001"

ASSIGN_A = "3ASSIGNA000000000000000000001"
ASSIGN_B = "3ASSIGNB000000000000000000001"
ASSIGN_OLD = "3ASSIGNOLD0000000000000000001"  # rejected, submitted 40 days ago
ASSIGN_PENDING = "3ASSIGNPENDING000000000000001"
ASSIGN_REVIEWED = "3ASSIGNREVIEWED00000000000001"  # rejected yesterday

REQ_ACCEPT = "3REQACCEPT0000000000000000001"
REQ_REJECT = "3REQREJECT0000000000000000001"

QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2006-07-14/ExternalQuestion.xsd"><ExternalURL>https://example.com/task</ExternalURL>'
    "<FrameHeight>600</FrameHeight></ExternalQuestion>"
)
NEW_HIT: Params = {
    "Title": "Label ten images",
    "Description": "Draw a box around every bicycle.",
    "Reward": "0.10",
    "AssignmentDurationInSeconds": 600,
    "LifetimeInSeconds": 86400,
    "Question": QUESTION,
}
# within a year of the HITs' expiry: MTurk refuses a longer ExpirationIncrementInSeconds
EXPIRE_AT = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def world_document(now: float) -> dict[str, Any]:
    """Return a small strict world (balance 20.00) holding one of everything the cases need."""
    return {
        "balance": "20.00",
        "workers": [{"WorkerId": w} for w in (WORKER_A, WORKER_B, WORKER_C)],
        "qualification_types": [
            {"QualificationTypeId": QUAL, "Name": "Expert labeller"},
            {"QualificationTypeId": QUAL_RETIRED, "Name": "Retired screening"},
        ],
        "hits": [
            {"HITId": HIT_REVIEWABLE, "CreationTime": now - 45 * DAY, "HITStatus": "Reviewable"},
            {"HITId": HIT_UNREVIEWED, "CreationTime": now - DAY, "HITStatus": "Reviewable"},
            {"HITId": HIT_REVIEWED, "CreationTime": now - DAY, "HITStatus": "Reviewable"},
            {"HITId": HIT_LIVE, "HITTypeId": HIT_TYPE_LIVE, "MaxAssignments": 5},
            {"HITId": HIT_PRICEY, "Reward": "50.00", "MaxAssignments": 1},
        ],
        "assignments": [
            {"AssignmentId": ASSIGN_A, "WorkerId": WORKER_A, "HITId": HIT_REVIEWABLE},
            {"AssignmentId": ASSIGN_B, "WorkerId": WORKER_B, "HITId": HIT_REVIEWABLE},
            {
                "AssignmentId": ASSIGN_OLD,
                "WorkerId": WORKER_C,
                "HITId": HIT_REVIEWABLE,
                "AssignmentStatus": "Rejected",
                "SubmitTime": now - 40 * DAY,
            },
            {"AssignmentId": ASSIGN_PENDING, "WorkerId": WORKER_B, "HITId": HIT_UNREVIEWED},
            {
                "AssignmentId": ASSIGN_REVIEWED,
                "WorkerId": WORKER_A,
                "HITId": HIT_REVIEWED,
                "AssignmentStatus": "Rejected",
                "SubmitTime": now - DAY / 2,
            },
        ],
        "qualification_requests": [
            {
                "QualificationRequestId": REQ_ACCEPT,
                "QualificationTypeId": QUAL,
                "WorkerId": WORKER_A,
            },
            {
                "QualificationRequestId": REQ_REJECT,
                "QualificationTypeId": QUAL,
                "WorkerId": WORKER_C,
            },
        ],
        "qualifications": [{"QualificationTypeId": QUAL, "WorkerId": WORKER_B}],
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldCase:
    """One call the world refuses (after ``before`` succeeded), and its classification."""

    op: str
    params: Params
    expect: type[OperationError]
    #: the name after ``AWS.MechanicalTurk.``; ``None`` for a ParameterValidationError
    turk: str | None
    before: tuple[tuple[str, Params], ...] = ()

    @property
    def turk_code(self) -> str | None:
        """Return the full TurkErrorCode expected."""
        return None if self.turk is None else f"AWS.MechanicalTurk.{self.turk}"

    @property
    def error_type(self) -> str:
        """Return the ``__type`` expected (RequestError always carries a TurkErrorCode)."""
        return "ParameterValidationError" if self.turk is None else "RequestError"


def _bonus(worker: str, assignment: str, amount: str = "1.00", **extra: str) -> Params:
    return {
        "WorkerId": worker,
        "AssignmentId": assignment,
        "BonusAmount": amount,
        "Reason": "Thanks for the careful work.",
        **extra,
    }


_TOKEN_BONUS = _bonus(WORKER_A, ASSIGN_A, UniqueRequestToken="bonus-a-1")
_EXTEND = {"HITId": HIT_LIVE, "NumberOfAdditionalAssignments": 1, "UniqueRequestToken": "ext-1"}
_CREATE = {**NEW_HIT, "UniqueRequestToken": "create-1"}
_CREATE_TYPED = {
    "HITTypeId": HIT_TYPE_LIVE,
    "LifetimeInSeconds": 86400,
    "Question": QUESTION,
    "UniqueRequestToken": "create-typed-1",
}
_EXPIRE = {"HITId": HIT_LIVE, "ExpireAt": EXPIRE_AT}
_APPROVE_A = {"AssignmentId": ASSIGN_A}
_REJECT_B = {"AssignmentId": ASSIGN_B, "RequesterFeedback": "Boxes missing."}
_DELETE_REVIEWED = {"HITId": HIT_REVIEWED}
_REVOKE_B = {"QualificationTypeId": QUAL, "WorkerId": WORKER_B, "Reason": "Retest."}
_NOT_HELD = {"QualificationTypeId": QUAL, "WorkerId": WORKER_C}

#: In order: later cases rely on the state earlier ones left behind.
WORLD_CASES: tuple[WorldCase, ...] = (
    # -- assignments: an unknown id is a mistake, a second review is "done" -------------------
    WorldCase(
        op="ApproveAssignment",
        params={"AssignmentId": "3NOSUCHASSIGNMENT000000000001"},
        expect=PermanentError,
        turk="AssignmentDoesNotExist",
    ),
    WorldCase(
        op="GetAssignment",
        params={"AssignmentId": "3NOSUCHASSIGNMENT000000000001"},
        expect=PermanentError,
        turk="AssignmentDoesNotExist",
    ),
    WorldCase(
        op="SendBonus",  # names another worker's assignment
        params=_bonus(WORKER_C, ASSIGN_A),
        expect=PermanentError,
        turk="AssignmentDoesNotExist",
    ),
    WorldCase(
        op="ApproveAssignment",
        params=_APPROVE_A,
        before=(("ApproveAssignment", _APPROVE_A),),
        expect=AlreadyDone,
        turk="InvalidAssignmentState",
    ),
    WorldCase(
        op="RejectAssignment",  # already approved: the engine confirms which way it went
        params={"AssignmentId": ASSIGN_A, "RequesterFeedback": "No."},
        expect=AlreadyDone,
        turk="InvalidAssignmentState",
    ),
    WorldCase(
        op="RejectAssignment",
        params=_REJECT_B,
        before=(("RejectAssignment", _REJECT_B),),
        expect=AlreadyDone,
        turk="InvalidAssignmentState",
    ),
    WorldCase(
        op="ApproveAssignment",  # same TurkErrorCode, but "can no longer be overridden"
        params={"AssignmentId": ASSIGN_OLD, "OverrideRejection": True},
        expect=PermanentError,
        turk="InvalidAssignmentState",
    ),
    WorldCase(
        op="ApproveAssignment",  # "has been deleted; ... can no longer be approved"
        params={"AssignmentId": ASSIGN_REVIEWED, "OverrideRejection": True},
        before=(("DeleteHIT", _DELETE_REVIEWED),),
        expect=PermanentError,
        turk="InvalidAssignmentState",
    ),
    # -- HITs --------------------------------------------------------------------------------
    WorldCase(
        op="GetHIT",
        params={"HITId": "3NOSUCHHIT000000000000000001"},
        expect=PermanentError,
        turk="HITDoesNotExist",
    ),
    WorldCase(
        op="DeleteHIT",  # unknown, not "already deleted"
        params={"HITId": "3NOSUCHHIT000000000000000001"},
        expect=PermanentError,
        turk="HITDoesNotExist",
    ),
    WorldCase(
        op="CreateHITWithHITType",
        params={**_CREATE_TYPED, "HITTypeId": "3NOSUCHHITTYPE00000000000001"},
        expect=PermanentError,
        turk="HITTypeDoesNotExist",
    ),
    WorldCase(
        op="DeleteHIT",  # deleted by an earlier case: "currently in the state 'Disposed'"
        params=_DELETE_REVIEWED,
        expect=AlreadyDone,
        turk="InvalidHITState",
    ),
    WorldCase(
        op="DeleteHIT",  # "currently in the state 'Assignable'"
        params={"HITId": HIT_LIVE},
        expect=PermanentError,
        turk="InvalidHITState",
    ),
    WorldCase(
        op="DeleteHIT",  # "has submitted assignments that have not been approved or rejected"
        params={"HITId": HIT_UNREVIEWED},
        expect=PermanentError,
        turk="InvalidHITState",
    ),
    WorldCase(
        op="CreateAdditionalAssignmentsForHIT",  # 'Disposed' text, but not DeleteHIT
        params={"HITId": HIT_REVIEWED, "NumberOfAdditionalAssignments": 1},
        expect=PermanentError,
        turk="InvalidHITState",
    ),
    WorldCase(
        op="UpdateExpirationForHIT",
        params={"HITId": HIT_REVIEWED, "ExpireAt": EXPIRE_AT},
        expect=PermanentError,
        turk="InvalidHITState",
    ),
    WorldCase(
        op="GetFileUploadURL",
        params={"AssignmentId": ASSIGN_REVIEWED, "QuestionIdentifier": "photo"},
        expect=PermanentError,
        turk="InvalidHITState",
    ),
    WorldCase(
        op="UpdateHITReviewStatus",
        params={"HITId": HIT_LIVE},
        expect=PermanentError,
        turk="InvalidHITState",
    ),
    WorldCase(
        op="CreateAdditionalAssignmentsForHIT",  # 5 → 10 crosses the 10-assignment line
        params={"HITId": HIT_LIVE, "NumberOfAdditionalAssignments": 5},
        expect=PermanentError,
        turk="InvalidMaximumAssignmentsIncrease",
    ),
    WorldCase(
        op="CreateAdditionalAssignmentsForHIT",
        params=_EXTEND,
        before=(("CreateAdditionalAssignmentsForHIT", _EXTEND),),
        expect=AlreadyDone,
        turk="DuplicateRequest",
    ),
    WorldCase(
        op="UpdateExpirationForHIT",  # MTurk's implicit token: HITId + ExpireAt
        params=_EXPIRE,
        before=(("UpdateExpirationForHIT", _EXPIRE),),
        expect=AlreadyDone,
        turk="DuplicateRequest",
    ),
    WorldCase(
        op="CreateHIT",
        params=_CREATE,
        before=(("CreateHIT", _CREATE),),
        expect=AlreadyDone,
        turk="HitAlreadyExists",
    ),
    WorldCase(
        op="CreateHITWithHITType",
        params=_CREATE_TYPED,
        before=(("CreateHITWithHITType", _CREATE_TYPED),),
        expect=AlreadyDone,
        turk="HitAlreadyExists",
    ),
    WorldCase(
        op="CreateHIT",
        params={k: v for k, v in NEW_HIT.items() if k != "Question"},
        expect=PermanentError,
        turk="InvalidParameterValue",
    ),
    # -- money -------------------------------------------------------------------------------
    WorldCase(
        op="SendBonus",
        params=_TOKEN_BONUS,
        before=(("SendBonus", _TOKEN_BONUS),),
        expect=AlreadyDone,
        turk="DuplicateRequest",
    ),
    WorldCase(
        op="SendBonus",
        params=_bonus(WORKER_A, ASSIGN_A, "100.00"),
        expect=PermanentError,
        turk="InsufficientFunds",
    ),
    WorldCase(
        op="CreateHIT",
        params={**NEW_HIT, "Reward": "50.00"},
        expect=PermanentError,
        turk="InsufficientFunds",
    ),
    WorldCase(
        op="CreateAdditionalAssignmentsForHIT",
        params={"HITId": HIT_PRICEY, "NumberOfAdditionalAssignments": 1},
        expect=PermanentError,
        turk="InsufficientFunds",
    ),
    WorldCase(
        op="SendBonus",
        params=_bonus(STRANGER, ASSIGN_A),
        expect=PermanentError,
        turk=None,
    ),
    WorldCase(
        op="ListBonusPayments",  # neither HITId nor AssignmentId
        params={},
        expect=PermanentError,
        turk="InvalidParameterValue",
    ),
    # -- qualification types -----------------------------------------------------------------
    WorldCase(
        op="GetQualificationType",
        params={"QualificationTypeId": "3NOSUCHQUALTYPE0000000000001"},
        expect=PermanentError,
        turk="QualificationTypeDoesNotExist",
    ),
    WorldCase(
        op="AssociateQualificationWithWorker",
        params={"QualificationTypeId": QUAL_RETIRED, "WorkerId": WORKER_A},
        before=(("DeleteQualificationType", {"QualificationTypeId": QUAL_RETIRED}),),
        expect=PermanentError,
        turk="QualificationTypeDoesNotExist",
    ),
    WorldCase(
        op="DeleteQualificationType",  # deleted by the case above
        params={"QualificationTypeId": QUAL_RETIRED},
        expect=PermanentError,
        turk="QualificationTypeDoesNotExist",
    ),
    WorldCase(
        op="CreateQualificationType",
        params={
            "Name": "Expert labeller",
            "Description": "Again.",
            "QualificationTypeStatus": "Active",
        },
        expect=PermanentError,
        turk="QualificationTypeAlreadyExists",
    ),
    WorldCase(
        op="AssociateQualificationWithWorker",
        params={"QualificationTypeId": SYSTEM_QUAL, "WorkerId": WORKER_A, "IntegerValue": 1},
        expect=PermanentError,
        turk="PermissionDenied",
    ),
    WorldCase(
        op="UpdateQualificationType",
        params={"QualificationTypeId": SYSTEM_QUAL, "Description": "Mine now."},
        expect=PermanentError,
        turk="PermissionDenied",
    ),
    # -- workers' qualifications and requests ------------------------------------------------
    WorldCase(
        op="DisassociateQualificationFromWorker",  # never granted: the worker is without it
        params=_NOT_HELD,
        expect=AlreadyDone,
        turk="QualificationDoesNotExist",
    ),
    WorldCase(
        op="GetQualificationScore",
        params=_NOT_HELD,
        expect=PermanentError,
        turk="QualificationDoesNotExist",
    ),
    WorldCase(
        op="DisassociateQualificationFromWorker",
        params=_REVOKE_B,
        before=(("DisassociateQualificationFromWorker", _REVOKE_B),),
        expect=AlreadyDone,
        turk="InvalidQualificationState",
    ),
    WorldCase(
        op="GetQualificationScore",  # "can be called with a status of: Granted", not in table
        params={"QualificationTypeId": QUAL, "WorkerId": WORKER_B},
        expect=PermanentError,
        turk="InvalidQualificationState",
    ),
    WorldCase(
        op="AcceptQualificationRequest",
        params={"QualificationRequestId": "3NOSUCHREQUEST00000000000001"},
        expect=PermanentError,
        turk="QualificationRequestDoesNotExist",
    ),
    WorldCase(
        op="RejectQualificationRequest",
        params={"QualificationRequestId": "3NOSUCHREQUEST00000000000001"},
        expect=PermanentError,
        turk="QualificationRequestDoesNotExist",
    ),
    WorldCase(
        op="AcceptQualificationRequest",
        params={"QualificationRequestId": REQ_ACCEPT},
        before=(("AcceptQualificationRequest", {"QualificationRequestId": REQ_ACCEPT}),),
        expect=AlreadyDone,
        turk="InvalidQualificationRequestState",
    ),
    WorldCase(
        op="RejectQualificationRequest",  # accepted above
        params={"QualificationRequestId": REQ_ACCEPT},
        expect=AlreadyDone,
        turk="InvalidQualificationRequestState",
    ),
    WorldCase(
        op="RejectQualificationRequest",
        params={"QualificationRequestId": REQ_REJECT},
        before=(("RejectQualificationRequest", {"QualificationRequestId": REQ_REJECT}),),
        expect=AlreadyDone,
        turk="InvalidQualificationRequestState",
    ),
    # -- workers and listings ----------------------------------------------------------------
    WorldCase(
        op="CreateWorkerBlock",
        params={"WorkerId": STRANGER, "Reason": "Spam."},
        expect=PermanentError,
        turk=None,
    ),
    WorldCase(
        op="DeleteWorkerBlock",  # "WorkerId is invalid."
        params={"WorkerId": STRANGER},
        expect=PermanentError,
        turk="InvalidParameterValue",
    ),
    WorldCase(
        op="ListHITs",
        params={"NextToken": "bm90LWEtdG9rZW4tZnJvbS10aGlzLXdvcmxk"},
        expect=PermanentError,
        turk=None,
    ),
)


@pytest.fixture
def strict_world(tmp_path: Path) -> World:
    """A strict world loaded from a world file, as ``turkbatch sim --world`` would."""
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world_document(time.time())), encoding="utf-8")
    return World.from_file(path, clock=Clock())


def _settings(url: str, **kwargs: Any) -> ClientSettings:
    """Return client settings for the simulator at ``url``."""
    return ClientSettings(endpoint_url=url, **kwargs)


async def _refusal(client: MTurkClient, op: str, params: Params) -> OperationError | None:
    """Return the classified error of a call, or ``None`` if it succeeded."""
    try:
        await client.call(op, params)
    except OperationError as exc:
        return exc
    return None


async def test_every_world_error_is_classified(strict_world: World) -> None:
    """
    Every TurkErrorCode the world raises, each from a realistic scenario, is classified
    as client.py's table says: AlreadyDone only for the listed (operation, text) pairs,
    PermanentError everywhere else, with the code, TurkErrorCode and request id kept.

    All mismatches are reported at once; then the codes actually received must be exactly
    ``TURK_ERROR_CODES``, and the ``__type`` values exactly ``ERROR_TYPES``.
    """
    codes: set[str] = set()
    types: set[str] = set()
    wrong: list[str] = []
    async with (
        Simulator(world=strict_world) as sim,
        MTurkClient(_settings(sim.endpoint_url)) as client,
    ):
        for case in WORLD_CASES:
            for op, params in case.before:
                await client.call(op, params)
            error = await _refusal(client, case.op, case.params)
            if error is None:
                wrong.append(f"{case.op} {dict(case.params)}: succeeded")
                continue
            types.add(error.code)
            if error.turk_code:
                codes.add(error.turk_code)
            got = (type(error), error.code, error.turk_code, error.status)
            want = (case.expect, case.error_type, case.turk_code, 400)
            if got != want or not REQUEST_ID.match(error.request_id or ""):
                wrong.append(
                    f"{case.op}: got {got[0].__name__} {got[1:]} "
                    f"request_id={error.request_id!r}, want {want[0].__name__} {want[1:]}: "
                    f"{error.message}"
                )
    assert not wrong, "\n".join(wrong)
    assert codes == TURK_ERROR_CODES, "a TurkErrorCode has no scenario (or a stray one came)"
    assert types == ERROR_TYPES


async def test_state_text_is_done_only_for_the_operations_in_the_table(sim: Any) -> None:
    """
    The very response "This operation can be called with a status of: Submitted"
    (InvalidAssignmentState) means "already done" for Approve/RejectAssignment only:
    reclassified as if another operation had received it, it is a PermanentError.
    """
    async with MTurkClient(_settings(sim.endpoint_url)) as client:
        await client.call("ApproveAssignment", {"AssignmentId": ASSIGN_A})
        with pytest.raises(AlreadyDone) as info:
            await client.call("ApproveAssignment", {"AssignmentId": ASSIGN_A})
    response = info.value.__cause__
    assert isinstance(response, bce.ClientError)
    assert info.value.turk_code == "AWS.MechanicalTurk.InvalidAssignmentState"
    for op in ("ApproveAssignment", "RejectAssignment"):
        assert type(classify(op, response)) is AlreadyDone
    for op in ("GetAssignment", "SendBonus", "UpdateHITReviewStatus", "DeleteHIT"):
        assert type(classify(op, response)) is PermanentError, op


# --- server-level errors through botocore -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerCase:
    """A server-level error provoked through the real client, and its classification."""

    name: str
    op: str
    params: Params
    expect: type[OperationError]
    code: str
    status: int
    #: set on the group's simulator at run time, just before the case
    faults: FaultSettings = NO_FAULTS
    access: tuple[str, str] | None = None  # the client's explicit key pair
    path: str = ""  # appended to the endpoint URL
    before: tuple[tuple[str, Params], ...] = ()
    #: False: not checked (botocore drops x-amzn-RequestId when a 5xx body is empty)
    has_request_id: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerGroup:
    """Server cases sharing one simulator (and one client per URL and key pair)."""

    name: str
    cases: tuple[ServerCase, ...]
    credentials: tuple[str, str] | None = None
    max_body: int = DEFAULT_MAX_BODY


_BONUS = _bonus(WORKER_A, ASSIGN_A)
_BALANCE: tuple[str, Params] = ("GetAccountBalance", {})
_NOTIFY: Params = {"Subject": "Hello", "MessageText": "A new batch is up.", "WorkerIds": [WORKER_A]}

SERVER_GROUPS: tuple[ServerGroup, ...] = (
    ServerGroup(
        name="faults and validation",
        cases=(
            ServerCase(
                name="throttled once the burst of 1 is spent",
                op="GetAccountBalance",
                params={},
                before=(_BALANCE,),
                faults=FaultSettings(throttle_rate=0.001, throttle_burst=1),
                expect=Throttled,
                code="ThrottlingException",
                status=400,
            ),
            ServerCase(
                name="500 ServiceFault",
                op="SendBonus",
                params=_BONUS,
                faults=FaultSettings(fault_rate=1.0),
                expect=TransientError,
                code="ServiceFault",
                status=500,
            ),
            ServerCase(
                name="503 with an empty body",
                op="SendBonus",
                params=_BONUS,
                faults=FaultSettings(unavailable_rate=1.0),
                expect=TransientError,
                code="503",
                status=503,
                has_request_id=False,
            ),
            ServerCase(
                name="BonusAmount with three decimals (botocore does not check patterns)",
                op="SendBonus",
                params=_bonus(WORKER_A, ASSIGN_A, "1.234"),
                expect=PermanentError,
                code="ValidationException",
                status=400,
            ),
            ServerCase(
                name="NotifyWorkers to 101 workers (nor list sizes)",
                op="NotifyWorkers",
                params={**_NOTIFY, "WorkerIds": [f"A{i:013d}" for i in range(101)]},
                expect=PermanentError,
                code="ValidationException",
                status=400,
            ),
            ServerCase(
                name="NotifyWorkers with a 201-character Subject (nor maximum lengths)",
                op="NotifyWorkers",
                params={**_NOTIFY, "Subject": "S" * 201},
                expect=PermanentError,
                code="ValidationException",
                status=400,
            ),
            ServerCase(
                name="endpoint URL with a path: no such resource (the setting's fault)",
                op="GetAccountBalance",
                params={},
                path="/mturk",
                expect=SettingError,
                code="UnknownOperationException",
                status=404,
            ),
        ),
    ),
    ServerGroup(
        name="size cap",
        max_body=512,
        cases=(
            ServerCase(
                name="body over the size cap (botocore does not limit bodies)",
                op="SendBonus",
                params={**_BONUS, "Reason": "x" * 1000},
                expect=PermanentError,
                code="RequestEntityTooLargeException",
                status=413,
            ),
        ),
    ),
    ServerGroup(
        name="SigV4",
        credentials=(GOOD_KEY, GOOD_SECRET),
        cases=(
            ServerCase(
                name="SigV4 with the wrong secret",
                op="GetAccountBalance",
                params={},
                access=(GOOD_KEY, "wrongsecret"),
                expect=SettingError,
                code="InvalidSignatureException",
                status=400,
            ),
            ServerCase(
                name="SigV4 with an access key the service does not know",
                op="GetAccountBalance",
                params={},
                access=("AKIDUNKNOWN", GOOD_SECRET),
                expect=SettingError,
                code="UnrecognizedClientException",
                status=400,
            ),
        ),
    ),
)


@pytest.mark.parametrize("group", SERVER_GROUPS, ids=lambda group: group.name)
async def test_server_errors_are_classified(group: ServerGroup) -> None:
    """
    Each server-level error botocore can receive (throttling, 5xx, server-side validation,
    413, unknown resource, SigV4) is classified with its code, status and request id.
    """
    wrong: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        sim = await stack.enter_async_context(
            Simulator(credentials=group.credentials, max_body=group.max_body)
        )
        clients: dict[tuple[str, tuple[str, str] | None], MTurkClient] = {}
        for case in group.cases:
            client = clients.get((case.path, case.access))
            if client is None:
                keys = dict(zip(("access_key", "secret_key"), case.access or (), strict=False))
                client = clients[case.path, case.access] = await stack.enter_async_context(
                    MTurkClient(_settings(sim.endpoint_url + case.path, **keys))
                )
            sim.faults = case.faults
            for op, params in case.before:
                await client.call(op, params)
            error = await _refusal(client, case.op, case.params)
            if error is None:
                wrong.append(f"{case.name}: succeeded")
                continue
            got = (type(error), error.code, error.status, error.turk_code)
            has_id = REQUEST_ID.match(error.request_id or "") is not None
            if got != (case.expect, case.code, case.status, None) or (
                case.has_request_id and not has_id
            ):
                wrong.append(f"{case.name}: got {got[0].__name__} {error.as_dict()}")
    assert not wrong, "\n".join(wrong)


async def test_signed_requests_with_the_right_secret_succeed() -> None:
    """The SigV4 cases above fail for the key pair alone: the right pair gets through."""
    async with (
        Simulator(credentials=(GOOD_KEY, GOOD_SECRET)) as sim,
        MTurkClient(
            _settings(sim.endpoint_url, access_key=GOOD_KEY, secret_key=GOOD_SECRET)
        ) as client,
    ):
        response = await client.call("GetAccountBalance", {})
    assert response.body["AvailableBalance"] == "10000.00"


# --- transport failures -------------------------------------------------------------------


async def test_lost_response_is_transient_although_the_call_was_committed() -> None:
    """
    A response lost after the world committed the call (the connection is aborted) is a
    TransientError: the bonus was paid, which is why a resend must carry the same token.
    """
    async with (
        Simulator(faults=FaultSettings(lost_rate=1.0)) as sim,
        MTurkClient(_settings(sim.endpoint_url)) as client,
    ):
        with pytest.raises(OperationError) as info:
            await client.call("SendBonus", _BONUS)
        paid = sim.world.ledger()["bonuses"]
    assert type(info.value) is TransientError, info.value.as_dict()
    assert info.value.status is None
    assert [b["AssignmentId"] for b in paid] == [ASSIGN_A]


async def test_read_timeout_is_transient() -> None:
    """A response slower than the client's read timeout is a TransientError."""
    async with (
        Simulator(faults=FaultSettings(latency_ms=5000)) as sim,
        MTurkClient(_settings(sim.endpoint_url, read_timeout=0.2)) as client,
    ):
        with pytest.raises(OperationError) as info:
            await client.call("GetAccountBalance", {})
    assert type(info.value) is TransientError, info.value.as_dict()


@pytest.fixture
def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_connection_refused_before_any_answer_is_the_settings_fault(
    closed_port_url: str,
) -> None:
    """
    Nothing listening on the port before the endpoint ever answered (a wrong port, an
    endpoint not started) is a SettingError naming the cause and the flag to fix.
    """
    async with MTurkClient(_settings(closed_port_url)) as client:
        with pytest.raises(OperationError) as info:
            await client.call("GetAccountBalance", {})
    assert type(info.value) is SettingError, info.value.as_dict()
    assert "connection refused" in info.value.message
    assert closed_port_url in info.value.message and "--endpoint-url" in info.value.message


async def test_connection_refused_after_an_answer_is_transient() -> None:
    """Once the endpoint has answered, a refused connection is an outage: a TransientError."""
    async with contextlib.AsyncExitStack() as stack:
        sim = await stack.enter_async_context(Simulator())
        client = await stack.enter_async_context(MTurkClient(_settings(sim.endpoint_url)))
        await client.call("GetAccountBalance", {})
        await sim.__aexit__(None, None, None)  # the service goes away mid-run
        stack.pop_all()
        with pytest.raises(OperationError) as info:
            await client.call("GetAccountBalance", {})
        await client.__aexit__(None, None, None)
    assert type(info.value) is TransientError, info.value.as_dict()


async def test_an_unknown_host_name_is_the_settings_fault() -> None:
    """A name that does not resolve (``.invalid`` never does) is a SettingError naming it."""
    async with MTurkClient(_settings("http://mturk.turkbatch.invalid")) as client:
        with pytest.raises(SettingError) as info:
            await client.call("GetAccountBalance", {})
    assert "mturk.turkbatch.invalid cannot be resolved" in info.value.message


async def test_a_tls_failure_is_the_settings_fault(sim: Any) -> None:
    """https:// to a plain-HTTP endpoint fails TLS: a SettingError naming --ca-bundle."""
    url = sim.endpoint_url.replace("http://", "https://")
    async with MTurkClient(_settings(url)) as client:
        with pytest.raises(SettingError) as info:
            await client.call("GetAccountBalance", {})
    assert info.value.code == "SSLError" and "TLS failed" in info.value.message
    assert "--ca-bundle" in info.value.message
    assert sim.counters.op("GetAccountBalance").received == 0


async def test_the_closed_default_endpoint_points_to_sim_and_endpoint_url(
    closed_port_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    When the default (sandbox) endpoint cannot be reached, the error says MTurk closed
    and how to go on: --sim or --endpoint-url. (The sandbox URL is pointed at a closed
    loopback port: no test reaches the real service.)
    """
    monkeypatch.setattr(turkbatch.client, "SANDBOX_URL", closed_port_url)
    async with MTurkClient(ClientSettings()) as client:
        with pytest.raises(SettingError) as info:
            await client.call("GetAccountBalance", {})
    message = info.value.message
    assert "sandbox" in message and "closed on 2026-09-30" in message, message
    assert "--sim" in message and "--endpoint-url" in message


async def test_each_attempt_has_a_total_deadline() -> None:
    """
    An endpoint trickling a byte at a time never trips the read timeout (each wait is
    short), but one attempt as a whole is bounded: connect + read timeout, then a
    TransientError (retried) instead of a call that never ends.
    """

    async def trickle(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(headers={"Content-Type": JSON_11})
        await response.prepare(request)
        while True:
            await response.write(b" ")
            await anyio.sleep(0.1)

    app = aiohttp.web.Application()
    app.router.add_post("/", trickle)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        settings = _settings(f"http://127.0.0.1:{port}", connect_timeout=0.5, read_timeout=0.5)
        async with MTurkClient(settings) as client:
            with anyio.fail_after(30), pytest.raises(TransientError) as info:
                await client.call("GetAccountBalance", {})
    finally:
        await runner.cleanup()
    assert info.value.code == "AttemptTimeout" and "within 1 s" in info.value.message


# --- errors botocore raises before sending ------------------------------------------------


async def test_a_wrongly_typed_member_is_refused_by_the_server_as_permanent(sim: Any) -> None:
    """
    turkbatch turns botocore's own parameter check off (job lines are checked against the
    same model first), so a wrongly typed member reaches the server, which refuses it
    with a SerializationException: a PermanentError. botocore's client-side equivalent,
    should it ever be raised, is classified the same way.
    """
    async with MTurkClient(_settings(sim.endpoint_url)) as client:
        with pytest.raises(OperationError) as info:
            await client.call("SendBonus", {**_BONUS, "BonusAmount": 1.5})
    assert type(info.value) is PermanentError
    assert info.value.code == "SerializationException"
    assert sim.counters.op("SendBonus").received == 1
    assert sim.world.ledger()["bonuses"] == []
    direct = classify("SendBonus", bce.ParamValidationError(report="x"))
    assert type(direct) is PermanentError
    assert direct.code == "ParamValidationError"


async def test_missing_credentials_are_the_settings_fault(
    sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no credentials anywhere botocore refuses to sign: a SettingError."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    async with MTurkClient(_settings(sim.endpoint_url)) as client:
        with pytest.raises(OperationError) as info:
            await client.call("GetAccountBalance", {})
    assert type(info.value) is SettingError
    assert info.value.code == "NoCredentialsError"
    assert sim.counters.op("GetAccountBalance").received == 0


# --- front-end errors botocore never provokes ---------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RawCase:
    """A hand-made request the AWS front end refuses before MTurk sees it."""

    name: str
    code: str
    status: int = 400
    method: str = "POST"
    target: str | None = TARGET_PREFIX + "SendBonus"
    content_type: str = JSON_11
    body: bytes = b"{}"
    authorization: str | None = None
    amz_date: str | None = None
    signed: bool = False  # sent to a simulator that checks signatures
    #: the request's fault (Permanent), or the setting's: how it is signed (SettingError)
    expect: type[OperationError] = PermanentError


_SCOPE = f"{GOOD_KEY}/20200101/us-east-1/mturk-requester/aws4_request"

RAW_CASES: tuple[RawCase, ...] = (
    RawCase(name="body is not JSON", code="SerializationException", body=b"{not json"),
    RawCase(
        name="BonusAmount is a JSON number",
        code="SerializationException",
        body=json.dumps({**_BONUS, "BonusAmount": 1.5}).encode(),
    ),
    RawCase(
        name="no X-Amz-Target",
        code="UnknownOperationException",
        target=None,
        expect=SettingError,
    ),
    RawCase(
        name="unknown operation",
        code="UnknownOperationException",
        target=TARGET_PREFIX + "PayEveryone",
        expect=SettingError,
    ),
    RawCase(
        name="wrong Content-Type",
        code="UnknownOperationException",
        content_type="application/json",
        expect=SettingError,
    ),
    RawCase(
        name="GET /",
        code="UnknownOperationException",
        method="GET",
        status=405,
        expect=SettingError,
    ),
    RawCase(
        name="unsigned request",
        code="MissingAuthenticationTokenException",
        signed=True,
        expect=SettingError,
    ),
    RawCase(
        name="Authorization without SignedHeaders",
        code="IncompleteSignatureException",
        signed=True,
        authorization=f"AWS4-HMAC-SHA256 Credential={_SCOPE}, Signature=00",
        amz_date="20200101T000000Z",
        expect=SettingError,
    ),
    RawCase(
        name="signed in 2020: signature expired",
        code="InvalidSignatureException",
        signed=True,
        authorization=(
            f"AWS4-HMAC-SHA256 Credential={_SCOPE}, SignedHeaders=host;x-amz-date, Signature=00"
        ),
        amz_date="20200101T000000Z",
        expect=SettingError,
    ),
)

_MTURK = botocore.session.get_session().get_service_model("mturk")


async def _raw_error(http: aiohttp.ClientSession, url: str, case: RawCase) -> bce.ClientError:
    """Send ``case`` and parse the answer with botocore's own JSON-protocol parser."""
    headers = {"Content-Type": case.content_type}
    if case.target is not None:
        headers["X-Amz-Target"] = case.target
    if case.authorization is not None:
        headers["Authorization"] = case.authorization
    if case.amz_date is not None:
        headers["X-Amz-Date"] = case.amz_date
    async with http.request(case.method, url + "/", headers=headers, data=case.body) as resp:
        raw = {
            "status_code": resp.status,
            "headers": {k.lower(): v for k, v in resp.headers.items()},
            "body": await resp.read(),
        }
    shape = _MTURK.operation_model("SendBonus").output_shape
    parsed = create_parser(_MTURK.metadata["protocol"]).parse(raw, shape)
    return bce.ClientError(parsed, "SendBonus")


async def test_front_end_errors_parse_as_aws_errors_and_are_classified() -> None:
    """
    Front-end errors botocore cannot provoke are driven with raw aiohttp requests.

    botocore validates member types (SerializationException), always sends a known
    ``X-Amz-Target``, the right Content-Type and POST (UnknownOperationException; only a
    wrong endpoint path reaches it, covered above) and signs well-formed, current requests
    (MissingAuthenticationToken, IncompleteSignature, expired signature). botocore's own
    JSON-protocol parser must still read each body as that AWS error code, and
    :func:`classify` must make it a PermanentError (the request's fault) or a SettingError
    (the signing or the endpoint's: no call could succeed) with the request id.
    """
    wrong: list[str] = []
    async with (
        Simulator() as open_sim,
        Simulator(credentials=(GOOD_KEY, GOOD_SECRET)) as signed_sim,
        aiohttp.ClientSession() as http,
    ):
        for case in RAW_CASES:
            url = (signed_sim if case.signed else open_sim).endpoint_url
            response = await _raw_error(http, url, case)
            error = classify("SendBonus", response)
            got = (type(error), error.code, error.status)
            if got != (case.expect, case.code, case.status) or not REQUEST_ID.match(
                error.request_id or ""
            ):
                wrong.append(f"{case.name}: got {got} {error.as_dict()}, want {case.code}")
    assert not wrong, "\n".join(wrong)


def _server_error_types() -> set[str]:
    """Return every ``__type`` the server's modules spell out as a string literal."""
    found: set[str] = set()
    for module in (turkbatch.sim.server, turkbatch.sim.wire, turkbatch.sim.sigv4):
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = re.fullmatch(r"(?:[\w.]+#)?([A-Z]\w+(?:Exception|Fault))", node.value)
                if match:
                    found.add(match.group(1))
    return found


def test_every_server_error_type_has_a_scenario() -> None:
    """
    Every error type the server's source can emit has a scenario above (each scenario
    asserts it received its code), so a new server error without one fails here.
    """
    covered = {c.code for g in SERVER_GROUPS for c in g.cases} | {c.code for c in RAW_CASES}
    emitted = _server_error_types()
    assert "ThrottlingException" in emitted  # the scan sees namespaced types too
    assert emitted <= covered, f"no scenario for {sorted(emitted - covered)}"


# --- classify itself ----------------------------------------------------------------------


@pytest.mark.parametrize("cls", [AlreadyDone, TransientError, Throttled, PermanentError])
def test_classify_is_idempotent(cls: type[OperationError]) -> None:
    """An already classified error comes back as the very same object."""
    error = cls("it happened", code="X")
    assert classify("SendBonus", error) is error


def test_unknown_exceptions_are_permanent() -> None:
    """An exception nobody anticipated is a PermanentError named after its type."""
    error = classify("SendBonus", RuntimeError("boom"))
    assert type(error) is PermanentError
    assert error.code == "RuntimeError"
    assert "boom" in error.message


# --- secrets never leave the client in an error message -----------------------------------

KEY_ID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEJr//////////wEaDEXAMPLESESSIONTOKEN" + "Q" * 200


async def _quoting_endpoint(request: aiohttp.web.Request) -> aiohttp.web.Response:
    """Refuse every call with an error quoting the request's credentials, as some do."""
    auth = request.headers.get("Authorization", "")
    token = request.headers.get("X-Amz-Security-Token", "")
    signature = auth.rpartition("Signature=")[2]
    message = (
        "The request signature we calculated does not match. The Canonical String for this "
        f"request should have been 'POST\n/\n\nhost:{request.host}\n"
        f"x-amz-security-token:{token}\n' Authorization: {auth} "
        f"(Credential={KEY_ID}/20261206/us-east-1/mturk-requester/aws4_request, "
        f"Signature={signature}) secret={SECRET} X-Amz-Security-Token={token}"
    )
    body = {"__type": "RequestError", "Message": message, "TurkErrorCode": "X.Y"}
    return aiohttp.web.json_response(
        body,
        status=400,
        content_type="application/x-amz-json-1.1",
        headers={"x-amzn-RequestId": "00000000-0000-0000-0000-000000000001"},
    )


async def test_error_messages_quoting_credentials_are_scrubbed_everywhere(
    tmp_path: Path,
) -> None:
    """
    An endpoint whose error quotes the canonical request (session token, Credential=,
    Signature=, the Authorization header) and even the secret: the run records the
    failures, and no secret reaches the journal, the report, status, the log file or the
    terminal. (A tiny aiohttp endpoint on 127.0.0.1; the real CLI in a subprocess.)
    """
    app = aiohttp.web.Application()
    app.router.add_post("/", _quoting_endpoint)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    job = tmp_path / "job.jsonl"
    job.write_text(
        '{"op": "SendBonus", "WorkerId": "A1B2C3D4E5", "AssignmentId": "3X4Y5Z6ABC", '
        '"BonusAmount": "1.00", "Reason": "thanks"}\n'
        '{"op": "ApproveAssignment", "AssignmentId": "3X4Y5Z6ABD"}\n'
    )
    journal, log_file = tmp_path / "job.journal.jsonl", tmp_path / "run.log"
    env = os.environ | {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
    }
    base = [sys.executable, "-m", "turkbatch"]
    try:
        ran = await anyio.run_process(
            [
                *base,
                "run",
                str(job),
                "--endpoint-url",
                f"http://127.0.0.1:{port}",
                "--no-balance-check",
                "--debug",
                "--log-file",
                str(log_file),
            ],
            env=env,
            check=False,
        )
    finally:
        await runner.cleanup()
    assert ran.returncode == 1, ran.stderr.decode()
    outputs = {"run stdout": ran.stdout.decode(), "run stderr": ran.stderr.decode()}
    outputs["journal"] = journal.read_text()
    outputs["log file"] = log_file.read_text()
    for command in (
        ["report", str(journal)],
        ["report", str(journal), "--format", "json"],
        ["status", str(journal)],
    ):
        shown = await anyio.run_process([*base, *command], env=env, check=False)
        assert shown.returncode == 0, shown.stderr.decode()
        outputs[" ".join(command[:1] + command[2:])] = shown.stdout.decode()
    assert '"failed"' in outputs["journal"] and "The Canonical String" in outputs["journal"]
    assert "<redacted>" in outputs["report --format json"]
    for name, text in outputs.items():
        for needle in (KEY_ID, SECRET, SESSION_TOKEN[:20], "Q" * 50, "Signature=0", "Signature=1"):
            assert needle not in text, f"{needle!r} in {name}"
        assert not re.search(r"Signature=[0-9a-f]{64}", text), name
        assert "Traceback" not in text, name
