"""
Every MTurk error the simulated world raises, with its text and TurkErrorCode.

A tag covers both the text and the TurkErrorCode unless it names one: [R] is real MTurk
output quoted in a public report (see ``mturk-facts.md``), used verbatim; [C] is named in
the botocore model's documentation; [I] is the simulator's inference where nothing real
is known. :data:`INFERRED_TURK_ERROR_CODES` lists every code that is inferred (most come
from the legacy API's error families; none was seen from the 2017 API). The server
appends `` (<epoch-ms>)`` to every RequestError message; the world never does.

Unknown assignment, strict [R text (Mephisto#1081), I code]; also SendBonus naming another
worker's assignment [I]
    ``Assignment <id> does not exist.`` · RequestError / AssignmentDoesNotExist
Unknown HIT, strict [R]
    ``Hit <id> does not exist.`` · RequestError / HITDoesNotExist
Unknown HIT type, strict [I]
    ``HITType <id> does not exist.`` · RequestError / HITTypeDoesNotExist
Unknown (strict) or deleted (any mode) qualification type [R text (breadboard#204), I code]
    ``QualificationType [<id>] does not exist.`` · RequestError / QualificationTypeDoesNotExist
Worker lacks the qualification (GetQualificationScore, Disassociate...) [R]
    ``You requested a Qualification that does not exist.`` ·
    RequestError / QualificationDoesNotExist
Qualification revoked (GetQualificationScore, Disassociate...) [R text, I code]
    ``This operation can be called with a status of: Granted`` ·
    RequestError / InvalidQualificationState
Unknown qualification request, strict [I]
    ``QualificationRequest <id> does not exist.`` ·
    RequestError / QualificationRequestDoesNotExist
Qualification request already accepted or rejected [I]
    ``This operation can be called with a status of: Pending`` ·
    RequestError / InvalidQualificationRequestState
Approve/Reject an assignment that is not Submitted [R]
    ``This operation can be called with a status of: Submitted`` ·
    RequestError / InvalidAssignmentState
Override a rejection more than 30 days after submission [I]
    ``Assignment <id> was submitted more than 30 days ago; its rejection can no longer be
    overridden.`` · RequestError / InvalidAssignmentState
Override a rejection on a deleted HIT [I]
    ``Hit <id> has been deleted; its rejected assignments can no longer be approved.`` ·
    RequestError / InvalidAssignmentState
Every ParameterValidationError [R shape, boto3#2108]: the body also carries
    ``"Parameter": "<member>"`` and TurkErrorCode ``AWS.MechanicalTurk.InvalidParameterValue``.
Unknown worker in SendBonus, CreateWorkerBlock, AssociateQualificationWithWorker, strict [R]
    ``The value "<id>" is not valid for the parameter WorkerId.`` · ParameterValidationError
A Test that is not QuestionForm XML [R]; a Question that is not QuestionForm,
ExternalQuestion or HTMLQuestion XML of at most 65,535 bytes, an unknown HITLayoutId, a
notification Version other than 2006-05-05, an amount too large to be money [I: the
model documents the rule, the text follows the Test case]
    ``The value "<value>" is not valid for the parameter <member>.`` ·
    ParameterValidationError
A QualificationRequirement breaking the model's LocaleValue / IntegerValue rules [I text]
    per case (see :func:`bad_requirement`) · ParameterValidationError
UpdateExpirationForHIT to a future time less than 60 s (or more than a year) past the
current expiry [R text, aws-sdk-ruby#2065, aws-sdk-java#1817; I Parameter]
    ``The value <n> is invalid for ExpirationIncrementInSeconds. Valid values range from
    60 to 31536000.`` · ParameterValidationError
Unknown worker in DeleteWorkerBlock, strict [C text, I code]
    ``WorkerId is invalid.`` · RequestError / InvalidParameterValue
NextToken not issued by this world, for another listing, or from before reset() [I]
    ``The value "<token>" is not valid for the parameter NextToken.`` ·
    ParameterValidationError
Insufficient funds (SendBonus, CreateHIT*, CreateAdditionalAssignmentsForHIT) [R text,
I code: the legacy API's]
    ``This Requester has insufficient funds in their account ... Prepaid HITs.`` ·
    RequestError / InsufficientFunds
Token reused within 24 h: SendBonus, CreateAdditionalAssignmentsForHIT, and the implicit
token of UpdateExpirationForHIT [R text, I code]
    ``The idempotency token "<token>" has already been processed.`` ·
    RequestError / DuplicateRequest
Token reused within 24 h: CreateHIT, CreateHITWithHITType [R text, C code]
    ``The HIT with ID "<id>" already exists.`` · RequestError / HitAlreadyExists
Duplicate qualification type name [R]
    ``You have already created a QualificationType with this name. ...`` ·
    RequestError / QualificationTypeAlreadyExists
A HIT operation in the wrong HIT state (DeleteHIT, UpdateHITReviewStatus, ...) [R text
for DeleteHIT (boto3#2107, two spaces included), I for the other operations and the code]
    ``This HIT is currently in the state '<status>'.  This operation can be called with a
    status of: <allowed>`` · RequestError / InvalidHITState
DeleteHIT while submitted work is unreviewed: the same text, naming the HIT's own state
and ``Reviewing, Reviewable`` (boto3#2107: "The error message contradicts itself") [R]
Extending a HIT from fewer than 10 to 10 or more assignments [I text, C code]
    ``HITs created with fewer than 10 assignments cannot be extended to have 10 or more
    assignments.`` · RequestError / InvalidMaximumAssignmentsIncrease
Granting or changing a system qualification type [I]
    ``You do not own the QualificationType <id>.`` · RequestError / PermissionDenied
Other parameter combinations MTurk refuses [I]
    per case (see the callers of :func:`invalid_parameter`) · RequestError /
    InvalidParameterValue

Every TurkErrorCode above is spelled ``AWS.MechanicalTurk.<name>``; :data:`TURK_ERROR_CODES`
lists them all, for the client's classification test.
"""

from __future__ import annotations

from turkbatch.sim.apierror import ApiError, parameter_error, request_error

_P = "AWS.MechanicalTurk."
ASSIGNMENT_DOES_NOT_EXIST = _P + "AssignmentDoesNotExist"
HIT_DOES_NOT_EXIST = _P + "HITDoesNotExist"
HIT_TYPE_DOES_NOT_EXIST = _P + "HITTypeDoesNotExist"
QUALIFICATION_TYPE_DOES_NOT_EXIST = _P + "QualificationTypeDoesNotExist"
QUALIFICATION_DOES_NOT_EXIST = _P + "QualificationDoesNotExist"
QUALIFICATION_REQUEST_DOES_NOT_EXIST = _P + "QualificationRequestDoesNotExist"
INVALID_ASSIGNMENT_STATE = _P + "InvalidAssignmentState"
INVALID_QUALIFICATION_STATE = _P + "InvalidQualificationState"
INVALID_QUALIFICATION_REQUEST_STATE = _P + "InvalidQualificationRequestState"
INVALID_HIT_STATE = _P + "InvalidHITState"
INSUFFICIENT_FUNDS = _P + "InsufficientFunds"
DUPLICATE_REQUEST = _P + "DuplicateRequest"
HIT_ALREADY_EXISTS = _P + "HitAlreadyExists"
QUALIFICATION_TYPE_ALREADY_EXISTS = _P + "QualificationTypeAlreadyExists"
INVALID_MAXIMUM_ASSIGNMENTS_INCREASE = _P + "InvalidMaximumAssignmentsIncrease"
PERMISSION_DENIED = _P + "PermissionDenied"
INVALID_PARAMETER_VALUE = _P + "InvalidParameterValue"

TURK_ERROR_CODES: frozenset[str] = frozenset(
    {
        ASSIGNMENT_DOES_NOT_EXIST,
        HIT_DOES_NOT_EXIST,
        HIT_TYPE_DOES_NOT_EXIST,
        QUALIFICATION_TYPE_DOES_NOT_EXIST,
        QUALIFICATION_DOES_NOT_EXIST,
        QUALIFICATION_REQUEST_DOES_NOT_EXIST,
        INVALID_ASSIGNMENT_STATE,
        INVALID_QUALIFICATION_STATE,
        INVALID_QUALIFICATION_REQUEST_STATE,
        INVALID_HIT_STATE,
        INSUFFICIENT_FUNDS,
        DUPLICATE_REQUEST,
        HIT_ALREADY_EXISTS,
        QUALIFICATION_TYPE_ALREADY_EXISTS,
        INVALID_MAXIMUM_ASSIGNMENTS_INCREASE,
        PERMISSION_DENIED,
        INVALID_PARAMETER_VALUE,
    }
)
"""Every ``TurkErrorCode`` the world can put in an error body."""

INFERRED_TURK_ERROR_CODES: frozenset[str] = frozenset(
    {
        ASSIGNMENT_DOES_NOT_EXIST,
        HIT_TYPE_DOES_NOT_EXIST,
        QUALIFICATION_TYPE_DOES_NOT_EXIST,
        QUALIFICATION_REQUEST_DOES_NOT_EXIST,
        INVALID_QUALIFICATION_STATE,
        INVALID_QUALIFICATION_REQUEST_STATE,
        INVALID_HIT_STATE,
        INSUFFICIENT_FUNDS,
        DUPLICATE_REQUEST,
        PERMISSION_DENIED,
    }
)
"""The codes above that no public report shows MTurk's 2017 API sending (inferred).
InvalidParameterValue is real in ParameterValidationError bodies (boto3#2108); in the
RequestErrors the simulator puts it in, it is inferred too."""

ERROR_TYPES: frozenset[str] = frozenset({"RequestError", "ParameterValidationError"})
"""Every ``__type`` the world itself raises (the server adds its own)."""

HARD_FAILURE_MESSAGE = "Cannot send a notification to a worker who has not done any work for you."
"""NotifyWorkers HardFailure text [R] (legacy API, cloudyr/MTurkR#29)."""

SOFT_FAILURE_MESSAGE = "Temporary delivery failure. Please try again later."
"""NotifyWorkers SoftFailure text [I]."""

INSUFFICIENT_FUNDS_MESSAGE = (
    "This Requester has insufficient funds in their account to complete this transaction. "
    "Please visit https://requester.mturk.com/prepayments/new to purchase Prepaid HITs."
)


def assignment_not_found(assignment_id: str) -> ApiError:
    """Return the error for an assignment that does not exist [R]."""
    return request_error(f"Assignment {assignment_id} does not exist.", ASSIGNMENT_DOES_NOT_EXIST)


def hit_not_found(hit_id: str) -> ApiError:
    """Return the error for a HIT that does not exist [R]."""
    return request_error(f"Hit {hit_id} does not exist.", HIT_DOES_NOT_EXIST)


def hit_type_not_found(hit_type_id: str) -> ApiError:
    """Return the error for a HIT type that does not exist [I]."""
    return request_error(f"HITType {hit_type_id} does not exist.", HIT_TYPE_DOES_NOT_EXIST)


def qual_type_not_found(type_id: str) -> ApiError:
    """Return the error for a qualification type that does not exist (or was deleted) [R/I]."""
    return request_error(
        f"QualificationType [{type_id}] does not exist.", QUALIFICATION_TYPE_DOES_NOT_EXIST
    )


def qualification_not_found() -> ApiError:
    """Return the error for a worker who lacks a qualification [R]."""
    return request_error(
        "You requested a Qualification that does not exist.", QUALIFICATION_DOES_NOT_EXIST
    )


def request_not_found(request_id: str) -> ApiError:
    """Return the error for a qualification request that does not exist [I]."""
    return request_error(
        f"QualificationRequest {request_id} does not exist.", QUALIFICATION_REQUEST_DOES_NOT_EXIST
    )


def wrong_status(allowed: str, turk_code: str) -> ApiError:
    """Return MTurk's "This operation can be called with a status of: ..." error [R]."""
    return request_error(f"This operation can be called with a status of: {allowed}", turk_code)


def hit_in_state(status: str, allowed: str) -> ApiError:
    """Return the error for a HIT operation in the wrong HIT state [R text, I code]."""
    return request_error(
        f"This HIT is currently in the state '{status}'.  "
        f"This operation can be called with a status of: {allowed}",
        INVALID_HIT_STATE,
    )


def override_too_late(assignment_id: str) -> ApiError:
    """Return the error for overriding a rejection more than 30 days after submission [I]."""
    return request_error(
        f"Assignment {assignment_id} was submitted more than 30 days ago; "
        "its rejection can no longer be overridden.",
        INVALID_ASSIGNMENT_STATE,
    )


def override_hit_deleted(hit_id: str) -> ApiError:
    """Return the error for overriding a rejection on a deleted HIT [I]."""
    return request_error(
        f"Hit {hit_id} has been deleted; its rejected assignments can no longer be approved.",
        INVALID_ASSIGNMENT_STATE,
    )


def unknown_worker(worker_id: str) -> ApiError:
    """Return MTurk's ParameterValidationError for a worker it does not know [R]."""
    return parameter_error("WorkerId", worker_id)


def invalid_value(parameter: str, value: object) -> ApiError:
    """Return ParameterValidationError for a value MTurk refuses in ``parameter`` [R/I]."""
    return parameter_error(parameter, value)


def bad_requirement(message: str) -> ApiError:
    """Return the error for a QualificationRequirement the model's rules forbid [I text]."""
    return parameter_error("QualificationRequirements", None, message)


def bad_increment(seconds: int) -> ApiError:
    """Return UpdateExpirationForHIT's error for an increment outside 60 s .. 1 year [R]."""
    return parameter_error(
        "ExpirationIncrementInSeconds",
        seconds,
        f"The value {seconds} is invalid for ExpirationIncrementInSeconds. "
        "Valid values range from 60 to 31536000.",
    )


def worker_id_invalid() -> ApiError:
    """Return DeleteWorkerBlock's error for an unknown worker (text from the model doc)."""
    return request_error("WorkerId is invalid.", INVALID_PARAMETER_VALUE)


def invalid_next_token(token: str) -> ApiError:
    """Return the error for a NextToken this world did not issue (or no longer honours) [I]."""
    return parameter_error("NextToken", token)


def insufficient_funds() -> ApiError:
    """Return the error for a payment the balance cannot cover [R]."""
    return request_error(INSUFFICIENT_FUNDS_MESSAGE, INSUFFICIENT_FUNDS)


def token_processed(token: str) -> ApiError:
    """Return the error for an idempotency token seen in the last 24 hours [R text, I code]."""
    return request_error(
        f'The idempotency token "{token}" has already been processed.', DUPLICATE_REQUEST
    )


def hit_already_exists(hit_id: str) -> ApiError:
    """Return CreateHIT's error for a token seen in the last 24 hours [R]."""
    return request_error(f'The HIT with ID "{hit_id}" already exists.', HIT_ALREADY_EXISTS)


def qual_type_name_taken() -> ApiError:
    """Return the error for a second qualification type with the same name [R]."""
    return request_error(
        "You have already created a QualificationType with this name. A QualificationType's "
        "name must be unique among all of the QualificationTypes created by the same user.",
        QUALIFICATION_TYPE_ALREADY_EXISTS,
    )


def max_assignments_increase() -> ApiError:
    """Return the error for extending a HIT across the 10-assignment line [I text, C code]."""
    return request_error(
        "HITs created with fewer than 10 assignments cannot be extended to have 10 or more "
        "assignments.",
        INVALID_MAXIMUM_ASSIGNMENTS_INCREASE,
    )


def not_owner(type_id: str) -> ApiError:
    """Return the error for granting or changing a system qualification type [I]."""
    return request_error(f"You do not own the QualificationType {type_id}.", PERMISSION_DENIED)


def invalid_parameter(message: str) -> ApiError:
    """Return a RequestError for a parameter combination MTurk refuses [I]."""
    return request_error(message, INVALID_PARAMETER_VALUE)
