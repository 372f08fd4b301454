"""
Input rules the model documents and MTurk enforces, beyond what a schema can say.

Each check raises MTurk's ParameterValidationError (with ``Parameter`` and TurkErrorCode
``AWS.MechanicalTurk.InvalidParameterValue``) naming the member at fault:

- ``Question`` must be well-formed QuestionForm, ExternalQuestion or HTMLQuestion XML of
  at most 65,535 bytes (CreateHIT model doc);
- a qualification ``Test`` must be QuestionForm XML (boto3#2108: MTurk refused an
  invalid one with exactly this error);
- ``HITLayoutId`` must name a layout the world knows (layouts are made in the
  requester website, so a strict world knows only those its file lists; a permissive
  world accepts any);
- a QualificationRequirement's ``LocaleValues`` only with Worker_Locale and EqualTo,
  NotEqualTo, In or NotIn, and exactly one for EqualTo/NotEqualTo; no ``IntegerValues``
  with Exists/DoesNotExist or with Worker_Locale (QualificationRequirement model doc);
- a notification's ``Version`` must be ``2006-05-05``.

The texts of the requirement errors are the simulator's [I]; the others follow the
``The value "..." is not valid for the parameter ...`` form MTurk uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree import ElementTree

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_records import Json
from turkbatch.sim.world_system import WORKER_LOCALE

MAX_QUESTION_BYTES = 65_535
"""The largest Question MTurk accepts, in UTF-8 bytes, whitespace included."""

QUESTION_ROOTS = frozenset({"QuestionForm", "ExternalQuestion", "HTMLQuestion"})
"""The XML documents a Question may be."""

NOTIFICATION_VERSION = "2006-05-05"
"""The only notification API version."""

_LOCALE_COMPARATORS = frozenset({"EqualTo", "NotEqualTo", "In", "NotIn"})
_SINGLE = frozenset({"EqualTo", "NotEqualTo"})
_PRESENCE = frozenset({"Exists", "DoesNotExist"})


def xml_root(text: str) -> str | None:
    """Return the local name of an XML document's root element, or None if not XML."""
    try:
        root = ElementTree.fromstring(text)
    except (ElementTree.ParseError, ValueError):
        return None
    return root.tag.rpartition("}")[2]


def question_kind(question: str) -> str:
    """
    Return a Question's kind (``QuestionForm``, ``ExternalQuestion``, ``HTMLQuestion``).

    Raises:
        ApiError: ParameterValidationError for ``Question``.
    """
    kind = None
    if len(question.encode()) <= MAX_QUESTION_BYTES:
        kind = xml_root(question)
    if kind not in QUESTION_ROOTS:
        raise err.invalid_value("Question", question)
    assert kind is not None
    return kind


def check_test(test: str) -> None:
    """Refuse a qualification Test that is not QuestionForm XML."""
    if xml_root(test) != "QuestionForm":
        raise err.invalid_value("Test", test)


def check_layout(layout_id: str, known: Iterable[str] | None) -> None:
    """Refuse a HITLayoutId the world does not know (``known`` None: any is fine)."""
    if known is not None and layout_id not in known:
        raise err.invalid_value("HITLayoutId", layout_id)


def check_requirements(requirements: list[Json]) -> None:
    """Refuse QualificationRequirements that break the model's value rules."""
    for requirement in requirements:
        comparator = requirement["Comparator"]
        locales = requirement.get("LocaleValues")
        integers = requirement.get("IntegerValues")
        is_locale = requirement["QualificationTypeId"] == WORKER_LOCALE
        if locales is not None:
            if not is_locale:
                raise err.bad_requirement(
                    "LocaleValues can only be used with the Worker_Locale QualificationType."
                )
            if comparator not in _LOCALE_COMPARATORS:
                raise err.bad_requirement(
                    "LocaleValues can only be used with the EqualTo, NotEqualTo, In and "
                    f"NotIn comparators, not {comparator}."
                )
            if comparator in _SINGLE and len(locales) != 1:
                raise err.bad_requirement(
                    f"Exactly one LocaleValue must be given with the {comparator} comparator."
                )
        if integers is not None:
            if comparator in _PRESENCE:
                raise err.bad_requirement(
                    f"IntegerValues must not be given with the {comparator} comparator."
                )
            if is_locale:
                raise err.bad_requirement(
                    "IntegerValues cannot be used with the Worker_Locale QualificationType."
                )


def check_notification_version(spec: Json) -> None:
    """Refuse a notification specification of another API version than 2006-05-05."""
    version = spec["Version"]
    if version != NOTIFICATION_VERSION:
        raise err.invalid_value("Version", version)
