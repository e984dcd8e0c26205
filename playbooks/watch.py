"""Reload a playbook folder when its files change, keeping the last good catalog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

from playbooks.catalog import Catalog
from playbooks.errors import PlaybookLoadError, Problem
from playbooks.loader import load_dir

logger = logging.getLogger(__name__)

SUFFIXES = (".yaml", ".yml")
# Editors write a file in several steps (truncate, write, rename a swap file): wait for the
# burst to settle so one save is one reload, and a half-written file is not reported.
DEBOUNCE_MS = 300


def is_playbook_change(change: Change, path: str) -> bool:
    """Tell whether a file event concerns a playbook file (``*.yaml``, ``*.yml``)."""
    return Path(path).suffix in SUFFIXES


class PlaybookReloader:
    """Watch a playbook folder and hand over a new Catalog whenever it changes.

    The folder is all-or-nothing: when any file has a problem, `on_error` gets every
    problem (``file:line: message``) and `on_change` is not called, so the whole previous
    catalog stays in use, including the earlier version of the file being edited. A team
    sees one predictable set of playbooks rather than a mix of old and new files. The next
    valid save of the folder delivers a complete new catalog.
    """

    def __init__(
        self,
        folder: Path,
        on_change: Callable[[Catalog], None],
        on_error: Callable[[list[Problem]], None],
        *,
        debounce_ms: int = DEBOUNCE_MS,
    ) -> None:
        self.folder = Path(folder)
        self.on_change = on_change
        self.on_error = on_error
        self.debounce_ms = debounce_ms
        self.catalog: Catalog | None = None
        """The last catalog handed to `on_change`, None before the first good load."""

    def reload_now(self) -> bool:
        """Load the folder; hand over the new catalog, or its problems; return True if loaded."""
        try:
            # One pass that both checks and builds: no window in which a file changes
            # between a check that passed and a load that reads something else.
            catalog = load_dir(self.folder)
        except PlaybookLoadError as exc:
            self.on_error(exc.problems)
            return False
        self.catalog = catalog
        self.on_change(catalog)
        return True

    async def run(self, stop_event: asyncio.Event | None = None) -> None:
        """Reload once, then on every change to a playbook file, until `stop_event` is set.

        Cancelling the task stops it too. A failing callback is logged and watching goes on:
        a bug in a listener must not end hot reloading for the life of the process.
        """
        changes = awatch(
            self.folder,
            watch_filter=is_playbook_change,
            debounce=self.debounce_ms,
            stop_event=stop_event,
            recursive=False,
        )
        next_change = asyncio.ensure_future(anext(changes, None))
        try:
            # awatch starts watching in the first step of its generator, which this one turn
            # of the loop runs. Reloading only after that misses no edit: anything written
            # earlier is read now, anything later arrives as a change.
            await asyncio.sleep(0)
            self._reload_logged()
            while await next_change is not None:
                self._reload_logged()
                next_change = asyncio.ensure_future(anext(changes, None))
        finally:
            # The generator must be idle before it can be closed.
            next_change.cancel()
            await asyncio.wait([next_change])
            await changes.aclose()

    def _reload_logged(self) -> None:
        try:
            self.reload_now()
        except Exception:
            logger.exception("reloading playbooks from %s failed", self.folder)
