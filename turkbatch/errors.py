"""
turkbatch's one error tree, branched by what the caller can do about it.

::

    TurkbatchError
    ├── UsageError              bad command line or settings          → exit 2, nothing sent
    │   ├── EndpointMismatch    the journal describes another endpoint
    │   ├── LookupFailed        what is in doubt cannot be looked up (it stays in doubt)
    │   └── Refused             a safety guard said no (typo guard, spend cap, balance,
    │                           production not confirmed)             → exit 2, nothing sent
    ├── JobError                invalid job file (every LineError)    → exit 2, nothing sent
    ├── JournalError            the journal cannot be trusted or kept → stop, exit non-zero
    │   ├── JournalCorrupt      damage before the last line
    │   ├── JournalLocked       another run holds it
    │   └── JournalWriteError   disk full, permissions, deleted directory
    └── OperationError          one API call did not succeed
        ├── SettingError        the run's setting failed, not the operation (endpoint
        │                       unreachable, TLS, credentials refused or expired, IAM
        │                       denies the action) → stop the run, record nothing as
        │                       failed; exit 2 when nothing was sent
        ├── AlreadyDone         MTurk says it is already in that state → counts as done
        ├── TransientError      worth retrying with backoff (5xx, ServiceFault, lost response)
        │   └── Throttled       retry, and slow the rate down
        └── PermanentError      retrying cannot help → the item is failed, error recorded

botocore and aiohttp exceptions become ``OperationError`` subclasses in exactly one
place, :mod:`turkbatch.client`; nothing else imports botocore's exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass


class TurkbatchError(Exception):
    """Base of every error turkbatch raises on purpose."""


class UsageError(TurkbatchError):
    """The command line or settings are unusable; nothing was sent."""


class EndpointMismatch(UsageError):
    """The journal describes runs against another endpoint; nothing was sent or written."""


class LookupFailed(UsageError):
    """
    What was in doubt could not be looked up (ListBonusPayments failed); nothing was sent,
    and it stays in doubt for the next run.
    """


class Refused(UsageError):
    """
    A safety guard refused to start the run; nothing that changes state was sent.

    Args:
        reasons: why, one sentence each.
    """

    def __init__(self, reasons: str | list[str]) -> None:
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        super().__init__("; ".join(self.reasons))


@dataclass(frozen=True, slots=True, kw_only=True)
class LineError:
    """One problem on one line of a job file."""

    line: int
    message: str

    def render(self, path: str) -> str:
        """Return the compiler-style ``path:line: message`` form."""
        return f"{path}:{self.line}: {self.message}"


class JobError(TurkbatchError):
    """
    The job file is invalid; nothing was sent.

    Args:
        path: the job file as the user named it.
        errors: the first errors found, in line order (capped).
        total: how many errors there were in all (may exceed ``len(errors)``).
    """

    def __init__(self, path: str, errors: list[LineError], total: int | None = None) -> None:
        self.path = path
        self.errors = errors
        self.total = len(errors) if total is None else total
        super().__init__(self.render())

    def render(self) -> str:
        """Return every kept error on its own line, and how many more there were."""
        lines = [e.render(self.path) for e in self.errors]
        more = self.total - len(self.errors)
        if more > 0:
            lines.append(f"... and {more} more error{'s' if more != 1 else ''}")
        return "\n".join(lines)


class JournalError(TurkbatchError):
    """The journal cannot be read, trusted or written."""


class JournalCorrupt(JournalError):
    """A journal line other than the last is damaged: refuse rather than guess."""


class JournalLocked(JournalError):
    """Another run is using this journal."""


class JournalWriteError(JournalError):
    """The journal could not be written or made durable."""


class OperationError(TurkbatchError):
    """
    One MTurk call did not succeed.

    Args:
        message: the service's message (or the transport error's text).
        code: the error code (``RequestError``, ``ServiceFault``, ``503``, ...).
        turk_code: MTurk's ``AWS.MechanicalTurk.*`` code, when it sent one.
        request_id: the ``x-amzn-RequestId`` of the failed response, when there was one.
        status: the HTTP status, when there was a response.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        turk_code: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.turk_code = turk_code
        self.request_id = request_id
        self.status = status

    def as_dict(self) -> dict[str, object]:
        """Return the error as a JSON-ready record for the journal and reports."""
        record: dict[str, object] = {"code": self.code, "message": self.message}
        if self.turk_code:
            record["turk_code"] = self.turk_code
        if self.request_id:
            record["request_id"] = self.request_id
        if self.status is not None:
            record["status"] = self.status
        return record


class SettingError(OperationError):
    """
    The run's setting failed, not the operation: no call can succeed until it is fixed.

    The endpoint cannot be reached (refused, unknown name, TLS, no answer to connect), or
    it refused the credentials (unknown key, bad signature, expired token) or the action
    (IAM). The message names the cause and the fix. The request never took effect (it was
    refused or never connected), unless ``maybe_sent``: an earlier attempt of the same
    call failed in a way that may have reached MTurk.
    """

    maybe_sent: bool = False


class AlreadyDone(OperationError):
    """MTurk refused because the work is already done (token processed, already approved)."""


class TransientError(OperationError):
    """A failure worth retrying: the service may succeed next time."""


class Throttled(TransientError):
    """The service is rate limiting: retry, and lower the request rate."""


class PermanentError(OperationError):
    """Retrying cannot help; the item fails with this error recorded."""
