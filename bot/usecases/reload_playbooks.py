"""Use case: the playbook folder changed; new incidents use the new playbooks at once."""

from __future__ import annotations

from bot.incidents.context import Domain
from bot.incidents.effects import Broadcast
from bot.incidents.records import Outcome, Recorder
from playbooks import Catalog, Problem
from storage.unit_of_work import UnitOfWork

SHOWN_PROBLEMS = 20


def playbooks_changed(domain: Domain, catalog: Catalog) -> None:
    """Use the new playbooks for every incident opened from now on; a running incident
    keeps the snapshot of its own."""
    domain.catalog = catalog


def playbook_change_refused(uow: UnitOfWork, domain: Domain, problems: list[Problem]) -> Outcome:
    """Keep the previous playbooks and tell the team what is wrong with the change."""
    lines = "\n".join(str(problem) for problem in problems[:SHOWN_PROBLEMS])
    rec = Recorder(uow, None, domain.clock.now(), domain.tz)
    rec.effect(
        Broadcast(text="Playbook change refused; the previous version stays in use:\n" + lines)
    )
    rec.close()
    return rec.outcome
