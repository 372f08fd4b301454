"""The one exception the simulator's world raises: an MTurk error to put on the wire."""

from __future__ import annotations


class ApiError(Exception):
    """
    An error response in MTurk's shape.

    The server renders it as ``{"__type": type_, "Message": "<message> (<epoch-ms>)",
    "TurkErrorCode": turk_code}`` with HTTP ``status``; the ``(<epoch-ms>)`` suffix is
    added by the server from the simulator's clock, never by the raiser.

    Args:
        type_: the ``__type`` (``RequestError``, ``ServiceFault``, ``ValidationException``,
            ``ThrottlingException``, ``ParameterValidationError``, ...).
        message: the human text, without the timestamp suffix.
        turk_code: ``AWS.MechanicalTurk.*`` code for ``RequestError``; ``None`` otherwise.
        status: the HTTP status.
        suffix: whether MTurk appends `` (<epoch-ms>)`` to this message (AWS-level errors
            such as ``ValidationException`` and ``ThrottlingException`` carry none).
        parameter: the ``Parameter`` member of a ``ParameterValidationError`` body.
    """

    def __init__(
        self,
        type_: str,
        message: str,
        *,
        turk_code: str | None = None,
        status: int = 400,
        suffix: bool = True,
        parameter: str | None = None,
    ) -> None:
        super().__init__(message)
        self.type_ = type_
        self.message = message
        self.turk_code = turk_code
        self.status = status
        self.suffix = suffix
        self.parameter = parameter


def request_error(message: str, turk_code: str) -> ApiError:
    """Return MTurk's everyday ``RequestError`` (HTTP 400) with a TurkErrorCode."""
    return ApiError("RequestError", message, turk_code=turk_code)


INVALID_PARAMETER_VALUE = "AWS.MechanicalTurk.InvalidParameterValue"
"""The TurkErrorCode every ParameterValidationError carries (boto3#2108)."""


def parameter_error(name: str, value: object, message: str | None = None) -> ApiError:
    """
    Return ``ParameterValidationError`` as MTurk sends it (boto3#2108).

    The body carries ``Parameter`` (the member at fault) and ``TurkErrorCode``
    ``AWS.MechanicalTurk.InvalidParameterValue``; the message defaults to
    ``The value "<value>" is not valid for the parameter <name>.``.
    """
    return ApiError(
        "ParameterValidationError",
        message or f'The value "{value}" is not valid for the parameter {name}.',
        turk_code=INVALID_PARAMETER_VALUE,
        parameter=name,
    )
