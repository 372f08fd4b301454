"""
Bulk forms of job lines: recognise them, validate them, and normalise their parameters.

A bulk line names many items where the API takes one; :mod:`turkbatch.expand` turns it
into single calls at run time. The four forms:

=============  ===================================================================
``chunks``     NotifyWorkers with any number (≥ 1) of ``WorkerIds``: de-duplicated
               (order kept), sent in chunks of at most 100. Every NotifyWorkers line
               is this form, so every message gets per-worker outcomes.
``workers``    AssociateQualificationWithWorker, DisassociateQualificationFromWorker,
               CreateWorkerBlock, DeleteWorkerBlock with ``WorkerIds`` (a list ≥ 1) in
               place of ``WorkerId``: one call per distinct worker.
``requests``   Accept/RejectQualificationRequest with ``QualificationTypeId`` in place
               of ``QualificationRequestId``: every pending request of that type.
``assignments``  Approve/RejectAssignment with ``HITId`` in place of ``AssignmentId``:
               every Submitted assignment of that HIT (with ``OverrideRejection: true``,
               Approve also takes the Rejected ones).
``bonuses``    SendBonus with ``HITId`` in place of ``WorkerId`` and ``AssignmentId``:
               a bonus for every assignment of that HIT in ``statuses`` (default
               ``["Approved"]``), each a payment of its own (:mod:`turkbatch.hitbonus`);
               ``"unless_paid": true`` skips assignments MTurk shows paid for that reason.
=============  ===================================================================

The last three (the *listed* forms) take filters, as lower-case keys like ``id``:
``submitted_after`` (inclusive) and ``submitted_before`` (exclusive), each ISO-8601
(naive means UTC) or epoch seconds, and ``workers`` / ``except_workers`` (lists of
WorkerIds). Every other API parameter on a bulk line is passed to each call it becomes.

Only lines the strict validator refused come here (the fast path never pays for this),
except NotifyWorkers, which always does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from difflib import get_close_matches
from typing import Any, Final

from turkbatch import schema
from turkbatch.catalog import BULK_FORMS, RECIPIENT_LIMITS, Bulk

__all__ = [
    "ALWAYS",
    "FILTERS",
    "LISTED",
    "Bulk",
    "Form",
    "as_epoch",
    "item_param",
    "listed",
    "parent_param",
    "parse",
    "plain_chunks",
    "suggest",
]

Validator = Callable[[dict[str, Any]], list[schema.Violation]]
Problem = str | schema.Violation


#: Operations whose every line is a bulk line (it always goes through :func:`parse`).
ALWAYS: Final = frozenset(op for op, form in BULK_FORMS.items() if form.form is Bulk.CHUNKS)
#: The forms whose items are found by a List call at run time.
LISTED: Final = frozenset({Bulk.REQUESTS, Bulk.ASSIGNMENTS, Bulk.BONUSES})
#: Filter keys of the listed forms, in the order they are documented.
FILTERS: Final = ("submitted_after", "submitted_before", "workers", "except_workers")
#: Keys of a bonus-by-HIT line only: which assignments it pays, and what it skips.
BONUS_KEYS: Final = ("statuses", "unless_paid")
#: The assignment statuses a bonus-by-HIT line may pay, and the default (the catalog's).
BONUS_STATUSES: Final = ("Approved", "Submitted", "Rejected")
DEFAULT_BONUS_STATUSES: Final = next(
    f.wanted for f in BULK_FORMS.values() if f.form is Bulk.BONUSES
)
OWN_KEYS: Final = ("op", "id", "barrier")

#: An operation whose only required parameter is ``WorkerId``: its validator checks one.
_ONE_WORKER: Final = "DeleteWorkerBlock"
#: A valid stand-in for the item id while the rest of a bulk line is validated.
_PLACEHOLDER: Final = {
    "WorkerId": "APLACEHOLDER",
    "QualificationRequestId": "PLACEHOLDER",
    "AssignmentId": "3PLACEHOLDER",
}
#: What each parent id means, for messages.
_MEANS: Final = {
    "QualificationTypeId": "every pending request of that type",
    "HITId": "every Submitted assignment of that HIT",
    "WorkerIds": "one call per worker",
}
_validators: dict[str, Validator] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Form:
    """
    A valid bulk line.

    Attributes:
        bulk: which form.
        params: the line's API parameters; for ``chunks`` and ``workers`` ``WorkerIds``
            is de-duplicated, first occurrence kept.
        filters: normalised filters (times as epoch seconds, worker lists sorted and
            de-duplicated); empty when none.
        dropped: repeated WorkerIds removed from ``params``.
        distinct: distinct WorkerIds (``chunks`` and ``workers``), else 0.
    """

    bulk: Bulk
    params: dict[str, Any]
    filters: dict[str, Any]
    dropped: int = 0
    distinct: int = 0

    def calls(self, op: str) -> int:
        """
        The calls a line of ``op`` in this form becomes, as far as the line itself says:
        one per chunk of the operation's recipient limit (``chunks``: 100 workers for
        NotifyWorkers), one per worker (``workers``); a listed form's calls are found at
        run time (0 here).
        """
        if self.bulk is Bulk.CHUNKS:
            return -(-self.distinct // RECIPIENT_LIMITS[op][1])
        return self.distinct if self.bulk is Bulk.WORKERS else 0


def parent_param(op: str) -> str | None:
    """Return the parameter that makes a line of ``op`` a bulk line, if ``op`` has one."""
    form = BULK_FORMS.get(op)
    return form.parent if form else None


def item_param(op: str) -> str | None:
    """Return the one-item parameter the bulk parameter of ``op`` stands in for."""
    form = BULK_FORMS.get(op)
    return form.item if form else None


def listed(op: str) -> bool:
    """Return whether ``op`` has a listed bulk form (one that takes filters)."""
    form = BULK_FORMS.get(op)
    return form is not None and form.form in LISTED


def suggest(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'X'?"`` for the closest of ``choices``, or ``""``."""
    by_lower = {c.lower(): c for c in choices}
    hit = by_lower.get(word.lower())
    if hit is None:
        close = get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
        hit = by_lower[close[0]] if close else None
    return f"; did you mean '{hit}'?" if hit else ""


def as_epoch(value: object) -> float | None:
    """Return a time as epoch seconds: a number, an ISO-8601 string or a datetime; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return None


def _strict(op: str) -> Validator:
    check = _validators.get(op)
    if check is None:
        check = _validators[op] = schema.validator(op)
    return check


def _moved(violation: schema.Violation, path: schema.Path) -> schema.Violation:
    return schema.Violation(path, violation.value, violation.rule, violation.limit)


def _worker_list(name: str, value: object, out: list[Problem]) -> list[str] | None:
    """Check a list of WorkerIds; return it de-duplicated (order kept), or None if bad."""
    if not isinstance(value, list):
        out.append(schema.Violation((name,), value, "type", "list"))
        return None
    if not value:
        out.append(f"{name} is empty: name at least one worker")
        return None
    check, before = _strict(_ONE_WORKER), len(out)
    for i, worker in enumerate(value):
        out.extend(_moved(v, (name, i)) for v in check({"WorkerId": worker}))
    return list(dict.fromkeys(value)) if len(out) == before else None


def _bonus_key(key: str, value: object, out: list[Problem]) -> object:
    """Check ``statuses`` or ``unless_paid`` of a bonus-by-HIT line; return it normalised."""
    if key == "unless_paid":
        if not isinstance(value, bool):
            out.append(f"unless_paid must be true or false, not {value!r}")
        return value
    shown = ", ".join(BONUS_STATUSES)
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(s, str) or s not in BONUS_STATUSES for s in value)
    ):
        out.append(f"statuses must be a list of assignment statuses among {shown}, not {value!r}")
        return None
    return sorted(set(value))


def _filters(
    rec: dict[str, Any], listed: bool, out: list[Problem], *, bonuses: bool = False
) -> dict[str, Any]:
    """Pop and check the lower-case keys of a bulk line; return the normalised filters."""
    found: dict[str, Any] = {}
    for key in [k for k in rec if not isinstance(k, str) or k[:1].islower()]:
        value = rec.pop(key)
        if bonuses and key in BONUS_KEYS:
            found[key] = _bonus_key(key, value, out)
        elif key not in FILTERS:
            known = (*OWN_KEYS, *FILTERS, *(BONUS_KEYS if bonuses else ())) if listed else OWN_KEYS
            out.append(
                f"unknown key {key!r} (turkbatch's own keys are {', '.join(known[:-1])} "
                f"and {known[-1]}){suggest(str(key), known)}"
            )
        elif not listed:
            out.append(f"'{key}' is a filter: filters apply only to lines with a parent id")
        elif key.startswith("submitted_"):
            when = as_epoch(value)
            if when is None:
                out.append(
                    f"{key} must be an ISO-8601 time (e.g. 2026-11-01T00:00:00Z) or epoch "
                    f"seconds, not {value!r}"
                )
            else:
                found[key] = when
        else:
            workers = _worker_list(key, value, out)
            if workers is not None:
                found[key] = sorted(workers)
    after, before = found.get("submitted_after"), found.get("submitted_before")
    if after is not None and before is not None and after >= before:
        out.append("submitted_after is not before submitted_before: the filters select nothing")
    return found


def parse(op: str, rec: dict[str, Any]) -> Form | list[Problem] | None:
    """
    Return the bulk form of a record (``op`` and ``id`` already removed).

    Args:
        op: a 2017-01-17 operation name.
        rec: the line's other keys; not modified.

    Returns:
        A :class:`Form` for a valid bulk line; its problems (messages or schema
        violations, in line order) for an invalid one; ``None`` when the line is not a
        bulk form at all (then its strict validation errors are what to report).
    """
    spec = BULK_FORMS.get(op)
    if spec is None:
        return None
    bulk, item, parent = spec.form, spec.item, spec.parent
    if bulk is not Bulk.CHUNKS and parent not in rec:
        return None
    rec = dict(rec)
    out: list[Problem] = []
    filters = _filters(rec, bulk in LISTED, out, bonuses=bulk is Bulk.BONUSES)
    if bulk is Bulk.CHUNKS:
        return _chunks(op, rec, filters, out)
    items = ("WorkerId", item) if bulk is Bulk.BONUSES else (item,)
    if any(name in rec for name in items):
        one, means = f"{item} (one item)", _MEANS[parent]
        if bulk is Bulk.BONUSES:
            one = "WorkerId and AssignmentId (one payment)"
            means = "a bonus for every Approved assignment of that HIT"
        out.insert(0, f"give {one} or {parent} ({means}), not both")
        return out
    if bulk is Bulk.BONUSES and "UniqueRequestToken" in rec:
        out.insert(
            0,
            "a bonus-by-HIT line takes no UniqueRequestToken: each payment gets its own",
        )
        return out
    params = dict(rec)
    value = rec.pop(parent)
    if bulk is Bulk.WORKERS:
        workers = _worker_list(parent, value, out)
    else:
        assert spec.listing is not None  # every listed form names its listing
        out.extend(_strict(spec.listing)({parent: value}))
    for name in items:
        rec[name] = _PLACEHOLDER[name]
    out.extend(v for v in _strict(op)(rec) if v.path[:1] not in {(name,) for name in items})
    if out:
        return out
    if bulk is not Bulk.WORKERS:
        return Form(bulk=bulk, params=params, filters=filters)
    assert workers is not None
    params[parent] = workers
    return Form(
        bulk=bulk,
        params=params,
        filters=filters,
        dropped=len(value) - len(workers),
        distinct=len(workers),
    )


_PLAIN_NOTIFY: Final = frozenset({"Subject", "MessageText", "WorkerIds"})


def plain_chunks(op: str, rec: dict[str, Any]) -> Form | None:
    """
    Return the form of a ``chunks`` line (NotifyWorkers) that is valid as a single call,
    cheaply.

    The common case (≤ 100 ids, no filters, nothing legacy) skips the general checks;
    anything else returns ``None`` for :func:`parse` to judge. ``rec`` may be reused.
    """
    ids = rec.get("WorkerIds")
    limit = RECIPIENT_LIMITS[op][1]
    if ids.__class__ is not list or not 0 < len(ids) <= limit or not _PLAIN_NOTIFY.issuperset(rec):
        return None
    if _strict(op)(rec):
        return None
    workers = list(dict.fromkeys(ids))
    params = rec if len(workers) == len(ids) else {**rec, "WorkerIds": workers}
    return Form(
        bulk=Bulk.CHUNKS,
        params=params,
        filters={},
        dropped=len(ids) - len(workers),
        distinct=len(workers),
    )


def _chunks(
    op: str, rec: dict[str, Any], filters: dict[str, Any], out: list[Problem]
) -> Form | list[Problem]:
    """Validate a NotifyWorkers line of any length (the 100-id cap is per call)."""
    ids = rec.get("WorkerIds")
    found = [
        v for v in _strict(op)(rec) if not (v.rule == "max_items" and v.path == ("WorkerIds",))
    ]
    out.extend(found)
    if isinstance(ids, list) and not ids:
        out.append("WorkerIds is empty: name at least one worker")
    if out:
        return out
    workers = list(dict.fromkeys(ids))  # type: ignore[arg-type]
    params = {**rec, "WorkerIds": workers}
    return Form(
        bulk=Bulk.CHUNKS,
        params=params,
        filters=filters,
        dropped=len(ids) - len(workers),  # type: ignore[arg-type]
        distinct=len(workers),
    )
