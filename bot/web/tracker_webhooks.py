"""`POST /webhooks/{tracker}`: a ticket closed or reopened in its tracker, applied here.

Each tracker's reader (passed in by the composition root) checks the request's signature
or secret and reads the ticket changes it reports; this route applies them to the
follow-ups they are about, commits, and only then answers 202 `{"applied": N}`. A ticket
that is no follow-up's is no error (trackers send every issue's events): it counts 0.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from bot.composition.runtime import Runtime
from bot.incidents.ticket_changes import apply_ticket_change
from bot.integrations.trackers.base import TicketChange, WebhookReader, WebhookRefused
from bot.web.body import read_body
from bot.web.errors import ErrorBody, JSONErrorRoute, WebError, database_response
from storage.unit_of_work import unit_of_work

log = logging.getLogger(__name__)
MAX_WEBHOOK_BODY = 1024 * 1024  # bytes: an issue event with a long description fits


class Applied(BaseModel):
    """The 202 answer: how many of the reported changes changed a follow-up."""

    applied: int


def build_tracker_webhooks_router(
    runtime: Runtime, readers: Mapping[str, WebhookReader]
) -> APIRouter:
    """The tracker webhook route, one reader per tracker name (github, jira, linear)."""
    router = APIRouter(tags=["trackers"], route_class=JSONErrorRoute)
    errors: dict[int | str, dict[str, object]] = {
        code: {"model": ErrorBody} for code in (400, 401, 404, 413, 422, 503)
    }

    @router.post(
        "/webhooks/{tracker}",
        status_code=202,
        response_model=Applied,
        responses=errors,
        summary="Receive a ticket tracker's webhook",
        description="`tracker` is one of the configured trackers' webhooks: "
        f"{', '.join(sorted(readers)) or 'none configured'}. Answers 202 once every "
        "change the body reports is committed.",
    )
    async def receive_tracker_webhook(tracker: str, request: Request) -> JSONResponse:
        """Check the webhook, apply its ticket changes, then acknowledge."""
        reader = readers.get(tracker)
        if reader is None:
            known = ", ".join(sorted(readers)) or "none is configured"
            raise WebError(404, f"no webhook for tracker {tracker[:40]!r} ({known})")
        body = await read_body(request, MAX_WEBHOOK_BODY)
        try:
            changes = reader(request.headers, body, request.query_params)
        except WebhookRefused as refused:
            return JSONResponse({"error": refused.reason}, refused.status)
        try:
            applied, wrote = await anyio.to_thread.run_sync(_apply, runtime, tracker, changes)
        except SQLAlchemyError as error:
            return database_response(error, f"applying {len(changes)} {tracker} change(s)")
        if wrote:
            try:
                runtime.wake_dispatcher()
            except Exception:
                log.exception("could not wake the outbox dispatcher")
        return JSONResponse({"applied": applied}, 202)

    return router


def _apply(runtime: Runtime, tracker: str, changes: list[TicketChange]) -> tuple[int, bool]:
    """Apply every change in one transaction; (how many applied, whether effects were
    queued), after the commit. The tracker is the route's: a reader speaks for its own."""
    applied, wrote = 0, False
    with unit_of_work(runtime.sessions) as uow:
        for change in changes:
            result = apply_ticket_change(
                uow,
                runtime.domain,
                tracker=tracker,
                key=change.key,
                state=change.state,
                actor=change.actor,
                at=change.at,
            )
            if result.applied:
                applied += 1
                wrote = wrote or bool(result.outcome and result.outcome.effects)
            else:
                log.info("%s %s: %s", tracker, change.key, result.reason)
    return applied, wrote
