"""Private answers worded for Slack: the read-only views the domain hands back."""

from __future__ import annotations

from bot.incidents.views import Shown, TasksShown, TimelineShown
from bot.usecases.run_command import Reply


def reply_text(reply: Reply) -> str | None:
    """The mrkdwn text of a private answer (None: nothing to say)."""
    if reply.shown is not None:
        return shown_text(reply.shown)
    return reply.private


def shown_text(shown: Shown) -> str:
    """A view as Slack mrkdwn."""
    if isinstance(shown, TimelineShown):
        return _timeline(shown)
    return _tasks(shown)


def _timeline(shown: TimelineShown) -> str:
    lines = [f"*Timeline of incident #{shown.incident_id}* ({shown.zone})"]
    if shown.earlier:
        lines.append(f"_…{shown.earlier} earlier entries in the postmortem_")
    for entry in shown.entries:
        who = f" — {entry.actor}" if entry.actor else ""
        lines.append(f"`{entry.when}` {entry.kind}: {entry.text}{who}")
    return "\n".join(lines)


def _tasks(shown: TasksShown) -> str:
    if shown.stage is None:
        return "This incident has no playbook stages."
    if not shown.tasks:
        return f"Stage *{shown.stage}* has no tasks."
    lines = [f"*{shown.stage}*"]
    for n, task, done in shown.tasks:
        lines.append(f"{':white_check_mark:' if done else ':white_large_square:'} {n}. {task}")
    return "\n".join(lines)
