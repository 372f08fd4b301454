"""
Validate MTurk request parameters against botocore's service model, fast.

One validator per operation is compiled on first use from the input shape in botocore's
MTurk 2017-01-17 model (a tree of small closures, cached), then applied to plain dicts.
Besides what the model declares (required and unknown members, types, lengths, patterns,
enums, numeric bounds, list sizes), it applies MTurk's server-side rules that botocore's
model does not carry:

- NotifyWorkers: at most 100 ``WorkerIds``, ``Subject`` ≤ 200, ``MessageText`` ≤ 4096;
- SendBonus: ``BonusAmount`` must be greater than zero;
- every amount (``BonusAmount``, ``Reward``) is at most $9,999,999,999.99: far past any
  account, and small enough that every sum of a job's amounts stays exact (a 27-digit
  amount would overflow the 28 digits of decimal arithmetic). This bound is turkbatch's,
  not MTurk's: it applies when checking jobs (``unknown=True``), never to what the
  simulator serves (``unknown=False``), which answers as MTurk does;
- Approve/RejectAssignment: ``RequesterFeedback`` ≤ 1024, no ASCII control characters
  0-8, 11, 12, 14-31;
- every string member whose name ends in ``Id`` is at most 64 characters.

Both the simulator (which answers like the service) and the job validator use this module.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypedDict

import botocore.loaders
import botocore.model

__all__ = [
    "Violation",
    "amount_hint",
    "format_path",
    "input_members",
    "model",
    "operations",
    "validate",
    "validator",
]

API_VERSION: Final = "2017-01-17"
ID_MAX_LENGTH: Final = 64

Path = tuple[str | int, ...]
_Check = Callable[[Any, Path, list["Violation"]], None]

_FORBIDDEN_TEXT: Final = "ASCII control characters 0-8, 11, 12, 14-31"
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# BonusAmount already matches ^[0-9]+(\.)?[0-9]{0,2}$, so it is positive iff a digit is not 0.
_NONZERO = re.compile("[1-9]")
_MISSING: Final = object()


class _Rules(TypedDict, total=False):
    """MTurk's server-side rules for one member, beyond botocore's model."""

    max: int
    max_items: int
    positive: bool
    forbidden: bool
    amount: bool


_FEEDBACK: Final[_Rules] = {"max": 1024, "forbidden": True}
_EXTRA: Final[Mapping[tuple[str, str], _Rules]] = {
    ("NotifyWorkers", "WorkerIds"): {"max_items": 100},
    ("NotifyWorkers", "Subject"): {"max": 200},
    ("NotifyWorkers", "MessageText"): {"max": 4096},
    ("SendBonus", "BonusAmount"): {"positive": True},
    ("ApproveAssignment", "RequesterFeedback"): _FEEDBACK,
    ("RejectAssignment", "RequesterFeedback"): _FEEDBACK,
}
_AMOUNT_PATTERN: Final = r"^[0-9]+(\.)?[0-9]{0,2}$"
_THOUSANDS = re.compile(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")
_DECIMAL_COMMA = re.compile(r"[0-9]+,[0-9]{1,2}")
_DECIMALS = re.compile(r"[0-9]*\.[0-9]{3,}")


def amount_hint(value: object) -> str:
    """
    Say what is wrong with an amount that does not match MTurk's pattern, and the fix.

    ``' (...)'`` to append to the message: a currency sign, spaces, a sign, thousands
    separators, a decimal comma, or too many decimals, each with the amount as MTurk takes it.
    """
    text = str(value)
    bare = text.strip()
    if bare != text:
        return f" (no spaces around it: '{bare}')"
    if bare[:1] in "-+":
        return (
            " (an amount cannot be negative or signed)"
            if bare[:1] == "-"
            else f" (no sign: '{bare[1:]}')"
        )
    stripped = bare.lstrip("$€£ ").removeprefix("USD").strip()
    if stripped != bare or bare.upper().startswith("USD"):
        return f" (US dollars with no currency sign or code: '{stripped}')"
    if _THOUSANDS.fullmatch(bare):
        return f" (no thousands separators: '{bare.replace(',', '')}')"
    if _DECIMAL_COMMA.fullmatch(bare):
        return f" (a decimal point, not a comma: '{bare.replace(',', '.')}')"
    if _DECIMALS.fullmatch(bare):
        return " (at most 2 decimals)"
    return " (digits with at most 2 decimals, like 12.50)"


_HINTS: Final[Mapping[str, Callable[[object], str]]] = {_AMOUNT_PATTERN: amount_hint}
#: The most digits an amount may have before its point, past leading zeros.
AMOUNT_DIGITS: Final = 10
MAX_AMOUNT: Final = "9999999999.99"
# Past leading zeros, at most AMOUNT_DIGITS digits before the point (or the end).
_AMOUNT_BOUND = re.compile(f"0*[0-9]{{0,{AMOUNT_DIGITS}}}(?![0-9])")


@dataclass(frozen=True, slots=True)
class Violation:
    """
    One broken rule in a request.

    Args:
        path: where, from the top of the request: ``("WorkerIds", 3)``.
        value: the offending value; ``None`` when the member is missing.
        rule: ``required``, ``unknown``, ``type``, ``min_length``, ``max_length``,
            ``pattern``, ``enum``, ``min``, ``max``, ``min_items``, ``max_items``,
            ``forbidden_chars``, ``positive`` or ``amount``.
        limit: the pattern, bound, enum values, expected type name, or (for
            ``unknown``) the member names allowed at that level.
    """

    path: Path
    value: object
    rule: str
    limit: object = None

    def describe(self) -> str:
        """Return the violation as one line of human text naming the member."""
        return _DESCRIBE[self.rule](self, format_path(self.path))


def format_path(path: Path) -> str:
    """Return ``("A", 0, "B")`` as ``A[0].B``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _show(value: object) -> str:
    """Return a short, printable rendering of an offending value."""
    if isinstance(value, str):
        short = value if len(value) <= 40 else value[:37] + "..."
        return f"'{short}'" if short.isprintable() else repr(short)
    return "null" if value is None else repr(value)


_KINDS: Final[Mapping[type, str]] = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    dict: "object",
    list: "list",
}


def _kind(value: object) -> str:
    """Return the JSON name of a value's type."""
    return _KINDS.get(type(value)) or type(value).__name__


def _article(noun: object) -> str:
    return f"{'an' if str(noun)[:1] in 'aeiou' else 'a'} {noun}"


def _size(value: object) -> int:
    return len(value) if isinstance(value, str | list | dict) else 0


def _listed(values: object) -> str:
    return ", ".join(map(str, values)) if isinstance(values, tuple | list) else str(values)


def _forbidden(v: Violation, where: str) -> str:
    match = _FORBIDDEN.search(str(v.value))
    at = f" U+{ord(match.group()):04X} at offset {match.start()}" if match else ""
    return f"{where} contains a forbidden character{at} (no {v.limit})"


_DESCRIBE: Final[Mapping[str, Callable[[Violation, str], str]]] = {
    "required": lambda v, w: f"{w} is required",
    "unknown": lambda v, w: f"{w} is not a known parameter",
    "type": lambda v, w: f"{w} must be {_article(v.limit)}, not {_kind(v.value)} {_show(v.value)}",
    "min_length": lambda v, w: f"{w} {_show(v.value)} is too short (at least {v.limit} chars)",
    "max_length": lambda v, w: f"{w} has {_size(v.value)} characters; at most {v.limit}",
    "pattern": lambda v, w: (
        f"{w} {_show(v.value)} does not match {v.limit}"
        + (_HINTS[str(v.limit)](v.value) if str(v.limit) in _HINTS else "")
    ),
    "enum": lambda v, w: f"{w} {_show(v.value)} is not one of {_listed(v.limit)}",
    "min": lambda v, w: f"{w} {v.value!r} is less than the minimum {v.limit}",
    "max": lambda v, w: f"{w} {v.value!r} is more than the maximum {v.limit}",
    "min_items": lambda v, w: f"{w} has {_size(v.value)} items; at least {v.limit}",
    "max_items": lambda v, w: f"{w} has {_size(v.value)} items; at most {v.limit} per call",
    "forbidden_chars": _forbidden,
    "positive": lambda v, w: f"{w} {_show(v.value)} must be greater than 0",
    "amount": lambda v, w: f"{w} {_show(v.value)} is more than the largest amount, {v.limit}",
}


# --- compiling ------------------------------------------------------------------------


def _anchored(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern; a final ``$`` must not accept a trailing newline as re's does."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


_Fast = tuple[int, int, Callable[[str], object] | None]
_SLOW: Final[_Fast] = (1, 0, None)  # no string is short enough: always the full check


def _string(shape: Any, extra: _Rules) -> tuple[_Check, _Fast]:
    """
    Return a string member's rule-by-rule check, and its fast acceptance test.

    The test is ``(lo, hi, match)``: a string is valid iff ``lo <= len(s) <= hi`` and
    ``match`` is ``None`` or truthy for it. The other rules are fused into that one regex,
    so a valid string costs one ``match``; only a string that fails it is checked rule by
    rule, to say why.
    """
    meta = shape.metadata
    lo: int | None = meta.get("min")
    hi: int = min(extra.get("max", sys.maxsize), meta.get("max", sys.maxsize))
    pattern: str | None = meta.get("pattern")
    enum = tuple(getattr(shape, "enum", None) or ())
    positive, forbidden = extra.get("positive", False), extra.get("forbidden", False)
    amount = extra.get("amount", False)
    rx = _anchored(pattern).search if pattern else None
    allowed = frozenset(enum)

    def check(v: Any, path: Path, out: list[Violation]) -> None:
        if not isinstance(v, str):
            out.append(Violation(path, v, "type", "string"))
            return
        if lo is not None and len(v) < lo:
            out.append(Violation(path, v, "min_length", lo))
        if len(v) > hi:
            out.append(Violation(path, v, "max_length", hi))
        if rx is not None and rx(v) is None:
            out.append(Violation(path, v, "pattern", pattern))
        elif positive and _NONZERO.search(v) is None:
            out.append(Violation(path, v, "positive", 0))
        elif amount and _AMOUNT_BOUND.match(v) is None:
            out.append(Violation(path, v, "amount", MAX_AMOUNT))
        if allowed and v not in allowed:
            out.append(Violation(path, v, "enum", enum))
        if forbidden and _FORBIDDEN.search(v) is not None:
            out.append(Violation(path, v, "forbidden_chars", _FORBIDDEN_TEXT))

    if enum:
        fast = _SLOW if pattern or positive or forbidden else (lo or 0, hi, allowed.__contains__)
        return check, fast
    parts = []
    if forbidden:
        parts.append(f"(?![\\s\\S]*{_FORBIDDEN.pattern})")
    if positive:
        # Only ever paired with BonusAmount's digits-and-a-dot pattern: past leading zeros
        # and the dot, the next character must be a nonzero digit.
        parts.append(f"(?=[0.]*{_NONZERO.pattern})")
    if amount:
        parts.append(f"(?={_AMOUNT_BOUND.pattern})")
    if pattern:
        anchored = _anchored(pattern).pattern
        simple = anchored.startswith("^") and "|" not in anchored
        parts.append(anchored if simple else f"(?=[\\s\\S]*?(?:{anchored}))")
    return check, (lo or 0, hi, re.compile("".join(parts)).match if parts else None)


def _number(shape: Any, integral: bool) -> _Check:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    kinds: tuple[type, ...] = (int,) if integral else (int, float)
    name = "integer" if integral else "number"

    def check(v: Any, path: Path, out: list[Violation]) -> None:
        if v is True or v is False or not isinstance(v, kinds):
            out.append(Violation(path, v, "type", name))
            return
        if lo is not None and v < lo:
            out.append(Violation(path, v, "min", lo))
        if hi is not None and v > hi:
            out.append(Violation(path, v, "max", hi))

    return check


def _boolean(v: Any, path: Path, out: list[Violation]) -> None:
    if v is not True and v is not False:
        out.append(Violation(path, v, "type", "boolean"))


def _timestamp(v: Any, path: Path, out: list[Violation]) -> None:
    if isinstance(v, datetime) or (isinstance(v, int | float) and not isinstance(v, bool)):
        return
    if isinstance(v, str):
        try:
            datetime.fromisoformat(v)
        except ValueError:
            pass
        else:
            return
    out.append(Violation(path, v, "type", "timestamp (epoch seconds or ISO-8601)"))


def _list(shape: Any, extra: _Rules, unknown: bool) -> _Check:
    member = _compile(shape.member, {}, unknown)
    lo: int | None = shape.metadata.get("min")
    hi: int | None = extra.get("max_items", shape.metadata.get("max"))

    def check(v: Any, path: Path, out: list[Violation]) -> None:
        if not isinstance(v, list):
            out.append(Violation(path, v, "type", "list"))
            return
        if lo is not None and len(v) < lo:
            out.append(Violation(path, v, "min_items", lo))
        if hi is not None and len(v) > hi:
            out.append(Violation(path, v, "max_items", hi))
        for i, item in enumerate(v):
            member(item, (*path, i), out)

    return check


def _map(shape: Any, unknown: bool) -> _Check:
    key, value = _compile(shape.key, {}, unknown), _compile(shape.value, {}, unknown)

    def check(v: Any, path: Path, out: list[Violation]) -> None:
        if not isinstance(v, dict):
            out.append(Violation(path, v, "type", "object"))
            return
        for k, item in v.items():
            key(k, (*path, k), out)
            value(item, (*path, k), out)

    return check


def _structure(shape: Any, unknown: bool, operation: str | None = None) -> _Check:
    required = set(shape.required_members)
    members: list[tuple[str, tuple[str], _Check, bool, int, int, Callable[[str], object] | None]]
    members = []
    for name, sub in shape.members.items():
        extra = _Rules(**_EXTRA.get((operation or "", name), {}))
        if unknown and sub.metadata.get("pattern") == _AMOUNT_PATTERN:
            extra["amount"] = True  # turkbatch's own bound: checking jobs, not serving
        if name.endswith("Id") and sub.type_name == "string":
            extra["max"] = min(extra.get("max", ID_MAX_LENGTH), ID_MAX_LENGTH)
        if sub.type_name == "string":
            sub_check, (lo, hi, fast) = _string(sub, extra)
        else:
            sub_check, (lo, hi, fast) = _compile(sub, extra, unknown), _SLOW
        members.append((name, (name,), sub_check, name in required, lo, hi, fast))
    names = frozenset(m[0] for m in members)
    listed = tuple(m[0] for m in members)

    def check(v: Any, path: Path, out: list[Violation]) -> None:
        if not isinstance(v, dict):
            out.append(Violation(path, v, "type", "object"))
            return
        present = 0
        for name, own, sub, req, lo, hi, fast in members:
            x = v.get(name, _MISSING)
            if x is _MISSING:
                if req:
                    out.append(Violation(path + own, None, "required"))
                continue
            present += 1
            # A valid string costs a length test and one fused regex; anything else is
            # checked rule by rule, which also says what is wrong.
            if x.__class__ is str and lo <= len(x) <= hi and (fast is None or fast(x)):
                continue
            sub(x, path + own if path else own, out)
        if unknown and present < len(v):
            out.extend(Violation((*path, k), v[k], "unknown", listed) for k in v if k not in names)

    return check


def _compile(shape: Any, extra: _Rules, unknown: bool) -> _Check:
    """Return the validator for one shape, with member-level ``extra`` rules applied."""
    kind = shape.type_name
    if kind == "string":
        return _string(shape, extra)[0]
    if kind in ("integer", "long", "double", "float"):
        return _number(shape, integral=kind in ("integer", "long"))
    if kind == "boolean":
        return _boolean
    if kind == "timestamp":
        return _timestamp
    if kind == "list":
        return _list(shape, extra, unknown)
    if kind == "map":
        return _map(shape, unknown)
    if kind == "structure":
        return _structure(shape, unknown)
    raise NotImplementedError(f"shape type {kind!r} ({shape.name}) is not supported")


# --- the model --------------------------------------------------------------------------

_model: botocore.model.ServiceModel | None = None
_compiled: dict[tuple[str, bool], _Check] = {}


def model() -> Any:
    """Return botocore's MTurk service model, loaded once: every module asks here."""
    global _model
    if _model is None:
        data = botocore.loaders.create_loader().load_service_model(
            "mturk", "service-2", api_version=API_VERSION
        )
        _model = botocore.model.ServiceModel(data, service_name="mturk")
    return _model


def operations() -> tuple[str, ...]:
    """Return the names of MTurk's 39 operations, sorted."""
    return tuple(sorted(model().operation_names))


def input_members(operation: str) -> tuple[str, ...]:
    """
    Return the request parameter names of ``operation`` in model order.

    Raises:
        KeyError: ``operation`` is not an MTurk operation.
    """
    return tuple(_input_shape(operation).members)


def _input_shape(operation: str) -> Any:
    if operation not in model().operation_names:
        raise KeyError(operation)
    return model().operation_model(operation).input_shape


def validator(
    operation: str, *, unknown: bool = True
) -> Callable[[dict[str, Any]], list[Violation]]:
    """
    Return :func:`validate` bound to one operation, for hot loops over plain dicts.

    Raises:
        KeyError: ``operation`` is not an MTurk operation.
    """
    check = _checker(operation, unknown)

    def run(params: dict[str, Any]) -> list[Violation]:
        out: list[Violation] = []
        check(params, (), out)
        return out

    return run


def _checker(operation: str, unknown: bool) -> _Check:
    check = _compiled.get((operation, unknown))
    if check is None:
        shape = _input_shape(operation)
        check = _compiled[(operation, unknown)] = _structure(shape, unknown, operation)
    return check


def validate(operation: str, params: Mapping[str, Any], *, unknown: bool = True) -> list[Violation]:
    """
    Return every rule ``params`` break as a request to ``operation`` (empty when valid).

    Args:
        operation: a 2017-01-17 operation name such as ``SendBonus``.
        params: the request parameters, as they would be sent.
        unknown: report members the model does not know (AWS ignores them on the wire,
            so the simulator passes ``False``).

    Returns:
        The violations in model member order, nested members depth-first; unknown
        members last.

    Raises:
        KeyError: ``operation`` is not an MTurk operation.
    """
    check = _compiled.get((operation, unknown)) or _checker(operation, unknown)
    out: list[Violation] = []
    check(params if isinstance(params, dict) else dict(params), (), out)
    return out
