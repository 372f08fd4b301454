"""
turkbatch: bulk Amazon Mechanical Turk requester operations, exactly once.

The public API is small: :func:`run` a job with :class:`Settings`, get a :class:`Summary`.
Names load on first use, so ``import turkbatch.sim`` does not pull in the engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turkbatch.client import ClientSettings
    from turkbatch.engine import run
    from turkbatch.errors import (
        EndpointMismatch,
        JobError,
        JournalError,
        LookupFailed,
        OperationError,
        Refused,
        SettingError,
        TurkbatchError,
        UsageError,
    )
    from turkbatch.payments import EditedPayments
    from turkbatch.settings import Settings
    from turkbatch.summary import Outcome, Summary

#: (read on first use: importing the package stays instant, so ``python -m turkbatch``
#: can take over Ctrl-C before anything slow happens)
__version__: str

_HOMES = {
    "ClientSettings": "turkbatch.client",
    "Settings": "turkbatch.settings",
    "run": "turkbatch.engine",
    "EditedPayments": "turkbatch.payments",
    "EndpointMismatch": "turkbatch.errors",
    "JobError": "turkbatch.errors",
    "JournalError": "turkbatch.errors",
    "LookupFailed": "turkbatch.errors",
    "OperationError": "turkbatch.errors",
    "Refused": "turkbatch.errors",
    "SettingError": "turkbatch.errors",
    "TurkbatchError": "turkbatch.errors",
    "UsageError": "turkbatch.errors",
    "Outcome": "turkbatch.summary",
    "Summary": "turkbatch.summary",
}
__all__ = [
    "ClientSettings",
    "EditedPayments",
    "EndpointMismatch",
    "JobError",
    "JournalError",
    "LookupFailed",
    "OperationError",
    "Outcome",
    "Refused",
    "SettingError",
    "Settings",
    "Summary",
    "TurkbatchError",
    "UsageError",
    "__version__",
    "run",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("turkbatch")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'turkbatch' has no attribute {name!r}")
    return getattr(import_module(home), name)
