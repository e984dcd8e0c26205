"""Hot reload of the playbook folder: new incidents use the new playbooks at once."""

from __future__ import annotations

import logging

from bot.composition.runtime import Runtime, playbooks_dir
from bot.incidents import effects
from playbooks import Catalog, Problem
from playbooks.watch import PlaybookReloader
from storage import outbox
from storage.db import transaction

log = logging.getLogger(__name__)


def playbook_reloader(runtime: Runtime) -> PlaybookReloader:
    """A watcher that swaps the catalog on a valid change and reports an invalid one."""
    folder = playbooks_dir(runtime.settings)

    def on_change(catalog: Catalog) -> None:
        runtime.domain.catalog = catalog
        log.info("playbooks reloaded from %s: %s", folder, ", ".join(p.id for p in catalog))

    def on_error(problems: list[Problem]) -> None:
        lines = "\n".join(str(problem) for problem in problems[:20])
        log.error("playbook change refused, keeping the previous version:\n%s", lines)
        with transaction(runtime.sessions) as session:
            outbox.enqueue(
                session=session,
                kind=effects.BROADCAST,
                payload={
                    "incident_id": None,
                    "text": "Playbook change refused; the previous version stays in use:\n" + lines,
                },
                incident_id=None,
                now=runtime.domain.clock.now(),
            )
        runtime.wake_dispatcher()

    return PlaybookReloader(folder, on_change, on_error)
