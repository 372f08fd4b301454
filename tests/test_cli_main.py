"""
Tests for turkbatch.cli.main: one exception → exit code map, used by every command.

The codes expected here are written out from the documented exit codes (``errors.py``'s
tree and ``turkbatch --help``), not read from :data:`~turkbatch.cli.main.EXITS`, so a
changed entry fails a test.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from support import bonus, cli, write_job

from turkbatch import errors
from turkbatch.cli import main as entry
from turkbatch.errors import LineError

PACKAGE = Path(entry.__file__).resolve().parents[1]

#: Every class of errors.py, one instance each, and the exit code the documentation gives.
DOCUMENTED: list[tuple[BaseException, int]] = [
    (errors.TurkbatchError("something"), 1),
    (errors.UsageError("bad flag"), 2),
    (errors.EndpointMismatch("another endpoint"), 2),
    (errors.LookupFailed("lookup failed"), 2),
    (errors.Refused(["too much"]), 2),
    (errors.JobError("job.jsonl", [LineError(line=1, message="bad")]), 2),
    (errors.JournalError("journal"), 3),
    (errors.JournalCorrupt("damaged"), 3),
    (errors.JournalLocked("locked"), 3),
    (errors.JournalWriteError("disk full"), 3),
    (errors.OperationError("failed", code="X"), 1),
    (errors.SettingError("no route", code="EndpointConnectionError"), 2),
    (errors.AlreadyDone("done", code="X"), 1),
    (errors.TransientError("503", code="ServiceUnavailable"), 1),
    (errors.Throttled("slow down", code="ThrottlingException"), 1),
    (errors.PermanentError("no", code="ValidationException"), 1),
]
#: What the operating system raises, and Ctrl-C.
SYSTEM: list[tuple[BaseException, int]] = [
    (FileNotFoundError(2, "No such file or directory", "x.jsonl"), 2),
    (PermissionError(13, "Permission denied", "x.jsonl"), 2),
    (BrokenPipeError(32, "Broken pipe"), 0),
    (KeyboardInterrupt(), 130),
]
#: One argument list per command module, enough to parse.
ARGV = {
    "run": ["run", "job.jsonl"],
    "plan": ["plan", "job.jsonl"],
    "status": ["status", "job.journal.jsonl"],
    "report": ["report", "job.journal.jsonl"],
    "policy": ["policy", "job.jsonl"],
    "skeleton": ["skeleton"],
    "job": ["job", "from-csv", "in.csv", "--op", "SendBonus"],
    "verify": ["verify", "job.jsonl"],
}


def test_every_class_of_the_error_tree_has_an_exit_code() -> None:
    """Each exception class errors.py defines is a key of the map: a new one must be added."""
    tree = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == errors.__name__
    }
    assert tree, "errors.py defines no exception?"
    assert tree - set(entry.EXITS) == set()
    assert {type(exc) for exc, _ in DOCUMENTED} == tree


def test_every_command_module_is_on_the_command_line() -> None:
    """The commands main knows are exactly the modules these tests raise through."""
    assert {m.__name__.rpartition(".")[2] for m in entry.COMMANDS} == set(ARGV)


@pytest.mark.parametrize("command", sorted(ARGV))
@pytest.mark.parametrize(
    ("error", "code"), DOCUMENTED + SYSTEM, ids=[type(e).__name__ for e, _ in DOCUMENTED + SYSTEM]
)
def test_an_error_any_command_raises_ends_with_its_documented_code(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    error: BaseException,
    code: int,
) -> None:
    """Commands raise and main maps: the same error gives the same code from every command."""
    module = next(m for m in entry.COMMANDS if m.__name__.endswith(f".{command}"))

    def raises(args: object) -> int:
        raise error

    monkeypatch.setattr(module, "command", raises)
    monkeypatch.setattr(entry.render, "reader_gone", lambda: None)  # keep pytest's stdout
    assert cli(capsys, *ARGV[command])[0] == code


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception in no entry of the map is not swallowed into an exit code."""

    def raises(args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(entry.skeleton, "command", raises)
    with pytest.raises(RuntimeError, match="a bug"):
        entry.main(["skeleton"])


def _maps_exit_codes(path: Path) -> list[str]:
    """Where a module returns an exit code from an ``except`` block, or names ExitCode."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "ExitCode":
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.ExceptHandler):
            for inner in ast.walk(node):
                value = inner.value if isinstance(inner, ast.Return) else None
                if isinstance(value, ast.Constant) and type(value.value) is int:
                    found.append(f"{path.name}:{inner.lineno}: return {value.value}")
    return found


def test_no_other_module_maps_exceptions_to_exit_codes() -> None:
    """Only cli/main.py turns errors into exit codes (summary.py holds the run's own codes)."""
    own = {PACKAGE / "cli" / "main.py", PACKAGE / "summary.py"}
    # the simulator is a program of its own, which turkbatch imports nothing of
    modules = [p for p in PACKAGE.rglob("*.py") if p not in own and "sim" not in p.parts]
    assert [hit for p in sorted(modules) for hit in _maps_exit_codes(p)] == []
    assert _maps_exit_codes(PACKAGE / "cli" / "main.py")  # (the scan sees the map)


def _job(tmp_path: Path) -> Path:
    job = tmp_path / "bad.jsonl"
    job.write_text('{"op": "SendBonus"}\n')
    return job


def _journal(tmp_path: Path) -> Path:
    journal = tmp_path / "bad.journal.jsonl"
    journal.write_text('not json\n{"t": "run"}\n')
    return journal


def _csv(tmp_path: Path) -> Path:
    rows = tmp_path / "rows.csv"
    rows.write_text("WorkerId,AssignmentId,BonusAmount,Reason\nA1,3A,lots,thanks\n")
    return rows


def _big_bonus(tmp_path: Path) -> Path:
    return write_job(tmp_path / "big.jsonl", [bonus(1, amount="50.00")])


#: (files to make, argv, exit code, words stderr must hold, words it must not)
REAL: list[tuple[Callable[[Path], Path], list[str], int, str, str | None]] = [
    (_job, ["run", "{}", "--sim"], 2, "is invalid; nothing was sent", None),
    (_job, ["plan", "{}", "--offline"], 2, "is invalid; nothing was sent", None),
    (_job, ["policy", "{}"], 2, "bad.jsonl is invalid", "nothing was sent"),
    (_job, ["verify", "{}", "--sim"], 2, "bad.jsonl is invalid", "nothing was sent"),
    (_csv, ["job", "from-csv", "{}", "--op", "SendBonus"], 2, "rows.csv: nothing written", None),
    (_journal, ["status", "{}"], 3, "journal error: ", None),
    (_journal, ["report", "{}"], 3, "journal error: ", None),
    (_big_bonus, ["run", "{}", "--sim"], 2, "refused; nothing was sent:", None),
    (_big_bonus, ["run", "{}", "--sim", "--production"], 2, "conflict", None),
    (_job, ["skeleton", "SendBonuss"], 2, "SendBonus", None),
    (lambda tmp: tmp / "missing.jsonl", ["plan", "{}", "--offline"], 2, "no such job file", None),
]


@pytest.mark.parametrize(("make", "argv", "code", "said", "not_said"), REAL)
def test_each_command_surfaces_its_errors_through_main(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], Path],
    argv: list[str],
    code: int,
    said: str,
    not_said: str | None,
) -> None:
    """A bad job, damaged journal, refusal or bad flag: the documented code and words."""
    path = make(tmp_path)
    got, _out, err = cli(capsys, *(a.format(path) for a in argv))
    assert (got, said in err) == (code, True), err
    assert not_said is None or not_said not in err
    assert "Traceback" not in err


def test_an_invalid_job_named_to_report_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``report --job`` with an invalid job is exit 2, without "nothing was sent"."""
    journal = tmp_path / "ok.journal.jsonl"
    journal.write_bytes(orjson.dumps({"t": "run"}) + b"\n")
    code, _, err = cli(capsys, "report", str(journal), "--job", str(_job(tmp_path)))
    assert code == 2 and "bad.jsonl is invalid" in err and "nothing was sent" not in err
