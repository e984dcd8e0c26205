"""Across incidents, per severity: follow-ups opened, done, overdue, and how long they take.

Counted in the database with aggregates (`storage.followup_queries`), drills left out:
opened is every follow-up recorded; done, those marked done; overdue, those still open
past their due date as of today (in the display time zone); the median time to close is
from recording to done, over the done ones (dropped ones never closed anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session

from bot.incidents.commands import SEVERITIES
from storage.followup_queries import followup_counts, median_seconds_to_close


@dataclass(frozen=True)
class SeverityFollowups:
    """One severity's follow-ups."""

    severity: str
    opened: int
    done: int
    overdue: int
    median_to_close: timedelta | None  # None: none done yet


@dataclass(frozen=True)
class FollowupStats:
    """Follow-up figures per severity, sev1 first, every severity listed; as of `today`."""

    today: date
    severities: tuple[SeverityFollowups, ...]

    def of(self, severity: str) -> SeverityFollowups:
        """One severity's figures."""
        return next(row for row in self.severities if row.severity == severity)


def followup_stats(session: Session, *, today: date) -> FollowupStats:
    """Count every severity's follow-ups, and the median time to close the done ones."""
    found = {row[0]: row for row in followup_counts(session=session, today=today)}
    medians = median_seconds_to_close(session=session)
    rows = []
    for name in SEVERITIES:
        _, opened, done, overdue = found.get(name, (name, 0, 0, 0))
        median = medians.get(name)
        rows.append(
            SeverityFollowups(
                severity=name,
                opened=opened,
                done=done,
                overdue=overdue,
                median_to_close=timedelta(seconds=round(median)) if median is not None else None,
            )
        )
    return FollowupStats(today=today, severities=tuple(rows))
