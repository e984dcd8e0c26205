"""The computed parts of a draft: impact window, metrics, playbook adherence, alerts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.incidents.snapshot import IncidentSnapshot, Task
from bot.incidents.times import elapsed, format_duration, format_on_day

MISSING = "—"
ROLE_ORDER = ("commander", "comms", "scribe", "ops")
SERVICE_LABELS = ("service", "job", "app")
# (label, milestone): each measured from `started`, the moment impact began.
METRICS = (
    ("Time to detect", "detected"),
    ("Time to acknowledge", "acknowledged"),
    ("Time to mitigate", "mitigated"),
    ("Time to resolve", "resolved"),
)


@dataclass(frozen=True)
class Window:
    """When customers were affected: `started` until `mitigated` (else `resolved`)."""

    start: str
    end: str | None
    duration: str
    text: str


@dataclass(frozen=True)
class Metric:
    name: str
    milestone: str
    value: str
    at: str


@dataclass(frozen=True)
class AlertRow:
    source: str
    fingerprint: str
    title: str
    status: str
    labels: dict[str, str]
    labels_text: str
    url: str
    first_seen: str
    seen_count: int


@dataclass(frozen=True)
class DoneTask:
    """A task that was done, and what did it: `how` reads "done by `/incident update`",
    "done on acknowledged" or "ticked off"; `who` and `at` are "—" when not known."""

    text: str
    how: str
    who: str
    at: str

    @property
    def line(self) -> str:
        """`<text>: <how> (<who>, <at>)`, leaving out what is not known."""
        known = [part for part in (self.who, self.at) if part != MISSING]
        return f"{self.text}: {self.how}" + (f" ({', '.join(known)})" if known else "")


@dataclass(frozen=True)
class StageRow:
    id: str
    title: str
    reached: bool
    current: bool
    entered: str
    spent: str
    timebox: str
    over_timebox: bool
    done: tuple[str, ...]
    skipped: tuple[str, ...]
    done_tasks: tuple[DoneTask, ...] = ()

    @property
    def tally(self) -> str:
        """`3 of 4`: tasks done of the stage's tasks."""
        return f"{len(self.done)} of {len(self.done) + len(self.skipped)}"


def impact_window(started: datetime, milestones: dict[str, datetime], tz: ZoneInfo) -> Window:
    """The impact window, with the date, and on the end too when it is another local day."""
    start = started.astimezone(tz)
    stop = milestones.get("mitigated") or milestones.get("resolved")
    zone = start.strftime("%Z")
    start_text = start.strftime("%Y-%m-%d %H:%M")
    if stop is None:
        return Window(start_text, None, "ongoing", f"{start_text} {zone} – ongoing")
    end = stop.astimezone(tz)
    same_day = end.date() == start.date()
    end_text = end.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")
    if end.strftime("%Z") != zone:  # a DST change inside the window: name both offsets
        start_text, zone = f"{start_text} {zone}", end.strftime("%Z")
    return Window(
        start=start.strftime("%Y-%m-%d %H:%M"),
        end=end.strftime("%Y-%m-%d %H:%M"),
        duration=format_duration(elapsed(started, stop)),
        text=f"{start_text} – {end_text} {zone}",
    )


def metrics(milestones: dict[str, datetime], tz: ZoneInfo, *, day: date) -> tuple[Metric, ...]:
    """Time from `started` to each response milestone (never negative); `—` for the ones
    not reached. `day` is the local start date: other days are shown with their date."""
    started = milestones.get("started")
    rows = []
    for label, name in METRICS:
        at = milestones.get(name)
        if at is None or started is None:
            rows.append(Metric(label, name, MISSING, MISSING))
            continue
        value = format_duration(elapsed(started, at))
        rows.append(Metric(label, name, value, format_on_day(at, tz, day)))
    return tuple(rows)


def adherence(
    incident: IncidentSnapshot, tz: ZoneInfo, *, day: date, name: Callable[[str | None], str]
) -> tuple[StageRow, ...]:
    """Each playbook stage: when it was entered, how long it took, which tasks were done
    and by what (the command or milestone, who, and when)."""
    moments = sorted(stage.entered_at for stage in incident.stages if stage.entered_at)
    resolved = incident.milestones.get("resolved")
    current = incident.stage.id if incident.stage is not None else None
    rows = []
    for stage in incident.stages:
        at = stage.entered_at
        spent = _spent(at, moments, resolved.at if resolved is not None else None)
        rows.append(
            StageRow(
                id=stage.id,
                title=stage.title,
                reached=at is not None,
                current=stage.id == current,
                entered=format_on_day(at, tz, day) if at else MISSING,
                spent=format_duration(spent) if spent is not None else MISSING,
                timebox=format_duration(stage.timebox) if stage.timebox else MISSING,
                over_timebox=bool(stage.timebox and spent and spent > stage.timebox),
                done=tuple(task.text for task in stage.tasks if task.done),
                skipped=tuple(task.text for task in stage.tasks if not task.done),
                done_tasks=tuple(
                    _done_task(task, tz, day, name) for task in stage.tasks if task.done
                ),
            )
        )
    return tuple(rows)


def _done_task(task: Task, tz: ZoneInfo, day: date, name: Callable[[str | None], str]) -> DoneTask:
    credit = task.credit
    if credit is None:  # ticked before warroom kept what did it
        return DoneTask(task.text, "done", MISSING, MISSING)
    if credit.on:
        how = f"done on {credit.on}"
    elif credit.by:
        how = f"done by `/incident {credit.by}`"
    else:
        how = "ticked off"
    return DoneTask(task.text, how, name(credit.actor), format_on_day(credit.at, tz, day))


def _spent(
    at: datetime | None, moments: list[datetime], resolved: datetime | None
) -> timedelta | None:
    """Time in a stage: until the next stage was entered, else until resolution."""
    if at is None:
        return None
    later = [moment for moment in moments if moment > at]
    if later:
        return later[0] - at
    if resolved is not None and resolved > at:
        return resolved - at
    return None


class AlertSeen(NamedTuple):
    """What a draft shows of an alert: read as these columns alone, never its annotations."""

    source: str
    fingerprint: str
    title: str
    status: str
    labels: dict[str, str]
    url: str | None
    starts_at: datetime | None
    first_seen_at: datetime
    seen_count: int


def services_of(alerts: Sequence[AlertSeen]) -> tuple[str, ...]:
    """Affected services named by the alerts' service, job or app labels, in order."""
    found: dict[str, None] = {}
    for alert in alerts:
        for label in SERVICE_LABELS:
            value = alert.labels.get(label)
            if value:
                found[value] = None
    return tuple(found)


def alert_row(alert: AlertSeen, tz: ZoneInfo) -> AlertRow:
    """An alert for the appendix, labels sorted, first seen in the team's zone."""
    labels = dict(sorted(alert.labels.items()))
    return AlertRow(
        source=alert.source,
        fingerprint=alert.fingerprint,
        title=alert.title,
        status=alert.status,
        labels=labels,
        labels_text=", ".join(f"{k}={v}" for k, v in labels.items()) or MISSING,
        url=alert.url or "",
        first_seen=_stamp(alert.starts_at or alert.first_seen_at, tz),
        seen_count=alert.seen_count,
    )


def _stamp(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M")
