"""What the domain needs besides a session: the clock, the time zone, the playbooks."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.incidents.clock import Clock
from playbooks import Catalog


@dataclass(frozen=True)
class Domain:
    """The domain's collaborators, built once in the entry point and passed down."""

    clock: Clock
    tz: ZoneInfo
    catalog: Catalog
