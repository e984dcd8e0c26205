"""`/api/incidents...` and `/api/stats`: a JSON view of incidents for dashboards and
scripts, read-only but for the team's edited postmortem (`PUT .../postmortem`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlmodel import Session

from bot.composition.runtime import Runtime
from bot.incidents.snapshot import IncidentSnapshot, MilestoneFact, StageFact
from bot.incidents.untrusted import clean_text
from bot.incidents.weekly_window import (
    BY,
    DEFAULT_BY,
    DEFAULT_SINCE,
    WeeklyRequest,
    parse_by,
    parse_since,
)
from bot.postmortem import current_draft
from bot.postmortem.saved import NoDraft, save_edit
from bot.usecases.queries import (
    IncidentListed,
    IncidentPage,
    TimelinePage,
    incident_events,
    incident_record,
    incidents,
    last_events,
)
from bot.web import postmortem_body
from bot.web.auth import require_auth
from bot.web.body import read_body
from bot.web.errors import ErrorBody, JSONErrorRoute, WebError
from bot.web.incident_query import (
    PARAMETERS,
    TIMELINE_PARAMETERS,
    ListQuery,
    TimelineQuery,
    encode_cursor,
    read_list_query,
    read_timeline_query,
)
from bot.web.models import (
    ActionItemOut,
    AlertOut,
    IncidentDetail,
    IncidentList,
    IncidentSummary,
    MilestoneEdit,
    MilestoneOut,
    StageOut,
    StatsOut,
    TaskOut,
    Timeline,
)
from bot.web.postmortem_body import PostmortemSaved
from bot.web.stats_out import stats
from bot.web.timeline_out import rendered_timeline
from storage.db import transaction
from storage.reads import NotRendered, alerts_json, read_connection, read_session

# Incident ids are INTEGER columns; a larger number can name no incident, and sending it
# to the database fails (SQLite: overflow, PostgreSQL: out of range) instead of finding none.
MAX_ID = 2**31 - 1
IncidentId = Annotated[int, Path(ge=1, le=MAX_ID, description="the incident's number")]
# Timeline pages read at once (a page is up to 1,000 entries); more readers queue.
TIMELINE_READERS = 1
# Seconds: a page waits while alert notifications wait on their commit or one was answered
# within ALERTS_QUIET, polling every GIVE_WAY_POLL, for at most GIVE_WAY_FOR; a 50-page
# timeline then takes 5 s more to read in the middle of a storm, and nothing more when
# alerts are quiet. Not every transaction: an idle service runs a few a second (the
# scheduler's job store, the outbox's polls), and with those counted one page in five
# waited 0.1 s for nothing.
ALERTS_QUIET = 0.25
GIVE_WAY_POLL = 0.01
GIVE_WAY_FOR = 0.1


class StoredTextResponse(JSONResponse):
    """JSON that is valid UTF-8 even when a row stored before text was cleaned where it
    enters holds a lone surrogate (SQLite kept them in JSON columns): that incident must
    stay readable."""

    def render(self, content: Any) -> bytes:
        return stored_json(content).encode("utf-8")


def stored_json(content: Any) -> str:
    """`content` as JSON text, valid UTF-8 whatever stored text it carries (see above)."""
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return clean_text(text)


def _summary(incident: IncidentSnapshot | IncidentListed) -> IncidentSummary:
    return IncidentSummary(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        playbook=incident.playbook_id,
        channel_id=incident.channel_id,
        channel_name=incident.channel_name,
        opened_at=incident.created_at,
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        drill=incident.drill,
        recurrence_of=incident.recurrence_of,
        source=incident.source,
        alert_names=list(incident.alert_names),
    )


def _stage(stage: StageFact | None) -> StageOut | None:
    if stage is None:
        return None
    tasks = [TaskOut(n=task.n, text=task.text, done=task.done) for task in stage.tasks]
    return StageOut(id=stage.id, title=stage.title, tasks=tasks)


def _milestone(fact: MilestoneFact) -> MilestoneOut:
    history = [
        MilestoneEdit(at=e.at, source=e.source, actor=e.actor, replaced_at=e.replaced_at)
        for e in fact.history
    ]
    return MilestoneOut(at=fact.at, source=fact.source, actor=fact.actor, history=history)


def list_incidents(session: Session, query: ListQuery) -> IncidentList:
    """One page of incidents, newest first, filtered; `next_cursor` reads the next page."""
    return incident_list(incidents(session, query.where, limit=query.limit, after=query.after))


def incident_list(page: IncidentPage) -> IncidentList:
    """A page of the list as the API answers it."""
    return IncidentList(
        incidents=[_summary(found) for found in page.incidents],
        next_cursor=encode_cursor(page.next) if page.next is not None else None,
    )


def incident_detail(session: Session, incident_id: int, *, alerts: bool = True) -> IncidentDetail:
    """Everything known about one incident (its alerts left empty unless `alerts`)."""
    record = incident_record(session, incident_id, alerts=alerts)
    if record is None:
        raise WebError(404, f"no incident #{incident_id}")
    incident = record.incident
    return IncidentDetail(
        **_summary(incident).model_dump(),
        milestones={name: _milestone(fact) for name, fact in incident.milestones.items()},
        stage=_stage(incident.stage),
        roles=dict(incident.roles),
        alerts=[AlertOut.model_validate(row, from_attributes=True) for row in record.alerts],
        impact=incident.impact,
        cause=incident.cause,
        action_items=[
            ActionItemOut.model_validate(row, from_attributes=True) for row in record.action_items
        ],
    )


def incident_timeline(session: Session, incident_id: int, query: TimelineQuery) -> TimelinePage:
    """The page of an incident's timeline a request asks for (WebError 404: no such
    incident)."""
    if query.last is not None:
        page = last_events(session, incident_id, count=query.last)
    else:
        page = incident_events(session, incident_id, limit=query.limit, after=query.after)
    if page is None:
        raise WebError(404, f"no incident #{incident_id}")
    return page


def json_time(at: datetime) -> str:
    """A time as pydantic writes it in JSON: ISO 8601, a zero offset as `Z`."""
    text = at.isoformat()
    return f"{text[:-6]}Z" if text.endswith("+00:00") else text


def timeline_json(page: TimelinePage) -> dict[str, Any]:
    """A page of the timeline as the API answers it (`Timeline`), as plain JSON values:
    what `Timeline(...).model_dump(mode="json")` gives, without building and dumping a
    model per entry (most of a 1,000-entry page's cost, all of it holding the GIL that
    the alerts' answers wait for). `next_cursor` reads the next page."""
    return {
        "events": [
            {
                "at": json_time(entry.at),
                "kind": entry.kind,
                "actor": entry.actor,
                "text": entry.text,
                "source": entry.source,
            }
            for entry in page.entries
        ],
        "next_cursor": encode_cursor(page.next) if page.next is not None else None,
    }


def rendered(answer: IncidentList) -> StoredTextResponse:
    """The answer as the route's response, built where the route runs: a sync route runs
    in the thread pool, and FastAPI would otherwise serialize a returned model (a page of
    a thousand entries) on the event loop, where alerts wait for their 202."""
    return StoredTextResponse(answer.model_dump(mode="json"))


def _documented(name: str, description: str) -> Any:
    """A dependency that only puts query parameter `name` into the OpenAPI schema."""

    def parameter(value: str | None = Query(None, alias=name, description=description)) -> None:
        return None

    return parameter


def build_api_router(runtime: Runtime) -> APIRouter:
    """The incident API (reads, and the postmortem's edit), behind the same authentication
    as the alert routes."""
    router = APIRouter(
        prefix="/api",
        tags=["incidents"],
        route_class=JSONErrorRoute,
        default_response_class=StoredTextResponse,
        dependencies=[Depends(require_auth(runtime.settings))],
        responses={code: {"model": ErrorBody} for code in (401, 422, 503)},
    )
    not_found: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}

    # Declared for the OpenAPI schema; read from the raw query string, where an unknown or
    # repeated parameter can be seen and refused.
    documented = [Depends(_documented(name, text)) for name, text in PARAMETERS.items()]

    @router.get("/incidents", response_model=IncidentList, dependencies=documented)
    def get_incidents(request: Request) -> StoredTextResponse:
        """List incidents newest first (by when they were opened), a page at a time."""
        query = read_list_query(request.query_params.multi_items())
        with read_session(runtime.sessions) as session:
            page = incidents(session, query.where, limit=query.limit, after=query.after)
        # Answered past the read, whose snapshot the database keeps until it ends.
        return rendered(incident_list(page))

    @router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses=not_found)
    def get_incident(incident_id: IncidentId) -> Response:
        """One incident: milestones, current stage, roles, alerts, action items."""
        with read_session(runtime.sessions) as session:
            # A storm's incident has tens of thousands of alerts: written out by the
            # database (`storage.reads.alerts_json`), in the read's snapshot, unless a
            # stored value needs the ordinary read's repairs.
            try:
                written = alerts_json(connection=session.connection(), incident_id=incident_id)
            except NotRendered:
                written = None
            detail = incident_detail(session, incident_id, alerts=written is None)
        answer = detail.model_dump(mode="json")
        if written is None:
            return StoredTextResponse(answer)
        del answer["alerts"]
        body = f'{stored_json(answer)[:-1]},"alerts":[{written}]}}'
        return Response(body.encode("utf-8"), media_type="application/json")

    page_reads = anyio.Semaphore(TIMELINE_READERS)
    alerts = runtime.alert_traffic
    timeline_documented = [
        Depends(_documented(name, text)) for name, text in TIMELINE_PARAMETERS.items()
    ]

    @router.get(
        "/incidents/{incident_id}/timeline",
        response_model=Timeline,
        responses=not_found,
        dependencies=timeline_documented,
    )
    async def get_timeline(incident_id: IncidentId, request: Request) -> Response:
        """The incident's timeline in the order things happened, a page at a time."""
        query = read_timeline_query(request.query_params.multi_items())
        # One page read at a time (a worker thread each, off the event loop): two readers
        # paging a long timeline would otherwise take two turns on the GIL for each one
        # the alerts' answers get. A reader beyond it waits here, holding no thread, and is
        # served next; none is refused. While alerts keep coming (a storm), each page first
        # gives way to them for a moment: the storm's answers wait for the CPU a page and
        # its reader take, and a page waits at most GIVE_WAY_FOR.
        async with page_reads:
            waited = 0.0
            while waited < GIVE_WAY_FOR and alerts.busy(ALERTS_QUIET):
                await anyio.sleep(GIVE_WAY_POLL)
                waited += GIVE_WAY_POLL
            return await anyio.to_thread.run_sync(timeline_response, incident_id, query)

    def timeline_response(incident_id: int, query: TimelineQuery) -> Response:
        # On a connection of its own that waits for no writer (PostgreSQL: the statement
        # engine's, which skips the pool's ping), the page rendered by the database.
        try:
            with read_connection(runtime.statement_engine or runtime.engine) as connection:
                return rendered_timeline(connection, incident_id, query)
        except NotRendered:
            pass
        with read_session(runtime.sessions) as session:
            page = incident_timeline(session, incident_id, query)
        # Answered past the read, whose snapshot the database keeps until it ends.
        return StoredTextResponse(timeline_json(page))

    @router.get(
        "/incidents/{incident_id}/postmortem",
        response_class=PlainTextResponse,
        responses={**not_found, 200: {"content": {"text/markdown": {}}}},
    )
    def get_postmortem(incident_id: IncidentId) -> PlainTextResponse:
        """The postmortem draft as Markdown (the stored one once resolved)."""
        with read_session(runtime.sessions) as session:
            try:
                text = current_draft(
                    session,
                    incident_id,
                    tz=runtime.domain.tz,
                    template_dir=runtime.settings.template_dir,
                )
            except LookupError as error:
                raise WebError(404, f"no incident #{incident_id}") from error
        return PlainTextResponse(clean_text(text), media_type="text/markdown; charset=utf-8")

    @router.get("/stats", response_model=StatsOut, tags=["stats"])
    def get_stats(
        since: str = Query(DEFAULT_SINCE, description="the weekly window: 90d, 12w"),
        by: str = Query(DEFAULT_BY, description="group the weeks by " + ", ".join(BY)),
    ) -> StatsOut:
        """Response-time and follow-up figures over every incident, drills left out: what
        `warroom stats` prints (medians and p90 by linear interpolation between the closest
        ranks), and the weekly series over the last `since`, grouped `by`."""
        try:
            window, group = parse_since(since), parse_by(by)
        except ValueError as error:
            raise WebError(422, str(error)) from error
        now = runtime.domain.clock.now()
        weekly = WeeklyRequest(until=now, tz=runtime.domain.tz, since=window, by=group)
        with read_session(runtime.sessions) as session:
            today = now.astimezone(runtime.domain.tz).date()
            return stats(session, today=today, weekly=weekly)

    @router.put(
        "/incidents/{incident_id}/postmortem",
        status_code=200,
        response_model=PostmortemSaved,
        responses={**not_found, **{code: {"model": ErrorBody} for code in (409, 413, 415)}},
        openapi_extra=postmortem_body.OPENAPI,
    )
    async def put_postmortem(incident_id: IncidentId, request: Request) -> PostmortemSaved:
        """Keep the team's edited postmortem of a resolved incident: `/incident postmortem`
        then regenerates only the sections left as generated (see README)."""
        body = await read_body(request)
        text = postmortem_body.edited_text(body, request.headers.get("content-type"))
        now = runtime.domain.clock.now()

        def save() -> tuple[str, ...]:
            with transaction(runtime.sessions) as session:
                return save_edit(
                    session,
                    incident_id,
                    text,
                    by=None,
                    via="api",
                    now=now,
                    tz=runtime.domain.tz,
                    template_dir=runtime.settings.template_dir,
                )

        try:
            changed = await anyio.to_thread.run_sync(save)
        except LookupError as error:
            raise WebError(404, f"no incident #{incident_id}") from error
        except NoDraft as error:
            raise WebError(409, str(error)) from error
        return PostmortemSaved(incident_id=incident_id, chars=len(text), edited=list(changed))

    return router
