"""Block Kit for the incident card, messages, modals and App Home."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from bot.incidents.snapshot import IncidentSnapshot, MilestoneFact
from bot.slack.escape import escape, link, mention, truncate
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.limits import (
    FIELD_MAX,
    HEADER_MAX,
    TEXT_OBJECT_MAX,
    VIEW_TITLE_MAX,
)
from bot.slack.modal_origin import ModalOrigin

SEVERITY_EMOJI = {
    "sev1": ":red_circle:",
    "sev2": ":large_orange_circle:",
    "sev3": ":large_yellow_circle:",
    "sev4": ":white_circle:",
}
STATUS_EMOJI = {
    "investigating": ":mag:",
    "identified": ":dart:",
    "monitoring": ":eyes:",
    "resolved": ":white_check_mark:",
}
ALERT_LINKS = 5
HOME_TITLE_MAX = 300  # a Home entry is a line to click through, not the whole title
NAME_MAX = 150  # a stage's title or a person's name as shown in a line


# What the card and the App Home show: the incident's snapshot. (The name stays for callers.)
CardView: TypeAlias = IncidentSnapshot


def _when(at: datetime | None, tz: ZoneInfo) -> str:
    if at is None:
        return "—"
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def card_blocks(card: IncidentSnapshot, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The pinned incident card."""
    prefix = "[DRILL] " if card.drill else ""
    acknowledged = card.milestones.get("acknowledged")
    header = truncate(f"{prefix}{card.severity.upper()} · #{card.id} {card.title}", HEADER_MAX)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            # Marks the card so a retried post can find one an interrupted attempt left.
            "block_id": card_block_id(card.id),
            "text": {"type": "plain_text", "text": header, "emoji": True},
        },
        {
            "type": "section",
            "fields": [
                _field("Status", f"{STATUS_EMOJI.get(card.status, '')} {card.status}"),
                _field("Severity", f"{SEVERITY_EMOJI.get(card.severity, '')} {card.severity}"),
                _field("Stage", escape(_stage_title(card))),
                _field("Commander", mention(card.commander)),
                _field("Impact start", _when(card.started_at, tz)),
                _field("Playbook", escape(card.playbook_id)),
                _field("Acknowledged", _acknowledged(acknowledged, tz)),
            ],
        },
    ]
    if card.recurrence_of is not None:
        again = f":repeat: Recurrence of incident #{card.recurrence_of}: its alerts fired again"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": again}]})
    if card.impact:
        blocks.append(_section(f"*Impact*\n{truncate(escape(card.impact), 2900)}"))
    tasks = card.stage.tasks if card.stage is not None else ()
    if tasks and card.status != "resolved":
        lines = [
            f"{':white_check_mark:' if t.done else ':white_large_square:'} {t.n}. {escape(t.text)}"
            for t in tasks
        ]
        blocks.append(_section(truncate("*Checklist*\n" + "\n".join(lines), 2900)))
    if card.alert_links:
        links = card.alert_links[:ALERT_LINKS]
        elements = [_alert_link(n, url) for n, url in enumerate(links, 1)]
        blocks.append({"type": "context", "elements": elements})
    blocks.append({"type": "divider"})
    if card.status == "resolved":
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Resolved {_when(card.resolved_at, tz)}"}],
            }
        )
        return blocks
    buttons = [
        _button("Add note", ActionId.ADD_NOTE, card.id),
        _button("Resolve", ActionId.RESOLVE, card.id, style="danger", confirm=True),
    ]
    if acknowledged is None:  # once someone has it, the button would only be refused
        buttons.insert(0, _button("Acknowledge", ActionId.ACKNOWLEDGE, card.id, style="primary"))
    blocks.append({"type": "actions", "block_id": f"incident-{card.id}", "elements": buttons})
    return blocks


def _acknowledged(milestone: MilestoneFact | None, tz: ZoneInfo) -> str:
    """Who acknowledged and when: `<@U0ALICE> at 2021-03-10 17:57 HKT`, or not yet."""
    if milestone is None:
        return "_not yet_"
    return (
        f"{mention(milestone.actor) if milestone.actor else 'someone'} at {_when(milestone.at, tz)}"
    )


def card_block_id(incident_id: int) -> str:
    """The block id that marks an incident's card."""
    return f"warroom-card-{incident_id}"


def card_text(card: IncidentSnapshot) -> str:
    """Fallback text for notifications and clients without blocks."""
    title = truncate(escape(card.title), 3000)  # a notification shows a line or two
    return f"{card.severity.upper()} incident #{card.id}: {title} ({card.status})"


def _stage_title(card: IncidentSnapshot) -> str:
    return card.stage.title if card.stage is not None else "—"


def _alert_link(n: int, url: str) -> dict[str, str]:
    """One alert's link, an element of its own so five long URLs fit the context block.

    A URL too long to link whole is shown cut, as code, so Slack links no part of it.
    """
    label = f"alert {n}"
    # A URL with `|` or `>` in it must not choose the label or close the link.
    text = link(url, label)
    if len(text) > TEXT_OBJECT_MAX:
        text = truncate(f"{label}: `{escape(url)}", TEXT_OBJECT_MAX - 1) + "`"
    return {"type": "mrkdwn", "text": text}


def _field(label: str, value: str) -> dict[str, str]:
    value = truncate(value, FIELD_MAX - len(label) - 3)
    return {"type": "mrkdwn", "text": f"*{label}*\n{value}"}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(
    text: str, action_id: str, incident_id: int, *, style: str | None = None, confirm: bool = False
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": str(incident_id),
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Resolve the incident?"},
            "text": {"type": "mrkdwn", "text": "This closes it and drafts the postmortem."},
            "confirm": {"type": "plain_text", "text": "Resolve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return button


def declare_modal(origin: ModalOrigin) -> dict[str, Any]:
    """The modal `/incident declare` opens when given no title."""
    options = [
        {"text": {"type": "plain_text", "text": s.upper()}, "value": s}
        for s in ("sev1", "sev2", "sev3", "sev4")
    ]
    return {
        "type": "modal",
        "callback_id": CallbackId.DECLARE,
        "private_metadata": origin.pack(),
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": BlockId.TITLE,
                "label": {"type": "plain_text", "text": "What is wrong?"},
                "element": {"type": "plain_text_input", "action_id": "value", "max_length": 150},
            },
            {
                "type": "input",
                "block_id": BlockId.SEVERITY,
                "label": {"type": "plain_text", "text": "Severity"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": options,
                    "initial_option": options[2],
                },
            },
            {
                "type": "input",
                "block_id": BlockId.PRIVACY,
                "optional": True,
                "label": {"type": "plain_text", "text": "Privacy"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "value",
                    "options": [PRIVATE_OPTION],
                },
            },
        ],
    }


# A private incident: its own private channel, nothing of it on any public surface.
PRIVATE_OPTION = {
    "text": {"type": "plain_text", "text": "Private incident"},
    "description": {
        "type": "plain_text",
        "text": "Private channel; never announced by title, on the status page or webhooks",
    },
    "value": "private",
}


def note_modal(origin: ModalOrigin) -> dict[str, Any]:
    """The modal behind the card's Add note button (origin.incident is set)."""
    return {
        "type": "modal",
        "callback_id": CallbackId.NOTE,
        "private_metadata": origin.pack(),
        "title": {
            "type": "plain_text",
            "text": truncate(f"Note on #{origin.incident}", VIEW_TITLE_MAX),
        },
        "submit": {"type": "plain_text", "text": "Add"},
        "blocks": [
            {
                "type": "input",
                "block_id": BlockId.NOTE,
                "label": {"type": "plain_text", "text": "Note"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 3000,
                },
            }
        ],
    }
