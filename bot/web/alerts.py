"""`POST /alerts/{source}`: webhook in, alerts stored with their incidents, 202 after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal

import anyio.to_thread
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.exc import SQLAlchemyError

from bot.alerts import SOURCES, AlertPayloadError, UnknownSource, parse_notification
from bot.composition.runtime import Runtime
from bot.incidents.alerts import NormalizedAlert
from bot.incidents.paging import PagingUpdate
from bot.outbox.batching import GroupCommit
from bot.usecases.ingest_alerts import (
    Ingested,
    Notification,
    RepeatedDelivery,
    ingest_notifications,
    stored_answer,
)
from bot.web.auth import require_auth
from bot.web.body import read_body
from bot.web.errors import ErrorBody, JSONErrorRoute, WebError, database_response
from bot.web.sns import SOURCE as SNS_SOURCE
from bot.web.sns import SnsGate
from storage.unit_of_work import KeptConnection, UnitOfWork, connected_unit_of_work

log = logging.getLogger(__name__)
PARSE_INLINE = 64 * 1024  # bytes: smaller bodies parse faster than a hop to a thread
# Seconds a storm's batch waits for the alerts on their way (see `GroupCommit`): larger
# batches share a transaction's fixed cost (its fsync on SQLite, its round trips on
# PostgreSQL); 5 ms on answers that take 40-80 ms in a storm, never on a lone alert's.
# Measured against 2 ms in paired turns: 12% (SQLite) and 8% (PostgreSQL) less CPU a storm
# alert.
COMPANY_LINGER = 0.005


class IncidentRef(BaseModel):
    """An incident the notification opened or joined, and its Slack channel once it exists."""

    id: int
    channel_id: str | None = Field(description="null until the channel is created")
    channel_name: str | None = Field(
        description="the channel's name as Slack created it; null until then"
    )
    channel_status: Literal["pending", "ready"] = Field(
        description="pending: the channel is still to be created; ready: it exists"
    )
    created: bool

    @model_validator(mode="before")
    @classmethod
    def _older_answer(cls, data: Any) -> Any:
        # An answer stored for a delivery before channel_status existed is replayed too.
        if isinstance(data, dict) and "channel_status" not in data:
            ready = bool(data.get("channel_id"))
            data = {
                **data,
                "channel_name": data.get("channel_name") if ready else None,
                "channel_status": "ready" if ready else "pending",
            }
        return data


class UpdateRef(BaseModel):
    """What a paging tool's update did (PagerDuty's ack, note, priority...): `applied`, or
    the `reason` nothing was recorded."""

    kind: str
    incident_id: int | None
    applied: bool
    reason: str | None


class Accepted(BaseModel):
    """The 202 answer: the incidents touched (in order, once each) and how many alerts came;
    `updates` only when the body carried updates about an incident (PagerDuty)."""

    incidents: list[IncidentRef]
    alerts: int
    updates: list[UpdateRef] | None = None


def _replayed(stored: dict[str, Any]) -> dict[str, Any]:
    # JSONB reorders keys; going through the model makes a repeat byte-identical.
    return Accepted.model_validate(stored).model_dump(mode="json", exclude_unset=True)


class AlertIngestor:
    """The database half of the route: every notification's alerts in a transaction shared
    with the other notifications arriving at the same time (see `GroupCommit`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # The writer keeps its connection while alerts keep coming (see `KeptConnection`).
        connection = KeptConnection(runtime.engine)
        self.batches: GroupCommit[Notification, Ingested] = GroupCommit(
            runtime.sessions,
            self._ingest,
            begin=lambda: connected_unit_of_work(connection, runtime.sessions),
            company_linger=COMPANY_LINGER,
            on_stop=connection.release,
            traffic=runtime.alert_traffic,
        )

    async def __call__(
        self,
        source: str,
        alerts: list[NormalizedAlert],
        delivery_id: str | None,
        updates: list[PagingUpdate] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store every alert and apply every update; return (answer, whether Slack work was
        queued), after commit."""
        try:
            note = Notification(source, alerts, delivery_id, list(updates or ()))
            ingested = await self.batches.submit(note)
        except RepeatedDelivery:
            stored = await anyio.to_thread.run_sync(self._stored, source, delivery_id)
            if stored is None:
                raise
            return _replayed(stored), False
        answer = ingested.answer
        return (_replayed(answer) if delivery_id else answer), ingested.queued

    def _stored(self, source: str, delivery_id: str | None) -> dict[str, Any] | None:
        with self.runtime.sessions() as session:
            return stored_answer(session, source, delivery_id)

    def _ingest(self, uow: UnitOfWork, notes: list[Notification]) -> list[Ingested]:
        return ingest_notifications(uow, self.runtime.domain, notes)


class _ReadsItsOwnRequest(APIRoute):
    """Call the endpoint with the path's `source` and the request, nothing else: it reads
    and checks the body itself, so FastAPI's dependency solving (query, header and cookie
    parsing, a pydantic pass over the path) is work thrown away on every alert. The
    signature still describes the route to OpenAPI."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            response: Response = await endpoint(request.path_params["source"], request)
            return response

        return handle


class _AlertRoute(JSONErrorRoute, _ReadsItsOwnRequest):
    """Our JSON errors (`JSONErrorRoute` wraps the handler `_ReadsItsOwnRequest` makes)."""


class SnsAnswer(BaseModel):
    """The 200 answer to an SNS subscription or unsubscribe confirmation."""

    sns: str
    topic_arn: str


def build_alerts_router(runtime: Runtime, http: httpx.AsyncClient | None = None) -> APIRouter:
    """The alert webhook route, authenticated by token, source signature or loopback.

    `http` is the client SNS confirmations and certificate fetches go through.
    """
    router = APIRouter(tags=["alerts"], route_class=_AlertRoute)
    sns = SnsGate(runtime.settings.sns_topics, http)
    authenticate = require_auth(runtime.settings, signatures=True, sns=sns)
    ingest = AlertIngestor(runtime)
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 422, 502, 503)
    }
    errors[200] = {"model": SnsAnswer, "description": "An SNS confirmation, handled"}

    @router.post(
        "/alerts/{source}",
        status_code=202,
        response_model=Accepted,
        responses=errors,
        summary="Receive an alert notification",
        # The body is read raw (signatures are over its bytes), so FastAPI cannot infer it.
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "description": "The notification exactly as the source sends it.",
                        }
                    }
                },
            }
        },
        description=f"`source` is one of: {', '.join(sorted(SOURCES))}. "
        "Answers 202 once every alert of the body is committed.",
    )
    async def receive_alerts(source: str, request: Request) -> JSONResponse:
        """Parse the body, store its alerts and their incidents, then acknowledge."""
        # Called here rather than as a dependency: FastAPI's dependency solving costs more
        # per request than the check itself, and a storm is thousands of requests.
        await authenticate(request)
        if source not in SOURCES:
            raise WebError(404, UnknownSource(source, sorted(SOURCES)).to_dict())
        body = await read_body(request, runtime.settings.max_alert_body)
        if source == SNS_SOURCE:
            # Verified already: a confirmation is answered here, a Notification goes on.
            answered = await sns.control(body)
            if answered is not None:
                return answered
        try:
            if len(body) > PARSE_INLINE:
                # A storm's group takes about 0.1 s per MB to validate: off the
                # event loop, so Slack's acks and the other notifications are not held up.
                parsed = await anyio.to_thread.run_sync(parse_notification, source, body)
            else:
                parsed = parse_notification(source, body)
        except AlertPayloadError as error:
            raise WebError(error.status_code, error.to_dict()) from None
        # Deduplicated on the id the body names (PagerDuty's signed `event.id`), never on
        # a header: headers are not signed, so a replay could choose a new one.
        alerts, updates = parsed.alerts, parsed.updates
        # Nothing stored, nothing to repeat.
        delivery_id = parsed.delivery_id if alerts or updates else None
        try:
            answer, wrote = await ingest(source, alerts, delivery_id, updates)
        except SQLAlchemyError as error:
            return database_response(error, f"storing {len(alerts)} {source} alert(s)")
        if wrote:
            # The outbox rows are committed: let the dispatcher start on them now. The
            # alerts are safe whatever happens here; its next poll would find them too.
            try:
                runtime.wake_dispatcher()
            except Exception:
                log.exception("could not wake the outbox dispatcher")
        return JSONResponse(answer, 202)

    return router
