"""
The files a command is given: refuse, in one line, what cannot be read as one.

A directory, a pipe or a device is refused before anything opens it (a FIFO would hang
the run: a job is read twice and a journal appended to), and a journal given where a job
goes, or a job where a journal goes, is named for what it is, from its first record.
"""

from __future__ import annotations

import contextlib
import os
import stat

import orjson

from turkbatch.engine import journal_path_for
from turkbatch.errors import UsageError
from turkbatch.journal.records import looks_like_journal

__all__ = ["check_file", "check_job", "check_journal", "sniff"]


def check_file(path: str | os.PathLike[str], what: str, *, may_be_missing: bool = False) -> None:
    """
    Refuse, with a one-line reason, a path that cannot be read as a regular file.

    A directory, a pipe or a device is refused before anything opens it (a FIFO would
    hang, and turkbatch reads a job twice and appends to a journal).

    Raises:
        UsageError: missing (unless ``may_be_missing``), a directory, or not a regular file.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if may_be_missing:
            return
        raise UsageError(f"{os.fspath(path)}: no such {what}") from None
    except OSError as exc:
        raise UsageError(f"{os.fspath(path)}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{os.fspath(path)} is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        raise UsageError(
            f"{os.fspath(path)} is not a regular file (a pipe or a device?): give the {what} "
            "as a file"
        )


def sniff(path: str | os.PathLike[str]) -> str | None:
    """
    Say what a file looks like from its first record: ``"journal"``, ``"job"`` or None.

    Only the first meaningful line is read, so a wrong file is named before it is parsed.
    """
    with contextlib.suppress(OSError), open(path, "rb") as f:
        for n, raw in enumerate(f):
            line = raw.strip()
            if n > 100:
                break
            if not line or line.startswith(b"#"):
                continue
            try:
                first = orjson.loads(line)
            except orjson.JSONDecodeError:
                return None
            if not isinstance(first, dict):
                return None
            if looks_like_journal(first):
                return "journal"
            return "job" if ("op" in first or "barrier" in first) else None
    return None


def check_job(path: str | os.PathLike[str]) -> None:
    """
    Refuse a job that is no regular file, or is a journal.

    Raises:
        UsageError: why, naming the file.
    """
    check_file(path, "job file")
    if sniff(path) == "journal":
        raise UsageError(
            f"{os.fspath(path)} is a journal, not a job file: give the job (the JSONL file "
            "of operations); status and report take the journal"
        )


def check_journal(path: str | os.PathLike[str], *, may_be_missing: bool = False) -> None:
    """
    Refuse a journal that is no regular file, or is a job.

    Raises:
        UsageError: why, naming the file (and the journal a job has by default).
    """
    check_file(path, "journal", may_be_missing=may_be_missing)
    if sniff(path) == "job":
        job = os.fspath(path)
        default, trial = journal_path_for(job), journal_path_for(job, sim=True)
        raise UsageError(
            f"{job} is a job file, not a journal (its journal is {default}, or {trial} for "
            "--sim runs, unless the run was given --journal)"
        )
