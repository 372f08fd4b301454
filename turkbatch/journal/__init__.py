"""
The journal: an append-only JSONL file of intents and outcomes that makes a run resumable.

Three modules, one concept each, importing downwards:

- :mod:`~turkbatch.journal.records`: the record format, the only code that spells it
  (encoders for the writer, :class:`Entry` values for the views);
- :mod:`~turkbatch.journal.replay`: one fold of a journal into one :class:`JournalState`
  (with :class:`Detail` for the views: per key, its deciding record; per operation and per
  bulk line, the calls by last word; the money);
- :mod:`~turkbatch.journal.writer`: :class:`Journal`, the lock, group commit and shielded
  close.

Everything else imports from here.
"""

from __future__ import annotations

from turkbatch.journal.records import KEYS_VERSION, Entry, RunRecord, Word
from turkbatch.journal.replay import (
    Detail,
    Failure,
    IntentRecord,
    JournalState,
    Tally,
    check_endpoint,
    endpoint_id,
    recorded_endpoint,
)
from turkbatch.journal.writer import (
    CLOSE_GRACE,
    FLUSH_BYTES,
    FLUSH_INTERVAL,
    INLINE_SYNC,
    Journal,
)

__all__ = [
    "CLOSE_GRACE",
    "FLUSH_BYTES",
    "FLUSH_INTERVAL",
    "INLINE_SYNC",
    "KEYS_VERSION",
    "Detail",
    "Entry",
    "Failure",
    "IntentRecord",
    "Journal",
    "JournalState",
    "RunRecord",
    "Tally",
    "Word",
    "check_endpoint",
    "endpoint_id",
    "recorded_endpoint",
]
