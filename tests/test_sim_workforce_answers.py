"""Tests for turkbatch.sim.workforce_answers: answers shaped by the question."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from xml.etree import ElementTree

from test_sim_workforce import HTML_QUESTION, QUESTION_FORM

from turkbatch.sim.workforce_answers import ANSWERS_NS, WORDS, answer_xml, fields_of

EXTERNAL = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2006-07-14/ExternalQuestion.xsd"><ExternalURL>https://example.com/task</ExternalURL>'
    "<FrameHeight>0</FrameHeight></ExternalQuestion>"
)


def first(items: Sequence[str]) -> str:
    """Always pick the first choice."""
    return items[0]


def parsed(xml: str) -> list[tuple[str, str, str]]:
    """Return (identifier, kind, value) for each Answer of a QuestionFormAnswers document."""
    root = ElementTree.fromstring(xml)
    assert root.tag == f"{{{ANSWERS_NS}}}QuestionFormAnswers"
    out = []
    for answer in root:
        identifier, value = list(answer)
        assert identifier.text is not None and value.text is not None
        out.append((identifier.text, value.tag.rpartition("}")[2], value.text))
    return out


def test_a_question_form_gets_one_answer_per_question() -> None:
    """A SelectionAnswer question is answered with one of its selections, a free-text
    question with free text, in the form's order."""
    assert fields_of(QUESTION_FORM) == [("animal", ["cat", "dog"]), ("why", None)]
    assert parsed(answer_xml(QUESTION_FORM, first)) == [
        ("animal", "SelectionIdentifier", "cat"),
        ("why", "FreeText", WORDS[0]),
    ]


def test_an_html_question_gets_one_answer_per_named_field() -> None:
    """Every named input, textarea or select of the page is answered, assignmentId not."""
    answers = parsed(answer_xml(HTML_QUESTION, first))
    assert [(i, kind) for i, kind, _ in answers] == [("total", "FreeText"), ("notes", "FreeText")]


def test_external_questions_and_layouts_get_one_free_text_answer() -> None:
    """An ExternalQuestion, a layout (no Question) and unparsable XML get one ``answer``."""
    for question in (EXTERNAL, None, "<not xml"):
        assert [(i, k) for i, k, _ in parsed(answer_xml(question, first))] == [
            ("answer", "FreeText")
        ]


def test_choices_come_from_the_pick() -> None:
    """The caller's pick decides every choice, so a seeded pick reproduces answers."""
    counter = itertools.count()

    def rotate(items: Sequence[str]) -> str:
        return items[next(counter) % len(items)]

    assert [v for *_, v in parsed(answer_xml(QUESTION_FORM, rotate))] == ["cat", WORDS[1]]
