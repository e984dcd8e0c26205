"""Use case: a scheduled maintenance window's notice comes due (24 h, 1 h, start, end)."""

from __future__ import annotations

from bot.incidents import maintenance
from bot.incidents.context import Domain
from bot.incidents.records import Outcome
from storage.unit_of_work import UnitOfWork


def post_maintenance_notice(
    uow: UnitOfWork, domain: Domain, maintenance_id: int, phase: str
) -> Outcome | None:
    """Announce one phase of a window; None if it was cancelled."""
    return maintenance.notice_due(uow, domain, maintenance_id, phase)
