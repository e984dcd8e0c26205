"""The order an incident's milestones keep, so that every duration measured from them adds up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo

from bot.incidents.times import format_local

# (earlier, later): `later` may not be set before `earlier`. Impact starts first; a page is
# acknowledged only once detected; an incident is resolved only after it is mitigated and
# acknowledged. Other pairs are left free on purpose: an incident declared after the fact
# is detected and declared after it was mitigated, and a cause is often identified after
# resolution.
ORDER: tuple[tuple[str, str], ...] = (
    *(
        ("started", later)
        for later in ("detected", "declared", "acknowledged", "identified", "mitigated", "resolved")
    ),
    ("detected", "acknowledged"),
    ("acknowledged", "resolved"),
    ("mitigated", "resolved"),
)


def out_of_order(
    name: str, at: datetime, milestones: Mapping[str, datetime], tz: tzinfo
) -> str | None:
    """Why milestone `name` cannot be at `at` given the others (None when it can).

    The answer names the rule and the milestone it would break, in the team's zone.
    """
    for earlier, later in ORDER:
        if later == name and earlier in milestones and at < milestones[earlier]:
            shown = format_local(milestones[earlier], tz, with_date=True)
            return f"{name} cannot be before {earlier} ({shown})"
        if earlier == name and later in milestones and at > milestones[later]:
            shown = format_local(milestones[later], tz, with_date=True)
            return f"{name} cannot be after {later} ({shown})"
    return None
