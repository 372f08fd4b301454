"""Tests for turkbatch.redact: no credential survives in an error message."""

from __future__ import annotations

from turkbatch.redact import MAX_MESSAGE, scrub


def test_scrub_removes_every_form_of_a_secret() -> None:
    """Headers, canonical-request lines, query strings and bare key ids are all redacted."""
    text = (
        "authorization: AWS4-HMAC-SHA256 Credential=AKIAABCDEFGHIJKLMNOP/x, Signature=ab12\n"
        "x-amz-security-token:IQoJb3JpZ2luX2VjE\n"
        "?X-Amz-Credential=ASIAABCDEFGHIJKLMNOP%2F1&X-Amz-Signature=ff00&X-Amz-Security-Token=T0K"
        ' {"X-Amz-Security-Token": "JSONTOKEN"} key AKIAQRSTUVWXYZ123456 mysecretvalue'
    )
    clean = scrub(text, ("mysecretvalue",))
    for needle in ("AKIA", "ASIA", "ab12", "IQoJ", "ff00", "T0K", "JSONTOKEN", "mysecret"):
        assert needle not in clean, needle
    assert clean.count("<redacted>") >= 8


def test_scrub_keeps_ordinary_messages_and_caps_long_ones() -> None:
    """A message with no secret is unchanged; a whole page is cut to MAX_MESSAGE."""
    text = "Assignment 3ABC does not exist. (1700000000000)"
    assert scrub(text) == text
    assert len(scrub("x" * (MAX_MESSAGE * 3))) == MAX_MESSAGE + 1
