"""Watch the playbook folder and hand each change to the reload use case."""

from __future__ import annotations

import logging

from bot.composition.runtime import Runtime, playbooks_dir
from bot.usecases.reload_playbooks import playbook_change_refused, playbooks_changed
from playbooks import Catalog, Problem
from playbooks.watch import PlaybookReloader
from storage.unit_of_work import unit_of_work

log = logging.getLogger(__name__)


def playbook_reloader(runtime: Runtime) -> PlaybookReloader:
    """A watcher that swaps the catalog on a valid change and reports an invalid one."""
    folder = playbooks_dir(runtime.settings)

    def on_change(catalog: Catalog) -> None:
        playbooks_changed(runtime.domain, catalog)
        log.info("playbooks reloaded from %s: %s", folder, ", ".join(p.id for p in catalog))

    def on_error(problems: list[Problem]) -> None:
        shown = "\n".join(str(problem) for problem in problems[:20])
        log.error("playbook change refused, keeping the previous version:\n%s", shown)
        with unit_of_work(runtime.sessions) as uow:
            playbook_change_refused(uow, runtime.domain, problems)
        runtime.wake_dispatcher()

    return PlaybookReloader(folder, on_change, on_error)
