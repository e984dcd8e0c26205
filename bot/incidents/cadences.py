"""How often each reminder is due by default, per severity, and the rule that a playbook's
own interval wins: plain data, so that a reader of the figures (`warroom stats`) need not
import what schedules and fires reminders."""

from __future__ import annotations

from datetime import timedelta

STATUS_UPDATE = {
    "sev1": timedelta(minutes=15),
    "sev2": timedelta(minutes=30),
    "sev3": timedelta(hours=1),
}
UNACKNOWLEDGED = {
    "sev1": timedelta(minutes=5),
    "sev2": timedelta(minutes=10),
    "sev3": timedelta(minutes=30),
}


def configured_or_default(
    configured: timedelta | None, severity: str, defaults: dict[str, timedelta]
) -> timedelta | None:
    """A reminder's interval: the playbook's when it sets one, else the severity's default
    (None: no such reminder for this severity)."""
    return configured if configured is not None else defaults.get(severity)
