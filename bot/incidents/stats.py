"""Across incidents: how fast the team acknowledges, mitigates and resolves, drills left out.

The rules live here (which moments each measure runs between, how percentiles are
interpolated, which cadence an incident keeps); the reads are in `storage.stats_queries`:
the database orders the measures and hands back only the rows at the wanted ranks, and
counts the update intervals kept against the cadences worked out here per (severity,
written cadence), so memory does not grow with the count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from sqlmodel import Session

from bot.incidents.cadences import STATUS_UPDATE, configured_or_default
from bot.incidents.followup_stats import FollowupStats, followup_stats
from bot.incidents.times import elapsed
from bot.incidents.weekly_stats import WeeklyRequest, WeeklyStats, weekly_stats
from playbooks import parse_duration
from storage.stats_queries import (
    Moment,
    cadence_settings,
    counted_incidents,
    for_stats,
    ranked_gaps,
    updates_on_cadence,
)


@dataclass(frozen=True)
class Measure:
    """A figure's name and the two moments of an incident it runs between."""

    name: str
    start: Moment
    end: Moment


# Times from impact start; the first update from declaration (who declared is told first).
MEASURES = (
    Measure("time to acknowledge", Moment(milestone="started"), Moment(milestone="acknowledged")),
    Measure("time to mitigate", Moment(milestone="started"), Moment(milestone="mitigated")),
    Measure("time to resolve", Moment(milestone="started"), Moment(milestone="resolved")),
    Measure("time to first update", Moment(milestone="declared"), Moment(first_event="update")),
)
# The stakeholder update cadence runs from declaration through each update to resolution.
CADENCE_FROM, CADENCE_UPDATE, CADENCE_TO = "declared", "update", "resolved"
# The median and p90, as exact fractions: the database finds their closest ranks too.
FRACTIONS = (Fraction(1, 2), Fraction(9, 10))
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Figure:
    """One measure over the incidents that have it."""

    name: str
    count: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class ResponseTimes:
    """The response-times section: incidents counted, each measure, the update cadence kept
    (the share of update intervals at most the incident's cadence; None: no interval)."""

    incidents: int
    figures: list[Figure]
    on_cadence: float | None


@dataclass(frozen=True)
class Stats:
    """Everything `warroom stats` and `GET /api/stats` show, one field per named section.

    A new section (follow-ups per severity, a weekly series) is a new field here, read in
    `read_stats` and rendered beside the others by each surface."""

    response_times: ResponseTimes
    followups: FollowupStats
    weekly: WeeklyStats | None = None


# How medians and p90 are computed, as the stats and the postmortem say it.
METHOD = (
    "medians and p90 by linear interpolation between the closest ranks "
    "(a median of an even count is the mean of the middle two)"
)


def _position(count: int, fraction: Fraction) -> tuple[int, int, float]:
    """The two closest ranks (0-based) of the `fraction` percentile and the weight of the
    higher one: numpy's default and Excel's PERCENTILE.INC."""
    position = (count - 1) * fraction
    low = math.floor(position)
    return low, min(low + 1, count - 1), float(position - low)


def _interpolate(
    count: int, fraction: Fraction, at: Callable[[int], timedelta]
) -> timedelta | None:
    if count == 0:
        return None
    low, high, weight = _position(count, fraction)
    return at(low) + (at(high) - at(low)) * weight


def percentile(values: list[timedelta], fraction: float) -> timedelta | None:
    """The `fraction` percentile by linear interpolation between the closest ranks.

    This is numpy's default and Excel's PERCENTILE.INC: position (n - 1) * fraction in the
    sorted values, between its two neighbours; fraction 0.5 is the true median. None for
    no values.
    """
    ordered = sorted(values)
    exact = Fraction(fraction).limit_denominator(1_000_000)  # 0.9 as 9/10
    return _interpolate(len(ordered), exact, ordered.__getitem__)


def _figures(session: Session) -> list[Figure]:
    spans = [(measure.start, measure.end) for measure in MEASURES]
    result = []
    for measure, ranked in zip(MEASURES, ranked_gaps(session, spans, FRACTIONS), strict=True):
        # Elapsed never runs negative: clamping keeps the database's order, so ranks hold.
        at = lambda rank, pairs=ranked.at: elapsed(*pairs[rank])  # noqa: E731
        median, p90 = (_interpolate(ranked.count, f, at) for f in FRACTIONS)
        result.append(Figure(measure.name, ranked.count, median, p90))
    return result


def update_cadence(severity: str, written: str | None) -> timedelta | None:
    """An incident's update cadence from its severity and the cadence its playbook writes."""
    try:
        configured = parse_duration(written) if written is not None else None
    except ValueError:
        configured = None  # a snapshot no playbook check accepted: the severity decides
    return configured_or_default(configured, severity, STATUS_UPDATE)


def _updates_on_cadence(session: Session) -> tuple[int, int]:
    """(kept, intervals): the intervals between declaration, each update and resolution,
    per incident with a cadence, and how many were at most that cadence. The cadences are
    worked out here once per (severity, written cadence); the database counts."""
    cadences = {}
    for severity, written in cadence_settings(session):
        every = update_cadence(severity, written)
        cadences[(severity, written)] = every // MICROSECOND if every is not None else None
    intervals, kept = updates_on_cadence(
        session,
        opening=CADENCE_FROM,
        closing=CADENCE_TO,
        update=CADENCE_UPDATE,
        cadences=cadences,
    )
    return kept, intervals


def response_times(session: Session) -> ResponseTimes:
    """Incidents counted, their figures, and the share of update intervals kept on cadence."""
    kept, intervals = _updates_on_cadence(session)
    return ResponseTimes(
        incidents=counted_incidents(session),
        figures=_figures(session),
        on_cadence=kept / intervals if intervals else None,
    )


def read_stats(session: Session, *, today: date, weekly: WeeklyRequest | None = None) -> Stats:
    """Every section of the stats, read in one session; overdue means due before `today`;
    the weekly series when `weekly` asks for it."""
    for_stats(session)
    return Stats(
        response_times=response_times(session),
        followups=followup_stats(session, today=today),
        weekly=weekly_stats(session, weekly) if weekly is not None else None,
    )


def figures(session: Session) -> tuple[int, list[Figure], float | None]:
    """Incidents counted, their figures, and the share of update intervals kept on cadence."""
    section = response_times(session)
    return section.incidents, section.figures, section.on_cadence
