"""
What a simulated worker answers: a QuestionFormAnswers document shaped by the question.

MTurk hands the requester a ``QuestionFormAnswers`` XML document per assignment. For a
QuestionForm it holds one ``<Answer>`` per ``<Question>``: a ``<SelectionIdentifier>``
(one of the question's selections) for a SelectionAnswer, ``<FreeText>`` otherwise. For
an HTMLQuestion it holds one free-text answer per named form field of the page (the
field ``assignmentId`` excepted), or a single ``answer`` when the page names none; for an
ExternalQuestion or a layout, a single free-text ``answer``. Choices come from the
caller's ``pick`` so that a seed reproduces them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from xml.etree import ElementTree
from xml.sax.saxutils import escape

ANSWERS_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/"
    "QuestionFormAnswers.xsd"
)
WORDS = (
    "cat", "dog", "receipt", "blue", "seven", "tree", "car", "none", "yes", "no",
    "street", "total", "photo", "sky", "red", "bird", "table", "window", "12.50", "ok",
)  # fmt: skip
"""The vocabulary of free-text answers."""

_FIELD = re.compile(r"<(?:input|textarea|select)\b[^>]*\bname\s*=\s*[\"']([^\"']+)[\"']", re.I)

Pick = Callable[[Sequence[str]], str]
"""Choose one item of a sequence (seeded by the caller)."""


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [child for child in element.iter() if _local(child.tag) == name]


def fields_of(question: str | None) -> list[tuple[str, list[str] | None]]:
    """
    Return ``(identifier, selections or None for free text)`` for each answer to give.

    Args:
        question: the HIT's Question XML (None for a layout-based HIT).
    """
    if question is None:
        return [("answer", None)]
    try:
        root = ElementTree.fromstring(question)
    except (ElementTree.ParseError, ValueError):
        return [("answer", None)]
    kind = _local(root.tag)
    if kind == "QuestionForm":
        found: list[tuple[str, list[str] | None]] = []
        for item in _children(root, "Question"):
            ids = _children(item, "QuestionIdentifier")
            if not ids or not ids[0].text:
                continue
            choices = [s.text for s in _children(item, "SelectionIdentifier") if s.text]
            found.append((ids[0].text.strip(), choices or None))
        return found or [("answer", None)]
    if kind == "HTMLQuestion":
        content = "".join(c.text or "" for c in _children(root, "HTMLContent"))
        names = [n for n in dict.fromkeys(_FIELD.findall(content)) if n != "assignmentId"]
        return [(name, None) for name in names] or [("answer", None)]
    return [("answer", None)]


def answer_xml(question: str | None, pick: Pick) -> str:
    """Return the QuestionFormAnswers document a worker submits for ``question``."""
    parts = [f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{ANSWERS_NS}">']
    for identifier, choices in fields_of(question):
        parts.append(f"<Answer><QuestionIdentifier>{escape(identifier)}</QuestionIdentifier>")
        if choices:
            parts.append(f"<SelectionIdentifier>{escape(pick(choices))}</SelectionIdentifier>")
        else:
            parts.append(f"<FreeText>{pick(WORDS)}</FreeText>")
        parts.append("</Answer>")
    parts.append("</QuestionFormAnswers>")
    return "".join(parts)
