"""What the domain needs besides a session: the clock, the time zone, the playbooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.incidents.clock import Clock
from playbooks import Catalog


@dataclass
class Domain:
    """The domain's collaborators, built once in the entry point and passed down.

    `catalog` is replaced whole when the playbook folder changes (hot reload); a running
    incident is unaffected, as it keeps a snapshot of its playbook.
    """

    clock: Clock
    tz: ZoneInfo
    catalog: Catalog
    # A private incident's opening is announced in the broadcast channel without its
    # title (True) or not at all (False); nothing else of it ever is.
    announce_private: bool = True
    # The ticket tracker follow-ups are filed in (github, jira, linear); None: none is.
    tracker: str | None = None
    # How long after its postmortem is published an incident channel is archived; None:
    # never (WARROOM_ARCHIVE_AFTER=off).
    archive_after: timedelta | None = timedelta(days=7)
