"""
A sample job line for any operation, with every parameter (``turkbatch skeleton OP``).

Like the AWS CLI's ``--generate-cli-skeleton``, but as a turkbatch job line: built from
botocore's model, required parameters first, every nested structure filled in with a
placeholder of the right type (ids that match MTurk's patterns, amounts like ``"0.50"``,
enums with their first value), so that the line validates as it stands. Edit the values,
delete what you do not need. ``UniqueRequestToken`` is left out: turkbatch fills in a
deterministic one for each line (give your own only to override it).
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any, Final

from turkbatch import schema
from turkbatch.catalog import OPERATIONS, TOKEN_OPERATIONS

__all__ = ["MAX_DEPTH", "UnknownOperation", "required_members", "skeleton", "suggest"]

#: Nested structures deeper than this are left out (MTurk's model nests four deep).
MAX_DEPTH: Final = 8

#: Placeholders by member name: realistic, and valid for MTurk's patterns and lengths.
_BY_NAME: Final[dict[str, Any]] = {
    "WorkerId": "A1EXAMPLEWORKER",
    "AssignmentId": "3EXAMPLEASSIGNMENT",
    "HITId": "3EXAMPLEHIT",
    "HITTypeId": "3EXAMPLEHITTYPE",
    "HITLayoutId": "3EXAMPLEHITLAYOUT",
    "QualificationTypeId": "3EXAMPLEQUALIFICATIONTYPE",
    "QualificationRequestId": "3EXAMPLEQUALIFICATIONREQUEST",
    "BonusAmount": "0.50",
    "Reward": "0.50",
    "Reason": "Thank you for your careful work",
    "Subject": "A new study is open",
    "MessageText": "Hello! A new study you qualify for is open on MTurk.",
    "RequesterFeedback": "Thank you!",
    "Title": "Label 20 images",
    "Description": "Choose the best label for each image.",
    "Keywords": "image, labeling",
    "Name": "Expert image labeler",
    "Country": "US",
    "Subdivision": "WA",
    "Destination": "https://example.com/mturk-notifications",
    "Version": "2006-05-05",
    "Question": (
        '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/'
        'AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">'
        "<ExternalURL>https://example.com/task</ExternalURL>"
        "<FrameHeight>600</FrameHeight></ExternalQuestion>"
    ),
    "NextToken": "EXAMPLENEXTTOKEN",
    "MaxResults": 100,
    "MaxAssignments": 1,
    "IntegerValue": 90,
    "AssignmentDurationInSeconds": 3600,
    "LifetimeInSeconds": 86400,
    "AutoApprovalDelayInSeconds": 259200,
    "NumberOfAdditionalAssignments": 1,
    "RetryDelayInSeconds": 3600,
    "TestDurationInSeconds": 600,
    "ExpireAt": "2030-01-01T00:00:00+00:00",
}


class UnknownOperation(KeyError):
    """Not an MTurk operation; the message suggests the closest one."""

    def __str__(self) -> str:
        return str(self.args[0])


def suggest(name: str) -> str | None:
    """Return the operation ``name`` most likely means (any case, small typos), or ``None``."""
    by_lower = {op.lower(): op for op in OPERATIONS}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def skeleton(operation: str, *, required_only: bool = False) -> dict[str, Any]:
    """
    Return a job line for ``operation`` with a placeholder for every parameter.

    Args:
        operation: the 2017-01-17 operation name (exact spelling).
        required_only: only the required parameters.

    Raises:
        UnknownOperation: ``operation`` is not an MTurk operation ("did you mean").
    """
    if operation not in OPERATIONS:
        hint = suggest(operation)
        more = f"; did you mean '{hint}'?" if hint else " (turkbatch skeleton lists them)"
        raise UnknownOperation(f"unknown operation '{operation}'{more}")
    shape = schema.model().operation_model(operation).input_shape
    line: dict[str, Any] = {"op": operation}
    line.update(_structure(shape, 0, required_only=required_only))
    if operation in TOKEN_OPERATIONS:
        line.pop("UniqueRequestToken", None)
    return line


def required_members(operation: str) -> tuple[str, ...]:
    """
    Return the required parameters of ``operation``, in model order.

    Raises:
        KeyError: ``operation`` is not an MTurk operation.
    """
    return tuple(schema.model().operation_model(operation).input_shape.required_members)


def _structure(shape: Any, depth: int, *, required_only: bool = False) -> dict[str, Any]:
    required = list(shape.required_members)
    names = required + [n for n in shape.members if n not in required and not required_only]
    out: dict[str, Any] = {}
    for name in names:
        value = _value(name, shape.members[name], depth + 1)
        if value is not _SKIP:
            out[name] = value
    return out


_SKIP: Final = object()


def _value(name: str, shape: Any, depth: int) -> Any:
    """Return a placeholder for one member, valid for its type, pattern and bounds."""
    if depth > MAX_DEPTH:
        return _SKIP
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, depth)
    if kind == "list":
        item = _value(name.removesuffix("s"), shape.member, depth)
        return [] if item is _SKIP else [item]
    if kind == "map":
        value = _value(name, shape.value, depth)
        return {} if value is _SKIP else {"key": value}
    if name in _BY_NAME and _fits(_BY_NAME[name], kind):
        return _BY_NAME[name]
    enum = getattr(shape, "enum", None)
    if enum:
        return enum[0]
    if kind == "boolean":
        return False
    if kind in ("integer", "long"):
        return max(int(shape.metadata.get("min", 1)), 1)
    if kind in ("double", "float"):
        return 1.0
    if kind == "timestamp":
        return "2030-01-01T00:00:00+00:00"
    return "example"


def _fits(value: Any, kind: str) -> bool:
    if kind in ("integer", "long"):
        return isinstance(value, int)
    return isinstance(value, str) if kind in ("string", "timestamp") else False
