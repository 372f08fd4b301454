"""
Diagnose a job line the fast path refused: legacy spelling, bulk form, or errors.

:mod:`turkbatch.jobs` validates each line against the strict 2017-01-17 model in its hot
loop; only a line that fails comes here (and every NotifyWorkers line, always a bulk
form). :func:`resolve` maps a legacy spelling (:mod:`turkbatch.legacy`), checks a bulk
form (:mod:`turkbatch.bulk`), and otherwise words every problem of the line, with the
nearest right spelling of a misspelt operation, parameter or key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from turkbatch import bulk, legacy, schema
from turkbatch.bulk import suggest
from turkbatch.catalog import OPERATIONS

__all__ = ["OWN_KEYS", "Resolved", "explain", "kind", "resolve", "unknown_key", "unknown_op"]

OWN_KEYS: Final = bulk.OWN_KEYS
_KNOWN_OPS: Final = frozenset(OPERATIONS)
_STRICT: dict[str, Callable[[dict[str, Any]], list[schema.Violation]]] = {}

Resolved = tuple[str, dict[str, Any], bulk.Form | None]
"""A refused line that is valid after all: ``(op, content, form)``; ``content`` holds
the parameters and, for a bulk form, its filters (what the line's key digests)."""


def resolve(
    op: object,
    rec: dict[str, Any],
    normalise: Callable[[dict[str, Any]], dict[str, Any]] = legacy.modernise,
) -> Resolved | list[str]:
    """
    Resolve a line the strict validator refused (``op`` and ``id`` already removed).

    Args:
        op: the line's ``op`` value, whatever it is.
        rec: the line's other keys; not modified.
        normalise: the legacy mapping (a record with ``op`` in, its 2017 form out).

    Returns:
        The valid line as :data:`Resolved`, or every problem of the line, in order.
    """
    if op in bulk.ALWAYS and (plain := bulk.plain_chunks(op, rec)) is not None:
        return op, plain.params, plain  # the common NotifyWorkers line, fast
    if isinstance(op, str):
        try:
            rec = normalise({"op": op, **rec})
        except legacy.LegacyError as exc:
            return [str(exc)]
        op = rec.pop("op")
    if not isinstance(op, str) or op not in _KNOWN_OPS:
        keys = [k for k in rec if not isinstance(k, str) or k[:1].islower()]
        return [unknown_op(op), *(unknown_key(k, None) for k in keys)]
    validate = _STRICT.get(op) or _STRICT.setdefault(op, schema.validator(op))
    violations: list[schema.Violation] = []
    if op not in bulk.ALWAYS:
        violations = validate(rec)
        if not violations:
            return op, rec, None  # a legacy line, valid once mapped
    form = bulk.parse(op, rec)
    if isinstance(form, bulk.Form):
        return op, {**form.params, **form.filters}, form
    found: Sequence[bulk.Problem] = violations if form is None else form
    return [p if isinstance(p, str) else explain(p, op) for p in found]


def unknown_op(op: object) -> str:
    """Return the message for a missing, malformed or unknown ``op``."""
    if op is None:
        return 'missing \'op\' (the operation name, e.g. "op": "SendBonus")'
    if not isinstance(op, str):
        return f"'op' must be a string naming an operation, not {op!r}"
    return f"unknown operation '{op}'{suggest(op, (*OPERATIONS, *legacy.LEGACY_OPERATIONS))}"


def unknown_key(key: object, op: str | None) -> str:
    """Return the message for a key ``op`` does not take (or any lower-case key)."""
    if not isinstance(key, str):
        return f"unknown key {key!r}"
    members = schema.input_members(op) if op else ()
    parent = bulk.parent_param(op) if op else None
    if key in bulk.FILTERS:
        where = f" ({op} takes them with {parent})" if op and bulk.listed(op) else ""
        return f"'{key}' is a filter: filters apply only to lines with a parent id{where}"
    if key[:1].islower():
        hint = suggest(key, (*OWN_KEYS, *members))
        return f"unknown key '{key}' (turkbatch's own keys are op, id and barrier){hint}"
    extra = (parent,) if parent else ()
    return f"unknown parameter '{key}' for {op}{suggest(key, (*members, *extra, *OWN_KEYS))}"


_KINDS: Final[Mapping[type, str]] = {dict: "object", list: "array", str: "string", bool: "boolean"}


def kind(value: object) -> str:
    """Return the JSON name of a value's type."""
    return _KINDS.get(type(value), "number" if isinstance(value, int | float) else "null")


def explain(violation: schema.Violation, op: str) -> str:
    """Return the message for one schema violation, with hints for misspelt names."""
    if violation.rule != "unknown":
        return violation.describe()
    if len(violation.path) == 1:
        return unknown_key(violation.path[0], op)
    allowed = violation.limit if isinstance(violation.limit, tuple) else ()
    return violation.describe() + suggest(str(violation.path[-1]), allowed)
