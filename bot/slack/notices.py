"""Notices in Slack's words: mrkdwn and emoji for what the domain states as facts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.incidents.notices import (
    HELD,
    PAGED,
    REFUSED,
    ChannelArchiving,
    DeliveryFailed,
    InviteRefused,
    MaintenanceDue,
    MaintenanceScheduled,
    Notice,
    Paged,
    PostmortemDue,
    StageStarted,
    StatusPageResult,
    StatusUpdateDue,
    StillFiringAfterResolve,
    TicketFiled,
    TimeboxOverdue,
    Unacknowledged,
)
from bot.incidents.times import format_duration, format_local
from bot.slack.escape import escape, link, mention
from bot.slack.ids import ActionId
from bot.slack.limits import TEXT_OBJECT_MAX, fit_text

# What each operation was for, as responders would say it.
DOING = {
    "channel.open": "set up the incident channel",
    "channel.invite": "invite people to the channel",
    "channel.describe": "update the channel topic",
    "card.post": "post the incident card",
    "card.update": "update the incident card",
    "message.post": "post a message",
    "notice.broadcast": "announce in the broadcast channel",
    "broadcast.post": "announce in the broadcast channel",
    "pagerduty.event": "send the PagerDuty event",
    "statuspage.update": "update the status page",
    "statuspage.maintenance": "publish the maintenance on the status page",
    "webhook.send": "send the outgoing webhook",
    "postmortem.post": "upload the postmortem draft",
    "schedule.set": "schedule a reminder",
    "schedule.clear": "cancel a reminder",
    "tracker.create": "file the follow-up as a ticket",
}
TRACKER_NAMES = {"github": "GitHub", "jira": "Jira", "linear": "Linear"}


def render(notice: Notice, tz: ZoneInfo) -> str:
    """The mrkdwn text for a notice, times shown in `tz`; the titles in it escaped."""
    match notice:
        case StageStarted(stage_id=stage_id, title=None):
            return f"Stage {escape(stage_id)}"
        case StageStarted(title=title, timebox_seconds=timebox, tasks=tasks):
            lines = [f":arrow_forward: *Stage: {escape(title)}*"]
            if timebox is not None:
                lines[0] += f" (timebox {_duration(timebox)})"
            lines += [f"{n}. {escape(task)}" for n, task in enumerate(tasks, 1)]
            return "\n".join(lines)
        case TimeboxOverdue(title=title, timebox_seconds=timebox):
            limit = _duration(timebox) if timebox is not None else "set"
            return (
                f":alarm_clock: Stage *{escape(title)}* ran past its {limit} timebox. "
                "Move on with `/incident stage next`, or say why with `/incident note`."
            )
        case StatusUpdateDue(elapsed_seconds=elapsed, since_last_update=since_update):
            what = "the last status update" if since_update else "the incident opened"
            return (
                f":alarm_clock: It has been {_duration(elapsed)} since {what}. Post one with "
                "`/incident update &lt;text&gt;`."
            )
        case Unacknowledged(waited_seconds=waited):
            return f":rotating_light: Not acknowledged after {_duration(waited)}."
        case Paged() as paged:
            return _paged(paged)
        case PostmortemDue(owner=owner, due=due, late_days=late):
            who = f"{mention(owner)}: t" if owner else "T"
            when = f" (due {due}, {late} business days late)" if late else f" (due {due})"
            when = when if due else ""
            return (
                f":memo: {who}he postmortem for this incident is due{when}. Finish the draft, "
                "`/incident postmortem review`, then `/incident postmortem publish`."
            )
        case ChannelArchiving(path=path, permalink=permalink):
            places = []
            if path:
                places.append(f"in `{escape(path)}`")
            if permalink:
                places.append(link(permalink, "in this channel"))
            place = " and ".join(places) if places else "in this channel"
            return (
                f":file_cabinet: The postmortem is published {place}. "
                "This channel is being archived."
            )
        case MaintenanceScheduled(maintenance_id=n, title=title, starts_at=start, ends_at=end):
            return (
                f":calendar: Scheduled maintenance #{n}: {escape(title)}, {window(start, end, tz)}."
            )
        case MaintenanceDue(maintenance_id=n, title=title, phase=phase) as due:
            return _maintenance(n, escape(title), phase, due.starts_at, due.ends_at, tz)
        case InviteRefused(people=people, reasons=reasons):
            refused = "; ".join(
                f"{_person(p)}: {escape(why)}" for p, why in zip(people, reasons, strict=False)
            )
            return f":warning: Could not invite {refused}"
        case DeliveryFailed(kind=kind, reason=reason):
            doing = DOING.get(kind, f"carry out `{escape(kind)}`")
            return f":warning: Could not {doing}: {escape(reason)}. The steps after it went on."
        case StatusPageResult(status=status, updated=True):
            return f":globe_with_meridians: Status page updated: {escape(status)}"
        case StatusPageResult(reason=reason):
            return f"Status page not updated: {escape(reason or 'unknown reason')}"
        case StillFiringAfterResolve(title=title, resolved_at=resolved_at):
            when = format_local(resolved_at, tz, with_date=True)
            return (
                f":repeat: *Still firing after resolve*: {escape(title)}. This incident was "
                f"resolved at {when} {tz.key} and its alerts fire again; they are added to "
                "the timeline, and further repeats only counted. Reopen it if it is not over."
            )
        case TicketFiled(number=n, tracker=tracker, key=key, url=url):
            where = TRACKER_NAMES.get(tracker, tracker)
            return f":ticket: Follow-up {n} is filed in {where}: {link(url, key)}"
    raise ValueError(f"no Slack wording for the notice {notice.name!r}")


def notice_blocks(notice: Notice, text: str, incident_id: int) -> list[dict[str, Any]] | None:
    """Blocks for a notice that offers a button (None: the text alone says it all)."""
    if not isinstance(notice, StillFiringAfterResolve):
        return None
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Reopen"},
        "action_id": ActionId.REOPEN,
        "value": str(incident_id),
        "style": "primary",
    }
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": fit_text(text, TEXT_OBJECT_MAX)}},
        {"type": "actions", "block_id": f"refire-{incident_id}", "elements": [button]},
    ]


def window(starts_at: datetime, ends_at: datetime, tz: ZoneInfo) -> str:
    """A maintenance window: `2024-03-01 02:00–04:00 Europe/Berlin`."""
    start = format_local(starts_at, tz, with_date=True)
    end = format_local(ends_at, tz, with_date=ends_at.date() != starts_at.date())
    return f"{start}–{end} {tz.key}"


def _maintenance(
    n: int, title: str, phase: str, starts_at: datetime, ends_at: datetime, tz: ZoneInfo
) -> str:
    if phase == "t24h":
        return (
            f":calendar: Maintenance #{n} in 24 hours: {title}, {window(starts_at, ends_at, tz)}."
        )
    if phase == "t1h":
        return f":hourglass: Maintenance #{n} in 1 hour: {title}, {window(starts_at, ends_at, tz)}."
    if phase == "start":
        until = format_local(ends_at, tz)
        return f":construction: Maintenance #{n} has started: {title} (until {until} {tz.key})."
    if phase == "end":
        return f":white_check_mark: Maintenance #{n} is over: {title}."
    raise ValueError(f"unknown maintenance phase {phase!r}")


def _paged(paged: Paged) -> str:
    """What became of a page, after the escalation it was for (if it was one)."""
    waited = paged.waited_seconds
    lead = f"Not acknowledged after {_duration(waited)}. " if waited is not None else ""
    if paged.outcome == PAGED:
        again = (
            f" (page {paged.page}, a new alert: `{escape(paged.key)}`)" if paged.page > 1 else ""
        )
        icon = ":rotating_light:" if lead else ":pager:"
        escalated = "Escalated: " if lead else ""
        return f"{icon} {lead}{escalated}PagerDuty paged: {escape(paged.summary)}{again}"
    if paged.outcome == HELD:
        return (
            f":pager: Not paged again: the page `{escape(paged.key)}` is still open and "
            "nobody has acknowledged it."
        )
    icon = ":warning:" if paged.outcome == REFUSED or lead else ":pager:"
    return f"{icon} {lead}Not paged: {escape(paged.reason)}."


def _person(person: str) -> str:
    # A user id reads as a mention; an email or a group as written (escaped).
    return mention(person) if person[:1] in ("U", "W") else escape(person)


def _duration(seconds: int) -> str:
    return format_duration(timedelta(seconds=seconds))
