"""
Match a spreadsheet's columns to one operation's parameters, and turn rows into records.

A column feeds the parameter whose name it matches ignoring case, spaces, ``_`` and
``-`` (``Bonus Amount`` → BonusAmount; for NotifyWorkers, ``WorkerId`` → WorkerIds),
unless ``--map`` says otherwise; ``--set`` values fill the cells a row leaves empty.
Cells are typed by botocore's model of the operation: integers, booleans (``true``,
``yes``, ``y``, ``1``, ``x`` / ``false``, ``no``, ``n``, ``0``), lists split on commas,
semicolons or spaces, JSON for structures; a leading ``$`` on an amount is dropped.

The bulk parent column (``HITId``, ``QualificationTypeId``, ``WorkerIds``) is matched
only when the item id column (``AssignmentId``, ...) is absent: in MTurk's
batch-results layout ``HITId`` is context, not a request to act on the whole HIT. In
that layout (``AssignmentId`` with ``Approve``/``Reject`` columns), Approve/RejectAssignment
take only the rows marked in their column (see :mod:`turkbatch.csvjob`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from turkbatch import bulk, diagnosis, legacy, schema
from turkbatch.catalog import DONE_STATES, RECIPIENT_LIMITS
from turkbatch.errors import UsageError

__all__ = ["MARKS", "Columns", "Row", "plan", "typed"]

#: The batch-results layout's review columns.
MARKS: Final = ("Approve", "Reject")
#: The review column that selects the rows of a review reaching each assignment status.
_MARK_OF: Final = {"Approved": "Approve", "Rejected": "Reject"}
_TRUE: Final = frozenset({"true", "t", "yes", "y", "1", "x"})
_FALSE: Final = frozenset({"false", "f", "no", "n", "0"})
_SPLIT: Final = re.compile(r"[\s,;]+")
_CURRENCY: Final = frozenset({"BonusAmount", "Reward"})

Row = dict[str, Any] | str | None
"""A row converted: a job record, a message saying why it cannot be one, or None (skip)."""


@dataclass(slots=True, kw_only=True)
class Columns:
    """
    How the rows of one CSV become job records.

    Attributes:
        op: the operation as given (maybe a legacy name; validation maps it).
        modern: its 2017-01-17 name.
        params: column index → parameter.
        constants: parameter → typed value, for rows whose own cell is empty.
        types: parameter → botocore shape type.
        mark: in the batch-results layout, the column whose mark selects a row.
        veto: the other review column: a row marked there too is an error.
        feedback: the mark column's text is the row's RequesterFeedback (Reject).
        skip_empty: parameters whose absence (an empty cell, no ``--set``) skips the row.
        ignored: the header names of the columns not used.
    """

    op: str
    modern: str
    params: dict[int, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    mark: int | None = None
    veto: int | None = None
    feedback: bool = False
    skip_empty: tuple[str, ...] = ()
    ignored: list[str] = field(default_factory=list)

    @property
    def selects(self) -> str | None:
        """The review column that selects rows, in the batch-results layout."""
        if self.mark is None:
            return None
        return MARKS[1] if self.feedback else MARKS[0]

    def record(self, cells: list[str]) -> Row:
        """Return one row's job record (or why it cannot be one, or None to skip it)."""

        def cell(index: int | None) -> str:
            return cells[index].strip() if index is not None and index < len(cells) else ""

        rec: dict[str, Any] = {"op": self.op}
        if self.mark is not None:
            if not cell(self.mark):
                return None
            if cell(self.veto):
                return "marked both Approve and Reject"
            if self.feedback:
                rec["RequesterFeedback"] = cell(self.mark)
        for index, name in self.params.items():
            text = cell(index)
            if text and name not in rec:
                try:
                    rec[name] = typed(name, self.types.get(name, "string"), text)
                except ValueError as exc:
                    return str(exc)
        for name, value in self.constants.items():
            rec.setdefault(name, value)
        if any(name not in rec for name in self.skip_empty):
            return None
        return rec


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


@functools.cache
def _shapes(op: str) -> dict[str, str]:
    """Return parameter → botocore shape type of an operation's input."""
    out: dict[str, str] = {}
    for name, shape in schema.model().operation_model(op).input_shape.members.items():
        nested = shape.type_name == "list" and shape.member.type_name == "structure"
        out[name] = "structure" if nested else shape.type_name
    return out


def typed(param: str, kind: str, text: str) -> Any:
    """
    Return a cell's text as a value of the parameter's type.

    Raises:
        ValueError: the text is not a value of that type (the message says so).
    """
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{param} {text!r} is not a whole number") from None
    if kind in ("double", "float"):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{param} {text!r} is not a number") from None
    if kind == "boolean":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ValueError(f"{param} {text!r} is not true or false")
    if kind == "list":
        return [item for item in _SPLIT.split(text) if item]
    if kind in ("structure", "map"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{param} is not valid JSON: {exc.msg}") from None
    if kind == "timestamp":
        return int(text) if text.isdigit() else text
    if param in _CURRENCY and text.startswith("$"):
        return text[1:].strip()
    return text


def _vocabulary(modern: str) -> tuple[dict[str, str], dict[str, str]]:
    """Return normalised name → parameter, and parameter → type, that ``modern`` takes."""
    types = dict(_shapes(modern))
    parent = bulk.parent_param(modern)
    if parent:
        types.setdefault(parent, "list" if parent == "WorkerIds" else "string")
    if bulk.listed(modern):
        types.update({f: "string" for f in bulk.FILTERS}, workers="list", except_workers="list")
    names = {_norm(p): p for p in (*types, "id")}
    recipients = RECIPIENT_LIMITS.get(modern)
    if recipients is not None:  # a column of single workers fills the list
        names[_norm("WorkerId")] = recipients[0]
    return names, types


def plan(
    op: str,
    header: list[str],
    *,
    mapping: Mapping[str, str],
    constants: Mapping[str, str],
    source: str,
    skip_empty: tuple[str, ...] = (),
) -> Columns:
    """
    Plan how the rows under ``header`` become records of ``op``.

    Raises:
        UsageError: an unknown or removed operation, a ``--map`` naming no column or a
            parameter ``op`` does not take, a ``--set`` value of the wrong type, a
            ``--skip-empty`` naming a parameter ``op`` does not take.
    """
    if op in legacy.REMOVED:
        raise UsageError(legacy.REMOVED[op])
    modern = legacy.LEGACY_OPERATIONS.get(op, op)
    if modern not in schema.operations():
        raise UsageError(f"--op: {diagnosis.unknown_op(op)}")
    names, types = _vocabulary(modern)

    def param(name: str, flag: str) -> str:
        found = names.get(_norm(name))
        if found is None:
            params = [v for v in names.values() if v[:1].isupper()]  # API parameters first
            hint = bulk.suggest(name, params) or bulk.suggest(name, names.values())
            raise UsageError(f"{flag}: {modern} takes no parameter {name!r}{hint}")
        return found

    exact = {h: i for i, h in reversed(list(enumerate(header)))}
    loose = {_norm(h): i for i, h in reversed(list(enumerate(header)))}
    out = Columns(op=op, modern=modern, types=types)
    for column, name in mapping.items():
        index = exact.get(column, loose.get(_norm(column)))
        if index is None:
            raise UsageError(f"--map: no column {column!r} in {source} ({', '.join(header)})")
        out.params[index] = param(name, "--map")
    batch = "AssignmentId" in exact and any(m in exact for m in MARKS)
    if batch and modern in DONE_STATES:
        take = _MARK_OF[DONE_STATES[modern]]
        other = next(m for m in MARKS if m != take)
        out.mark, out.veto, out.feedback = exact.get(take), exact.get(other), take == "Reject"
        if out.mark is None:
            raise UsageError(f"{source} has no {take!r} column to select rows by")
    parent, item = bulk.parent_param(modern), bulk.item_param(modern)
    context = parent if item != parent and item is not None and item in exact else None
    for index, name in enumerate(header):
        if index in out.params or index in (out.mark, out.veto):
            continue
        wanted = names.get(_norm(name))
        if wanted == context or (batch and wanted == "RequesterFeedback"):
            wanted = None  # context, or MTurk's record of past feedback: not to send
        if wanted is None or wanted in out.params.values():
            out.ignored.append(name)
        else:
            out.params[index] = wanted
    for name, text in constants.items():
        target = param(name, "--set")
        try:
            out.constants[target] = typed(target, types.get(target, "string"), text)
        except ValueError as exc:
            raise UsageError(f"--set: {exc}") from None
    out.skip_empty = tuple(param(name, "--skip-empty") for name in skip_empty)
    if modern in bulk.ALWAYS and "id" in (*out.params.values(), *out.constants):
        raise UsageError(f"{modern} rows become one line per message: they take no id")
    return out
