"""
Tests for turkbatch.sim.page: the read-only web page, loaded in a real headless Chromium.

Chromium comes from the system's packages (``apt-get install -y chromium``; ``.ci/run``
installs it). The browser tests skip, saying so, only when no Chromium can be found.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from test_sim_workforce import HIT, QUESTION_FORM, client

from turkbatch.sim import Clock, Simulator, World
from turkbatch.sim.background import simulator_in_thread
from turkbatch.sim.page import render
from turkbatch.sim.workforce_settings import WorkforceSettings

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM = next((found for name in BROWSERS if (found := shutil.which(name))), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on PATH (install Debian's: apt-get install -y chromium)",
)
HOSTILE = '<script>alert("owned")</script> & more'


class Tables(HTMLParser):
    """Collect the text of every cell of every table, by table id, plus the page's tags."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[str] = []
        self.meta: list[dict[str, str | None]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Track tables, rows and cells; remember meta tags."""
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "meta":
            self.meta.append(found)
        if tag == "table":
            self._table = found.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        """Close cells and tables."""
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        """Keep a cell's text."""
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table: str) -> list[dict[str, str]]:
        """Return a table's body rows as dicts keyed by its header."""
        header, *body = self.tables[table]
        return [dict(zip(header, row, strict=True)) for row in body]


def dump_dom(url: str, profile: Path) -> Tables:
    """Load ``url`` in headless Chromium and parse the DOM it ends up with."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    page = Tables()
    page.feed(done.stdout)
    return page


@pytest.fixture
def busy() -> Iterator[tuple[Simulator, Any, str]]:
    """A strict world with a workforce, a HIT worked on for a day, one review, one bonus
    (with a hostile Reason) and one message."""
    workforce = WorkforceSettings(workers=12, seed=4, return_share=0, abandon_share=0)
    world = World(clock=Clock(), strict=True, workforce=workforce)
    with simulator_in_thread(world=world, clock=world.clock) as sim:
        mturk = client(sim)
        hit_id = mturk.create_hit(MaxAssignments=3, Question=QUESTION_FORM, **HIT)["HIT"]["HITId"]
        urllib.request.urlopen(
            urllib.request.Request(
                f"{sim.endpoint_url}/_turkbatch/clock", data=b'{"advance": 86400}', method="POST"
            ),
            timeout=10,
        ).close()
        first = mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"][0]
        mturk.approve_assignment(AssignmentId=first["AssignmentId"])
        mturk.send_bonus(
            WorkerId=first["WorkerId"],
            AssignmentId=first["AssignmentId"],
            BonusAmount="1.50",
            Reason=HOSTILE,
        )
        mturk.notify_workers(Subject="Thanks", MessageText="Paid.", WorkerIds=[first["WorkerId"]])
        yield sim, mturk, hit_id


@needs_chromium
def test_the_page_shows_the_world_the_ledger_and_the_counters(
    busy: tuple[Simulator, Any, str], tmp_path: Path
) -> None:
    """In a real browser the page shows the HIT with its status and counts, its
    assignments, the workers, the bonus with its fee, the message, the review and the
    request counters; a hostile Reason is text, never a script."""
    sim, _, hit_id = busy
    page = dump_dom(f"{sim.endpoint_url}/_turkbatch/", tmp_path / "profile")
    (hit,) = page.rows("hits")
    assert (hit["HITId"], hit["HITStatus"]) == (hit_id, "Reviewable")
    assert (hit["Submitted"], hit["Completed"], hit["Pending"], hit["Available"]) == (
        "2", "1", "0", "0"
    )  # fmt: skip
    statuses = sorted(a["AssignmentStatus"] for a in page.rows("assignments"))
    assert statuses == ["Approved", "Submitted", "Submitted"]
    assert len(page.rows("workers")) == 12
    (bonus,) = page.rows("bonuses")
    assert (bonus["BonusAmount"], bonus["Fee"], bonus["Reason"]) == ("1.50", "0.30", HOSTILE)
    assert "script" not in page.tags
    (message,) = page.rows("messages")
    assert (message["WorkerId"], message["Messages"]) == (bonus["WorkerId"], "1")
    (review,) = page.rows("reviews")
    assert (review["To"], review["By"]) == ("Approved", "requester")
    counts = {row["Operation"]: row for row in page.rows("counters")}
    assert counts["SendBonus"]["succeeded"] == "1"
    assert counts["CreateHIT"]["received"] == "1"
    assert {"http-equiv": "refresh", "content": "2"} in page.meta


@needs_chromium
def test_each_reload_shows_the_world_as_it_is_now(
    busy: tuple[Simulator, Any, str], tmp_path: Path
) -> None:
    """The page reloads itself (``refresh``) and is never cached: after another bonus,
    the next load shows two; ``?refresh=0`` turns the reloading off."""
    sim, mturk, _ = busy
    assert len(dump_dom(f"{sim.endpoint_url}/_turkbatch/page", tmp_path / "a").rows("bonuses")) == 1
    paid = sim.world.ledger()["bonuses"][0]
    mturk.send_bonus(
        WorkerId=paid["WorkerId"], AssignmentId=paid["AssignmentId"], BonusAmount="0.10", Reason="x"
    )
    again = dump_dom(f"{sim.endpoint_url}/_turkbatch/page?refresh=0", tmp_path / "b")
    assert [b["BonusAmount"] for b in again.rows("bonuses")] == ["1.50", "0.10"]
    assert not any(m.get("http-equiv") == "refresh" for m in again.meta)


def test_render_keeps_the_newest_rows_of_long_lists() -> None:
    """A ledger or a world longer than the page's limit shows its newest rows, in order,
    and says how many there are."""
    world = World(clock=Clock())
    for n in range(205):
        world.call(
            "SendBonus",
            {"WorkerId": "A1", "AssignmentId": f"3A{n}", "BonusAmount": "0.01", "Reason": str(n)},
        )
    counters = {"operations": {}, "totals": {}}
    html = render(world.view(), world.ledger(), counters, refresh=0)
    page = Tables()
    page.feed(html)
    reasons = [row["Reason"] for row in page.rows("bonuses")]
    assert reasons[0] == "5" and reasons[-1] == "204" and len(reasons) == 200
    assert "(newest 200 of 205)" in html
    shown = [row["AssignmentId"] for row in page.rows("assignments")]
    assert (shown[0], shown[-1], len(shown)) == ("3A5", "3A204", 200)
