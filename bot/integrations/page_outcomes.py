"""What the channel is told about a page, read from what became of it.

A page is announced only once PagerDuty answered (or it is known that nothing was sent):
the route that carries it out turns its result into a `Paged` notice and a `paging`
timeline entry, so the channel never says someone is paged before anyone is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.incidents.effects import Page
from bot.incidents.notices import NOT_PAGED, PAGED, REFUSED, Notice, Paged
from bot.incidents.paging import page_key
from bot.outbox.routes import Remark

ENTRY = "paging"  # the timeline kind of what became of a page
NOT_CONFIGURED = "PagerDuty is not configured"
IN_REPLAY = "a replay never pages anyone"


def page_remarks(effect: Page, result: dict[str, Any]) -> Sequence[Remark]:
    """A trigger's outcome as a remark: paged (and as what), or why nothing was sent.

    Acknowledge and resolve follow what the channel already says (the ack, the resolve):
    nothing more to tell.
    """
    if effect.action != "trigger":
        return ()
    incident_id = int(effect.incident_id or 0)
    key = str(result.get("dedup_key") or page_key(incident_id, effect.page))
    skipped = result.get("skipped")
    if skipped is not None:
        return _not_paged(effect, str(skipped))
    summary = str(result.get("summary") or f"incident #{incident_id}")
    notice = Paged(
        outcome=PAGED,
        key=key,
        page=effect.page,
        summary=summary,
        waited_seconds=effect.waited_seconds,
    )
    return (Remark(notice, f"PagerDuty paged: {summary} ({key})", entry=ENTRY),)


def not_paged(
    reason: str, *, record: bool = True
) -> Callable[[Page, dict[str, Any]], Sequence[Remark]]:
    """Remarks for a route that sends no page (PagerDuty is not configured, a replay): a
    trigger tells the channel nobody was paged, and why (and the timeline, if `record`:
    a replay's record is the incident it replays, not its rehearsal's plumbing)."""

    def remarks(effect: Page, _result: dict[str, Any]) -> Sequence[Remark]:
        if effect.action != "trigger":
            return ()
        return _not_paged(effect, reason, record=record)

    return remarks


def _not_paged(effect: Page, reason: str, *, record: bool = True) -> Sequence[Remark]:
    notice = Paged(
        outcome=NOT_PAGED, reason=reason, page=effect.page, waited_seconds=effect.waited_seconds
    )
    return (Remark(notice, f"not paged: {reason}" if record else None, entry=ENTRY),)


def page_refused(effect: Page, reason: str) -> Notice | None:
    """What the channel is told when a trigger fails for good: nobody was paged."""
    if effect.action != "trigger":
        return None  # the generic "could not send the PagerDuty event" says it
    return Paged(
        outcome=REFUSED, reason=reason, page=effect.page, waited_seconds=effect.waited_seconds
    )
