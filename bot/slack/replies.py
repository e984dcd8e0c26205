"""Private answers worded for Slack: the read-only views the domain hands back."""

from __future__ import annotations

from bot.incidents.overview import IncidentList, Listed
from bot.incidents.times import format_duration
from bot.incidents.views import CatchUpShown, Entry, Shown, TasksShown, TimelineShown
from bot.slack.escape import escape
from bot.slack.limits import fit_text
from bot.usecases.run_command import Reply


def reply_text(reply: Reply) -> str | None:
    """The mrkdwn text of a private answer, within Slack's limit (None: nothing to say)."""
    if reply.shown is not None:
        return fit_text(shown_text(reply.shown))
    return fit_text(said(reply.private)) if reply.private else None


def said(text: str) -> str:
    """The domain's words (a confirmation, a refusal, help) as mrkdwn.

    They carry the responder's and the alert's words in plain text; their own markup is
    backticks and `*`, which escaping leaves as they are, and a `<title>` in a usage line
    is meant to be read, not parsed, so the whole text is escaped.
    """
    return escape(text)


def shown_text(shown: Shown) -> str:
    """A view as Slack mrkdwn."""
    if isinstance(shown, TimelineShown):
        return _timeline(shown)
    if isinstance(shown, IncidentList):
        return _incidents(shown)
    if isinstance(shown, CatchUpShown):
        return _catchup(shown)
    return _tasks(shown)


def _entry(entry: Entry) -> str:
    who = f" — {escape(entry.actor)}" if entry.actor else ""
    return f"`{entry.when}` {entry.kind}: {escape(entry.text)}{who}"


def _timeline(shown: TimelineShown) -> str:
    lines = [f"*Timeline of incident #{shown.incident_id}* ({shown.zone})"]
    if shown.earlier:
        lines.append(f"_…{shown.earlier} earlier entries in the postmortem_")
    lines.extend(_entry(entry) for entry in shown.entries)
    return "\n".join(lines)


def _catchup(shown: CatchUpShown) -> str:
    lines = [
        f"*Catch-up on incident #{shown.incident_id}: {escape(shown.title)}*",
        f"*Severity* {shown.severity} · *Status* {shown.status}",
    ]
    if shown.stage is not None:
        lines.append(f"*Stage* {escape(shown.stage)}")
        lines.extend(f":white_large_square: {n}. {escape(task)}" for n, task in shown.open_tasks)
    roles = ", ".join(f"{role} {escape(who)}" for role, who in shown.roles)
    lines.append(f"*Roles* {roles or 'none assigned yet'}")
    if shown.last_update is not None:
        update = shown.last_update
        by = f" — {escape(update.actor)}" if update.actor else ""
        lines.append(
            f"*Last update* {shown.update_age} ago (`{update.when}`): {escape(update.text)}{by}"
        )
    else:
        lines.append("*Last update* none posted yet")
    lines.append(f"*Latest entries* ({shown.zone})")
    lines.extend(_entry(entry) for entry in shown.entries)
    return "\n".join(lines)


def _tasks(shown: TasksShown) -> str:
    if shown.stage is None:
        return "This incident has no playbook stages."
    if not shown.tasks:
        return f"Stage *{escape(shown.stage)}* has no tasks."
    lines = [f"*{escape(shown.stage)}*"]
    for n, task, done in shown.tasks:
        mark = ":white_check_mark:" if done else ":white_large_square:"
        lines.append(f"{mark} {n}. {escape(task)}")
    return "\n".join(lines)


def _incidents(shown: IncidentList) -> str:
    heading = "Open and recently resolved incidents" if shown.recent else "Open incidents"
    if not shown.incidents:
        nothing = "No open incidents" + (
            " and none resolved in the last 7 days." if shown.recent else "."
        )
        return nothing
    lines = [f"*{heading}*"]
    lines.extend(_listed(row) for row in shown.incidents)
    if shown.more:
        lines.append(f"_…and {shown.more} more (all of them: `GET /api/incidents`)_")
    return "\n".join(lines)


def _listed(row: Listed) -> str:
    name = "_a private incident_" if row.hidden else f"*{escape(row.title or '')}*"
    parts = [f"`{row.severity}` #{row.id} {name}" + (" (drill)" if row.drill else "")]
    if row.resolved_ago is not None:
        parts.append(
            f"resolved {format_duration(row.resolved_ago)} ago, lasted {format_duration(row.age)}"
        )
    else:
        parts.append(f"{row.status}, open {format_duration(row.age)}")
    if row.commander:
        parts.append(f"commander {escape(row.commander)}")
    if row.channel_id:
        parts.append(f"<#{row.channel_id}>")
    return " · ".join(parts)
