"""
``run``'s safety guards: nothing that changes state is sent until every one has passed.

In order: the **typo guard** (a bonus to send above ``max_bonus``) and the **spend cap**
(``max_spend``, bonuses and HIT rewards with MTurk's fees), which need no request; then
the **balance check** (GetAccountBalance, read-only) and the **confirmation** (the CLI's
production prompt), which the engine runs once its client is up. Each refusal raises
:class:`~turkbatch.errors.Refused`. The numbers are :func:`turkbatch.plan.survey`'s, the
same ``turkbatch plan`` shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from turkbatch import expand, jobs
from turkbatch import plan as planning
from turkbatch.bulk import Bulk
from turkbatch.catalog import BONUS_AMOUNTS, MONEY_OPERATIONS
from turkbatch.client import DENIED_CODES
from turkbatch.errors import OperationError, Refused, SettingError
from turkbatch.journal import JournalState

if TYPE_CHECKING:
    from turkbatch.settings import Settings

__all__ = ["check", "preflight"]


def preflight(
    name: str,
    source: Callable[[], Iterator[jobs.Operation | jobs.Barrier]],
    stats: jobs.JobStats,
    settings: Settings,
    journal_path: Path,
    state: JournalState,
) -> planning.Plan | None:
    """
    Survey what the run would pay, and apply the guards that need no request.

    ``state`` is the run's own replay of its journal, taken under the journal's lock
    (``Journal.open(..., begin=False)``): the guards count what the run will send.

    Returns:
        The plan, or ``None`` when no guard needs one (nothing moves money, no prompt).

    Raises:
        Refused: the typo guard or the spend cap refuses.
        JournalError: the journal is damaged.
    """
    guarded = settings.max_bonus is not None or settings.max_spend is not None
    moves_money = not MONEY_OPERATIONS.isdisjoint(stats.by_op)
    if settings.confirm is None and not (moves_money and (guarded or settings.balance_check)):
        return None
    if _first_bonus_run(stats, settings, state):
        # Nothing done yet and only plain bonuses: the check's totals are the plan's.
        result = planning.Plan(job=name, journal=str(journal_path), max_bonus=settings.max_bonus)
        result.spend.add(stats.bonus_spend)
        result.job_spend.add(stats.bonus_spend)
        _refuse(result.refusals(max_spend=settings.max_spend))
        return result
    result = planning.survey(
        name,
        source(),
        expand=expand.plan_expansion,
        state=state,
        journal=str(journal_path),
        digest=stats.digest,
        max_bonus=settings.max_bonus,
        retry_failed=settings.retry_failed,
        details=False,
    )
    _refuse(result.refusals(max_spend=settings.max_spend))
    return result


def _first_bonus_run(stats: jobs.JobStats, settings: Settings, state: JournalState) -> bool:
    """
    Whether ``check_job``'s totals say all the guards need, with no second read of the job:
    a first run (no journal yet) whose only money is single bonus lines, none above the
    typo guard (whose refusal names their lines), and no prompt to show the whole plan.
    """
    only_bonuses = MONEY_OPERATIONS.intersection(stats.by_op) <= BONUS_AMOUNTS.keys()
    over = settings.max_bonus is not None and stats.largest_bonus > settings.max_bonus
    return (
        only_bonuses
        and not over
        and settings.confirm is None
        and not stats.bulk.get(Bulk.BONUSES)
        and not state.records
    )


async def check(
    plan: planning.Plan, settings: Settings, balance: Callable[[], Awaitable[Decimal]]
) -> None:
    """
    Check the balance, then ask for confirmation: the last steps before sending.

    Args:
        plan: what :func:`preflight` returned; its ``balance`` is filled in.
        settings: the run's settings.
        balance: looks up the available balance (through the engine's retry layer).

    Raises:
        Refused: the balance does not cover the run or cannot be looked up, or the
            confirmation said no.
        SettingError: the endpoint cannot be reached or refused the credentials.
    """
    if settings.balance_check and (plan.spend.total > 0 or settings.confirm):
        try:
            plan.balance = await balance()
        except SettingError as exc:
            if exc.code not in DENIED_CODES:
                raise  # the endpoint or the credentials, not IAM: the message says which
            raise Refused(
                f"the credentials may not check the balance before paying ({exc.code}); "
                "allow mechanicalturk:GetAccountBalance, or run with --no-balance-check"
            ) from exc
        except OperationError as exc:
            raise Refused(
                f"cannot check the balance before paying (GetAccountBalance: {exc.message}); "
                "allow mechanicalturk:GetAccountBalance, or run with --no-balance-check"
            ) from exc
        _refuse(plan.refusals(max_spend=settings.max_spend))
    # Called in the event loop, which runs nothing else yet: a prompt in a worker thread
    # would leave Ctrl-C at the prompt waiting on that thread.
    if settings.confirm is not None and not settings.confirm(plan):
        raise Refused("not confirmed")


def _refuse(reasons: list[str]) -> None:
    if reasons:
        raise Refused(reasons)
