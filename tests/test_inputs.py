"""Tests for turkbatch.inputs: what a file given on the command line is (the CLI tests run
every refusal through the real command line)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from turkbatch.errors import UsageError
from turkbatch.inputs import check_file, check_job, check_journal, sniff


def test_sniff_tells_a_journal_from_a_job_by_the_first_record(tmp_path: Path) -> None:
    """A journal starts with a run record; a job line has an op (comments skipped)."""
    journal, job, other = tmp_path / "j.jsonl", tmp_path / "job.jsonl", tmp_path / "x.txt"
    journal.write_text('{"t":"run","job":"abc","pid":1}\n{"t":"done","k":"1"}\n')
    job.write_text('# payouts\n\n{"op": "SendBonus"}\n')
    other.write_text("not json\n")
    assert (sniff(journal), sniff(job), sniff(other)) == ("journal", "job", None)
    assert sniff(tmp_path / "missing") is None


def test_the_wrong_kind_of_file_is_refused(tmp_path: Path) -> None:
    """A journal as a job, a job as a journal, a directory or a FIFO: UsageError, one line."""
    journal, job, fifo = tmp_path / "j.jsonl", tmp_path / "job.jsonl", tmp_path / "fifo"
    journal.write_text('{"t":"run","job":"abc"}\n')
    job.write_text('{"op": "SendBonus"}\n')
    os.mkfifo(fifo)
    for call, path in ((check_job, journal), (check_journal, job), (check_job, tmp_path)):
        with pytest.raises(UsageError) as info:
            call(path)
        assert "\n" not in str(info.value)
    with pytest.raises(UsageError, match="not a regular file"):
        check_file(fifo, "journal")
    check_journal(tmp_path / "new.journal.jsonl", may_be_missing=True)  # a new journal is fine
