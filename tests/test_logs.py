"""Logging: console and file outputs, levels, and secrets that never get written."""

from __future__ import annotations

import io
import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from turkbatch import logs

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    """Put structlog and the root logger back as they were after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    logs.configure(stream=io.StringIO())  # closes a log file left open
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(text: str) -> list[dict[str, object]]:
    """Parse JSON log lines."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_console_and_levels() -> None:
    """JSON lines on the stream, at the chosen level and above."""
    out = io.StringIO()
    logs.configure(level="info", fmt="json", stream=out)
    log = structlog.get_logger()
    log.debug("hidden")
    log.info("run.started", operations=3)
    (record,) = lines(out.getvalue())
    assert record["event"] == "run.started" and record["operations"] == 3
    assert record["level"] == "info" and "timestamp" in record


def test_secrets_are_redacted_by_key_and_by_content() -> None:
    """Secret-looking keys lose their values; signatures, tokens, key ids are scrubbed."""
    out = io.StringIO()
    logs.configure(level="debug", fmt="json", stream=out)
    structlog.get_logger().debug(
        "request",
        aws_secret_access_key=SECRET,
        Authorization=f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20261122/us-east-1/mturk-requester",
        headers={"X-Amz-Security-Token": "FwoGZXIvYXdzTOKEN", "x": ["Signature=abc123"]},
        note=f"key {KEY_ID} used",
    )
    text = out.getvalue()
    for secret in (SECRET, KEY_ID, "FwoGZXIvYXdzTOKEN", "abc123"):
        assert secret not in text
    assert text.count("[redacted]") >= 4


def test_scrub_leaves_ordinary_text_alone() -> None:
    """Tokens of turkbatch's own, worker ids and times are not secrets."""
    text = "token tb1-" + "a" * 40 + " worker A1B2C3 at 2026-11-22T17:00:00Z ok"
    assert logs.scrub(text) == text
    assert logs.scrub("Signature=deadbeef, rest") == "Signature=[redacted], rest"


def test_log_file_is_json_0600_and_keeps_info_when_the_console_is_quiet(tmp_path: Path) -> None:
    """--log-file writes JSON lines (mode 0600) at info even when the console shows warnings."""
    out, path = io.StringIO(), tmp_path / "run.log"
    logs.configure(level="warning", fmt="console", stream=out, log_file=path)
    log = structlog.get_logger()
    log.info("run.progress", done=1)
    log.warning("op.failed", key="k")
    log.debug("request.ok")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    events = [r["event"] for r in lines(path.read_text())]
    assert events == ["run.progress", "op.failed"]
    assert "op.failed" in out.getvalue() and "run.progress" not in out.getvalue()


def test_debug_reaches_the_file(tmp_path: Path) -> None:
    """With --debug the file gets the request-level events too."""
    path = tmp_path / "run.log"
    logs.configure(level="debug", fmt="json", stream=io.StringIO(), log_file=path)
    structlog.get_logger().debug("request.ok", op="SendBonus")
    assert [r["event"] for r in lines(path.read_text())] == ["request.ok"]


def test_chatty_libraries_stay_at_warning_and_are_scrubbed() -> None:
    """botocore's DEBUG (which prints headers) never shows; its warnings are scrubbed."""
    out = io.StringIO()
    logs.configure(level="debug", fmt="json", stream=out)
    botocore_log = logging.getLogger("botocore.endpoint")
    botocore_log.debug("Sending http request: Authorization: %s", "secret-header")
    botocore_log.warning("retrying with Signature=%s", "cafe01")
    text = out.getvalue()
    assert "secret-header" not in text and "cafe01" not in text
    assert "Signature=[redacted]" in text


def test_configuring_twice_keeps_one_handler() -> None:
    """The root logger gets exactly one turkbatch handler however often logging is set up."""
    logs.configure(stream=io.StringIO())
    logs.configure(stream=io.StringIO())
    ours = [h for h in logging.getLogger().handlers if type(h).__module__ == "turkbatch.logs"]
    assert len(ours) == 1
