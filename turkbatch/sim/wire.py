"""
The simulator's wire vocabulary: error bodies and AWS-style validation messages.

Error shapes (HTTP 400 unless noted; every body is JSON):

- MTurk's own errors keep MTurk's shape, ``__type`` without a namespace and a capital
  ``Message`` that ends in `` (<epoch-ms>)``: ``RequestError`` (with ``TurkErrorCode``),
  ``ParameterValidationError`` (with ``Parameter`` and ``TurkErrorCode``
  ``AWS.MechanicalTurk.InvalidParameterValue``), and ``ServiceFault`` (HTTP 500,
  "Amazon Mechanical Turk is temporarily unable to process your request. Try your call
  again.").
- Server-side validation: ``{"__type": "ValidationException", "Message": "1 validation
  error detected: Value '0.9752' at 'bonusAmount' failed to satisfy constraint: …"}``,
  no suffix, member paths in lowerCamelCase, list members as ``workerIds.4.member``.
- Errors raised by the AWS front end before MTurk sees the request carry the Coral
  namespace and a lower-case ``message``, as AWS's JSON services send them:
  ``com.amazon.coral.service#SerializationException`` (bad JSON, wrong JSON types),
  ``…#UnknownOperationException`` (missing or unknown ``X-Amz-Target``, wrong
  Content-Type, wrong path or method), the SigV4 errors of :mod:`turkbatch.sim.sigv4`, and
  ``com.amazon.coral.availability#ThrottlingException`` "Rate exceeded". botocore strips
  everything up to ``#``, so clients see ``Error.Code == "ThrottlingException"`` etc.
- ``RequestEntityTooLargeException`` (HTTP 413) for a body over the size cap.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from turkbatch.schema import Violation
from turkbatch.sim.apierror import ApiError

JSON_11 = "application/x-amz-json-1.1"
"""The content type of every API request and response."""

ACCEPTED_CONTENT_TYPES = frozenset({JSON_11, "application/x-amz-json-1.0"})
"""Request content types accepted (AWS's front end takes both awsJson versions)."""

TARGET_PREFIX = "MTurkRequesterServiceV20170117."
"""The ``X-Amz-Target`` prefix before the operation name."""

SERVICE_FAULT_MESSAGE = (
    "Amazon Mechanical Turk is temporarily unable to process your request. Try your call again."
)

CORAL = "com.amazon.coral.service#"
THROTTLING = "com.amazon.coral.availability#ThrottlingException"


def coral_error(code: str, message: str, *, status: int = 400) -> ApiError:
    """Return an error from AWS's front end (namespaced ``__type``, lower-case ``message``)."""
    return ApiError(code if "#" in code else CORAL + code, message, status=status, suffix=False)


def service_fault() -> ApiError:
    """Return MTurk's HTTP 500 ``ServiceFault``."""
    return ApiError("ServiceFault", SERVICE_FAULT_MESSAGE, status=500)


def error_body(error: ApiError, epoch_ms: int) -> bytes:
    """Return the JSON body for ``error``, suffixed with ``epoch_ms`` when MTurk would."""
    if "#" in error.type_:
        return orjson.dumps({"__type": error.type_, "message": error.message})
    message = f"{error.message} ({epoch_ms})" if error.suffix else error.message
    body: dict[str, str] = {"__type": error.type_, "Message": message}
    if error.parameter is not None:
        body["Parameter"] = error.parameter
    if error.turk_code is not None:
        body["TurkErrorCode"] = error.turk_code
    return orjson.dumps(body)


THROTTLED_BODY = error_body(ApiError(THROTTLING, "Rate exceeded", suffix=False), 0)


# --- validation -------------------------------------------------------------------------


def member_path(path: Sequence[str | int]) -> str:
    """Return a schema path the way AWS names it: ``("WorkerIds", 3)`` → ``workerIds.4.member``."""
    parts: list[str] = []
    for part in path:
        if isinstance(part, int):
            parts.append(f"{part + 1}.member")
        else:
            parts.append(part[:1].lower() + part[1:])
    return ".".join(parts)


def _java(value: object) -> str:
    """Render a value as the Java service's ``toString`` would."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_java(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java(v)}" for k, v in value.items()) + "}"
    return str(value)


def _constraint(v: Violation) -> str:
    rule, limit = v.rule, v.limit
    if rule == "required":
        return "Member must not be null"
    if rule == "pattern":
        return f"Member must satisfy regular expression pattern: {limit}"
    if rule in ("max_length", "max_items"):
        return f"Member must have length less than or equal to {limit}"
    if rule in ("min_length", "min_items"):
        return f"Member must have length greater than or equal to {limit}"
    if rule == "enum":
        values = limit if isinstance(limit, list | tuple) else [limit]
        return f"Member must satisfy enum value set: [{', '.join(map(str, values))}]"
    if rule == "min":
        return f"Member must have value greater than or equal to {limit}"
    if rule == "max":
        return f"Member must have value less than or equal to {limit}"
    if rule == "positive":
        return "Member must have value greater than 0"
    if rule == "forbidden_chars":
        return f"Member must not contain {limit}"
    return f"Member must satisfy constraint {rule}"


def violation_text(v: Violation) -> str:
    """Return one violation in AWS's words."""
    shown = "null" if v.value is None else f"'{_java(v.value)}'"
    where = member_path(v.path)
    return f"Value {shown} at '{where}' failed to satisfy constraint: {_constraint(v)}"


_TOKENS = {bool: "VALUE_BOOLEAN", str: "STRING_VALUE", int: "NUMBER_VALUE", float: "NUMBER_VALUE"}
_TYPES = {
    "string": "a String",
    "integer": "an Integer",
    "number": "a Double",
    "boolean": "a Boolean",
    "list": "a List",
    "object": "a Structure",
}


def _serialization_text(v: Violation) -> str:
    if isinstance(v.value, list):
        return "Start of list found where not expected"
    if isinstance(v.value, dict):
        return "Start of structure or map found where not expected."
    token = "VALUE_NULL" if v.value is None else _TOKENS.get(type(v.value), "VALUE")
    target = _TYPES.get(str(v.limit), "a Date" if str(v.limit).startswith("timestamp") else "")
    return f"{token} can not be converted to {target or v.limit}"


def validation_error(violations: Sequence[Violation]) -> ApiError | None:
    """
    Turn schema violations into the error AWS would answer, or ``None`` when valid.

    Unknown members are ignored, as AWS's JSON deserializer does. A wrong JSON type is a
    ``SerializationException`` (the request never deserialized); everything else is one
    ``ValidationException`` listing every broken constraint.
    """
    relevant = [v for v in violations if v.rule != "unknown"]
    if not relevant:
        return None
    for v in relevant:
        if v.rule == "type":
            return coral_error("SerializationException", _serialization_text(v))
    n = len(relevant)
    head = f"{n} validation error{'s' if n > 1 else ''} detected: "
    return ApiError(
        "ValidationException",
        head + "; ".join(violation_text(v) for v in relevant),
        suffix=False,
    )
