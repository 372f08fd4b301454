"""
The simulator's read-only web page: the world, the ledger and the counters, as HTML.

Served at ``GET /_turkbatch/`` (and ``/_turkbatch/page``). It is rendered on the server
from :meth:`World.view`, :meth:`World.ledger` and the request counters, with no script
and no build step, and reloads itself every few seconds (``?refresh=N``; ``0`` never) so
it can be watched while a job runs. Every value is HTML-escaped; tables keep the newest
entries of long lists and say how many there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

DEFAULT_REFRESH = 2
"""Seconds between reloads of the page, unless ``?refresh=`` says otherwise."""

LEDGER_ROWS = 200
"""How many of the newest entries of each ledger list the page shows."""

_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.4em 0}
th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}
th{background:#f0f0f0}td.n{text-align:right}
.note{color:#666}
"""


def _time(value: Any) -> str:
    if not isinstance(value, int | float):
        return "" if value is None else str(value)
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "<td>yes</td>" if value else "<td>no</td>"
    if isinstance(value, int | float):
        return f'<td class="n">{value:g}</td>'
    if isinstance(value, list):
        return f"<td>{escape(', '.join(map(str, value)))}</td>"
    return f"<td>{escape('' if value is None else str(value))}</td>"


def table(
    section: str,
    title: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    total: int | None = None,
    times: Iterable[str] = (),
) -> str:
    """
    Return one titled HTML table (``id`` = ``section``) of ``rows``' ``columns``.

    Args:
        total: how many rows there are in all, when ``rows`` is the newest part.
        times: columns holding epoch seconds, shown as UTC times.
    """
    shown = set(times)
    count = len(rows) if total is None else total
    note = (
        f" ({count})"
        if total is None or count == len(rows)
        else f" (newest {len(rows)} of {count})"
    )
    out = [f'<h2>{escape(title)}<span class="note">{note}</span></h2>']
    if not rows:
        return out[0] + '<p class="note">none</p>'
    out.append(f'<table id="{escape(section)}"><thead><tr>')
    out.extend(f"<th>{escape(c)}</th>" for c in columns)
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = (_cell(_time(row.get(c)) if c in shown else row.get(c)) for c in columns)
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _messages(notifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one row per worker messaged: how many messages, and the last subject."""
    per: dict[str, dict[str, Any]] = {}
    for n in notifications:
        row = per.setdefault(n["WorkerId"], {"WorkerId": n["WorkerId"], "Messages": 0})
        row["Messages"] += 1
        row["LastSubject"] = n["Subject"]
        row["Time"] = n["Time"]
    return list(per.values())


def render(
    view: Mapping[str, Any],
    ledger: Mapping[str, Any],
    counters: Mapping[str, Any],
    *,
    workforce: Mapping[str, Any] | None = None,
    refresh: int = DEFAULT_REFRESH,
) -> str:
    """Return the whole page for a world's view, its ledger and the request counters."""
    kind = "strict" if view["strict"] else "permissive (unknown ids spring into being)"
    people = (
        f"{workforce['workers']} simulated workers, seed {workforce['seed']}"
        if workforce
        else "none"
    )
    head = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        "<title>turkbatch sim</title>",
        f'<meta http-equiv="refresh" content="{refresh}">' if refresh > 0 else "",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>turkbatch sim: the simulated MTurk account</h1>",
        f'<p id="summary">World: {escape(kind)}. Simulated time: {_time(view["now"])} UTC. '
        f'Balance: <b id="balance">{escape(view["balance"])}</b>. Workforce: {escape(people)}.'
        + (f" This page reloads every {refresh} s." if refresh > 0 else "")
        + "</p>",
    ]
    world = [
        table("hits", "HITs", view["hits"]["items"], (
            "HITId", "Title", "HITStatus", "Reward", "MaxAssignments", "Pending", "Available",
            "Submitted", "Completed", "Expiration"), total=view["hits"]["total"],
            times=("Expiration",)),
        table("assignments", "Assignments", view["assignments"]["items"], (
            "AssignmentId", "HITId", "WorkerId", "AssignmentStatus", "SubmitTime"),
            total=view["assignments"]["total"], times=("SubmitTime",)),
        table("workers", "Workers", view["workers"]["items"], (
            "WorkerId", "Notifiable", "Blocked", "Qualifications"),
            total=view["workers"]["total"]),
        table("qualification-types", "Your qualification types",
              view["qualification_types"]["items"],
              ("QualificationTypeId", "Name", "Status", "Requestable", "Granted"),
              total=view["qualification_types"]["total"]),
        table("requests", "Pending qualification requests", view["pending_requests"]["items"],
              ("QualificationRequestId", "QualificationType", "WorkerId", "SubmitTime"),
              total=view["pending_requests"]["total"], times=("SubmitTime",)),
    ]  # fmt: skip

    def newest(name: str) -> tuple[list[dict[str, Any]], int]:
        items = list(ledger.get(name, []))
        return items[-LEDGER_ROWS:], len(items)

    bonuses, n_bonuses = newest("bonuses")
    reviews, n_reviews = newest("assignment_changes")
    refunds, n_refunds = newest("refunds")
    messages = _messages(list(ledger.get("notifications", [])))
    books = [
        table("bonuses", "Bonuses", bonuses, (
            "WorkerId", "AssignmentId", "BonusAmount", "Fee", "Reason", "GrantTime"),
            total=n_bonuses, times=("GrantTime",)),
        table("messages", "Messages per worker", messages[-LEDGER_ROWS:],
              ("WorkerId", "Messages", "LastSubject", "Time"), total=len(messages),
              times=("Time",)),
        table("reviews", "Reviews", reviews, (
            "AssignmentId", "WorkerId", "HITId", "From", "To", "By", "Time"),
            total=n_reviews, times=("Time",)),
        table("refunds", "Refunds", refunds, (
            "HITId", "AssignmentId", "Assignments", "Amount", "Reason", "Time"),
            total=n_refunds, times=("Time",)),
    ]  # fmt: skip
    ops = [{"Operation": op, **counts} for op, counts in counters["operations"].items()]
    ops.append({"Operation": "total", **counters["totals"]})
    kinds = ("received", "succeeded", "errors", "throttled", "faulted", "lost")
    tail = [table("counters", "Requests", ops, ("Operation", *kinds)), "</body></html>"]
    return "".join([*head, *world, *books, *tail])
