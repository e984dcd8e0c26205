"""Response models of the incident API, so the OpenAPI schema says what clients get."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class IncidentSummary(BaseModel):
    """One incident as listed."""

    id: int
    title: str
    severity: str
    status: str
    playbook: str
    channel_id: str | None
    channel_name: str | None
    opened_at: datetime = Field(description="when warroom opened it (what since/until filter)")
    started_at: datetime | None
    resolved_at: datetime | None
    drill: bool = Field(description="true for an /incident drill exercise")
    # The resolved incident of the same alert group this one follows (it fired again
    # past the playbook's refire_window).
    recurrence_of: int | None = None
    source: str | None = Field(
        description="the sender of the alert that opened it (alertmanager, grafana, "
        "pagerduty, generic, ...); null for a declared incident"
    )
    alert_names: list[str] = Field(
        description="the distinct names of its alerts (alertname, or title), first come first"
    )


class IncidentList(BaseModel):
    """`GET /api/incidents`: newest first, one page."""

    incidents: list[IncidentSummary]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class MilestoneEdit(BaseModel):
    """An earlier value of a milestone, replaced at `replaced_at`."""

    at: datetime | None = None
    source: str | None = None
    actor: str | None = None
    replaced_at: datetime | None = None


class MilestoneOut(BaseModel):
    """A named moment of the incident and where its time came from."""

    at: datetime
    source: str
    actor: str | None
    history: list[MilestoneEdit]


class TaskOut(BaseModel):
    """A task of the current stage; `n` is what `/incident task done <n>` takes."""

    n: int
    text: str
    done: bool


class StageOut(BaseModel):
    """The playbook stage the incident is in."""

    id: str
    title: str
    tasks: list[TaskOut]


class AlertOut(BaseModel):
    """An alert attached to the incident; labels and annotations exactly as received."""

    source: str
    fingerprint: str
    title: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    seen_count: int
    url: str | None


class ActionItemOut(BaseModel):
    """A follow-up the team committed to."""

    id: int
    text: str
    owner: str | None
    due: date | None
    status: str


class IncidentDetail(IncidentSummary):
    """`GET /api/incidents/{id}`."""

    milestones: dict[str, MilestoneOut]
    stage: StageOut | None
    roles: dict[str, str]
    alerts: list[AlertOut]
    impact: str | None
    cause: str | None
    action_items: list[ActionItemOut]


class EventOut(BaseModel):
    """One timeline entry."""

    at: datetime
    kind: str
    actor: str | None
    text: str
    source: str


class Timeline(BaseModel):
    """`GET /api/incidents/{id}/timeline`: in the order things happened, one page."""

    events: list[EventOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null when no entry follows"
    )


class FigureOut(BaseModel):
    """One measure over the incidents that have both of its moments."""

    name: str = Field(description="e.g. 'time to acknowledge'")
    count: int = Field(description="incidents measured (the `n` column of `warroom stats`)")
    median_seconds: float | None = Field(description="null when no incident has it")
    p90_seconds: float | None
    median: str | None = Field(description="the median as `warroom stats` prints it ('1h 05m')")
    p90: str | None


class ResponseTimesOut(BaseModel):
    """How fast the team responds: times from impact start (first update: from declaration)."""

    incidents: int = Field(description="incidents counted, drills excluded")
    figures: list[FigureOut]
    on_cadence: float | None = Field(
        description="share (0 to 1) of status update intervals at most the incident's "
        "cadence; null when no incident has one"
    )
    method: str = Field(description="how medians and p90 are computed")


class SeverityFollowupsOut(BaseModel):
    """One severity's follow-ups."""

    severity: str
    opened: int = Field(description="follow-ups recorded")
    done: int = Field(description="marked done (here or by their ticket)")
    overdue: int = Field(description="still open and due before `today`")
    median_to_close_seconds: float | None = Field(description="null when none is done")
    median_to_close: str | None = Field(description="as `warroom stats` prints it")


class FollowupsOut(BaseModel):
    """Follow-ups per severity, every severity listed, sev1 first."""

    today: date = Field(description="the team's date the overdue count is taken on")
    severities: list[SeverityFollowupsOut]


class WeekFigureOut(BaseModel):
    """One measure over a week's incidents of one group, from impact start."""

    name: str = Field(description="'time to acknowledge', 'time to mitigate', 'time to resolve'")
    count: int = Field(description="incidents of the week and group that reached it")
    median_seconds: float | None = Field(description="null when none reached it")
    median: str | None = Field(description="as `warroom stats` prints it ('1h 05m')")


class WeekGroupOut(BaseModel):
    """One group's figures in one ISO week (by when impact started, in the team's zone)."""

    week: str = Field(description="ISO week, '2026-W09'")
    monday: date
    group: str = Field(description="the severity, service or playbook, as `by` says")
    incidents: int
    figures: list[WeekFigureOut]
    followups_opened: int = Field(description="follow-ups of these incidents")
    followups_done: int
    followup_completion: float | None = Field(description="done / opened; null: none opened")


class WeeklyOut(BaseModel):
    """Week by week, per group: what `warroom stats --since --by` prints and charts."""

    since: date = Field(description="the window's first day (team's time zone)")
    until: date
    by: str = Field(description="severity, service or playbook")
    timezone: str
    weeks: list[str] = Field(description="every ISO week of the window, empty ones too")
    groups: list[str]
    series: list[WeekGroupOut] = Field(description="one entry per week and group with incidents")
    postmortems: dict[str, Any] | None = Field(
        default=None,
        description="postmortem completion and time to publish: `overall` and `weeks` (by "
        "ISO week of resolve, UTC), each `resolved`, `due`, `published`, `completion` "
        "(published / resolved), `median_to_publish_seconds`, `median_to_publish`",
    )


class StatsOut(BaseModel):
    """`GET /api/stats`: the figures `warroom stats` prints, one field per section."""

    response_times: ResponseTimesOut
    followups: FollowupsOut
    weekly: WeeklyOut | None = Field(default=None, description="the per-week series")
