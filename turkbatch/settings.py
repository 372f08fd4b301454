"""
What a run needs besides its job: :class:`Settings`, built once by the CLI or a program,
and the defaults it starts from. Its own module, so that the guards, the engine and the
commands all import it, and none of them each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from turkbatch import payments
from turkbatch import plan as planning
from turkbatch.backoff import DEFAULT_MAX_ATTEMPTS, Backoff
from turkbatch.client import ClientSettings
from turkbatch.summary import Snapshot

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_GRACE",
    "DEFAULT_RATE",
    "SIM_CREDENTIALS",
    "SIM_ENDPOINT",
    "Settings",
]

#: Requests per second for the account. MTurk never published a limit; users of the
#: legacy API reported throttling above 1–3 req/s, and 2017-API users hit "Rate exceeded"
#: only on unpaced bursts of 100+ calls. 10/s is above what any peer tool sends, and the
#: adaptive limiter cuts it on the first throttle, so a slower account costs nothing.
DEFAULT_RATE = 10.0
#: Enough in-flight calls to keep DEFAULT_RATE busy at up to ~1.5 s per call, and a
#: connection pool to match; raise it together with --rate for fast endpoints.
DEFAULT_CONCURRENCY = 16
#: Seconds in-flight calls get to finish after the first Ctrl-C / SIGTERM.
DEFAULT_GRACE = 30.0
#: Credentials for the embedded simulator, which accepts any signature.
SIM_CREDENTIALS = ("TURKBATCHSIMULATOR", "turkbatch-simulator-secret")
#: What a journal records as the endpoint of runs on the embedded simulator (``--sim``):
#: its port changes every run, and its world with it; it is never a real endpoint.
SIM_ENDPOINT = "sim:embedded"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """
    Everything a run needs besides the job, built once (by the CLI or a program).

    Attributes:
        client: where and how to reach MTurk.
        rate: ceiling in requests per second for the account.
        concurrency: calls in flight at once (and HTTP connections in the pool).
        journal: the journal's path; default ``<job>.journal.jsonl`` beside the job file.
        retry_failed: send again the operations an earlier run recorded as failed.
        grace: seconds in-flight calls get to finish after an interrupt.
        max_attempts: attempts per operation for transient errors (throttling is unlimited:
            the limiter slows down instead).
        progress_interval: seconds between progress events; 0 for none.
        handle_signals: stop gracefully on SIGINT/SIGTERM (main thread only).
        backoff: the retry delay policy.
        resend_expired: resend in-doubt CreateHIT-family calls older than the token window
            (which no listing can check) instead of holding them back.
        reconcile: look up every SendBonus the journal does not record as done before
            paying it (recovery after a journal was lost; one listing per assignment).
        max_bonus: the typo guard: refuse to start when a bonus to send is above it;
            ``None`` for no limit.
        max_spend: refuse to start when what the run would pay (bonuses, HIT rewards and
            their fees) is above it, and send no payment past it; ``None`` for no cap.
        balance_check: before the first payment, refuse when the account's available
            balance (GetAccountBalance) does not cover what the run would pay. Off by
            default here so a program pays for the call only when it asks; the CLI
            turns it on.
        confirm: asked, with the plan, after the guards and before anything that changes
            state is sent; ``False`` refuses. It blocks the event loop, which runs
            nothing else yet (the CLI's production prompt).
        progress: called with a :class:`~turkbatch.summary.Snapshot` every
            ``progress_interval`` seconds; ``None`` logs ``run.progress`` events
            (:class:`turkbatch.progress.Lines`).
        edited_payments: how to settle bonus lines edited after they were paid
            (:class:`~turkbatch.payments.EditedPayments`); ``None`` refuses to run.
        endpoint_moved: the journal's endpoint has a new address; go on with this one.
    """

    client: ClientSettings = field(default_factory=ClientSettings)
    rate: float = DEFAULT_RATE
    concurrency: int = DEFAULT_CONCURRENCY
    journal: Path | None = None
    retry_failed: bool = False
    grace: float = DEFAULT_GRACE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    progress_interval: float = 0.0
    handle_signals: bool = False
    backoff: Backoff = field(default_factory=Backoff)
    resend_expired: bool = False
    reconcile: bool = False
    max_bonus: Decimal | None = planning.DEFAULT_MAX_BONUS
    max_spend: Decimal | None = None
    balance_check: bool = False
    confirm: Callable[[planning.Plan], bool] | None = None
    progress: Callable[[Snapshot], None] | None = None
    edited_payments: payments.EditedPayments | None = None
    endpoint_moved: bool = False
