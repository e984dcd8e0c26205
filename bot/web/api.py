"""`/api/incidents...`: a read-only JSON view of incidents for dashboards and scripts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import select
from sqlmodel import Session

from bot.composition.runtime import Runtime
from bot.incidents.records import milestones_of
from bot.incidents.roles import current_roles
from bot.incidents.stages import playbook_of, state_of
from bot.incidents.views import timeline
from bot.postmortem import current_draft
from bot.web.auth import require_auth
from bot.web.errors import ErrorBody, JSONErrorRoute, WebError
from bot.web.models import (
    ActionItemOut,
    AlertOut,
    EventOut,
    IncidentDetail,
    IncidentList,
    IncidentSummary,
    MilestoneOut,
    StageOut,
    TaskOut,
    Timeline,
    history_entries,
)
from storage.db import transaction
from storage.models import OPEN_STATUSES, ActionItem, Alert, Incident, Milestone

STATUSES = (*OPEN_STATUSES, "resolved")
STATUS_FILTERS = ("open", *STATUSES)
LIST_LIMIT = 1000
# Incident ids are INTEGER columns; a larger number can name no incident, and sending it
# to the database fails (SQLite: overflow, PostgreSQL: out of range) instead of finding none.
MAX_ID = 2**31 - 1
IncidentId = Annotated[int, Path(ge=1, le=MAX_ID, description="the incident's number")]


def _summary(incident: Incident, milestones: dict[str, Milestone]) -> IncidentSummary:
    assert incident.id is not None
    started = milestones.get("started")
    resolved = milestones.get("resolved")
    return IncidentSummary(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        playbook=incident.playbook_id,
        channel_id=incident.channel_id,
        channel_name=incident.channel_name,
        started_at=started.at if started else None,
        # The milestone holds a backdated resolution time; the column when it is gone.
        resolved_at=resolved.at if resolved else incident.resolved_at,
    )


def _stage(incident: Incident) -> StageOut | None:
    state = state_of(incident)
    if state is None:
        return None
    stage = playbook_of(incident).stage(state.stage)
    done = state.done(stage.id)
    tasks = [TaskOut(n=n, text=text, done=n in done) for n, text in enumerate(stage.tasks, 1)]
    return StageOut(id=stage.id, title=stage.title, tasks=tasks)


def _get(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise WebError(404, f"no incident #{incident_id}")
    return incident


def list_incidents(session: Session, status: str | None, limit: int) -> IncidentList:
    """Incidents newest first, optionally only open ones or one status."""
    query = select(Incident).order_by(Incident.created_at.desc(), Incident.id.desc())
    if status == "open":
        query = query.where(Incident.status.in_(OPEN_STATUSES))
    elif status is not None:
        query = query.where(Incident.status == status)
    incidents = list(session.scalars(query.limit(limit)))
    ids = [incident.id for incident in incidents]
    by_incident: dict[int, dict[str, Milestone]] = {}
    if ids:
        rows = session.scalars(
            select(Milestone).where(
                Milestone.incident_id.in_(ids),
                Milestone.name.in_(("started", "resolved")),
            )
        )
        for row in rows:
            by_incident.setdefault(row.incident_id, {})[row.name] = row
    return IncidentList(incidents=[_summary(i, by_incident.get(i.id or 0, {})) for i in incidents])


def incident_detail(session: Session, incident_id: int) -> IncidentDetail:
    """Everything known about one incident."""
    incident = _get(session, incident_id)
    milestones = milestones_of(session, incident_id)
    alerts = session.scalars(
        select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)
    )
    items = session.scalars(
        select(ActionItem).where(ActionItem.incident_id == incident_id).order_by(ActionItem.id)
    )
    return IncidentDetail(
        **_summary(incident, milestones).model_dump(),
        milestones={
            name: MilestoneOut(
                at=row.at, source=row.source, actor=row.actor, history=history_entries(row.history)
            )
            for name, row in sorted(milestones.items(), key=lambda item: (item[1].at, item[0]))
        },
        stage=_stage(incident),
        roles=current_roles(session, incident_id),
        alerts=[AlertOut.model_validate(row, from_attributes=True) for row in alerts],
        impact=incident.impact,
        cause=incident.cause,
        drill=incident.drill,
        action_items=[ActionItemOut.model_validate(row, from_attributes=True) for row in items],
    )


def incident_timeline(session: Session, incident_id: int) -> Timeline:
    """An incident's timeline entries in the order they happened."""
    _get(session, incident_id)
    return Timeline(
        events=[
            EventOut(at=e.occurred_at, kind=e.kind, actor=e.actor, text=e.text, source=e.source)
            for e in timeline(session, incident_id)
        ]
    )


def build_api_router(runtime: Runtime) -> APIRouter:
    """The read-only incident API, behind the same authentication as the alert routes."""
    router = APIRouter(
        prefix="/api",
        tags=["incidents"],
        route_class=JSONErrorRoute,
        dependencies=[Depends(require_auth(runtime.settings))],
        responses={code: {"model": ErrorBody} for code in (401, 422, 503)},
    )
    not_found: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}

    @router.get("/incidents", response_model=IncidentList)
    def get_incidents(
        status: str | None = Query(
            None, description=f"one of: {', '.join(STATUS_FILTERS)} ('open' = not resolved)"
        ),
        limit: int = Query(100, ge=1, le=LIST_LIMIT),
    ) -> IncidentList:
        """List incidents, newest first."""
        if status is not None and status not in STATUS_FILTERS:
            raise WebError(
                422, f"unknown status {status!r}; use one of: {', '.join(STATUS_FILTERS)}"
            )
        with transaction(runtime.sessions) as session:
            return list_incidents(session, status, limit)

    @router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses=not_found)
    def get_incident(incident_id: IncidentId) -> IncidentDetail:
        """One incident: milestones, current stage, roles, alerts, action items."""
        with transaction(runtime.sessions) as session:
            return incident_detail(session, incident_id)

    @router.get("/incidents/{incident_id}/timeline", response_model=Timeline, responses=not_found)
    def get_timeline(incident_id: IncidentId) -> Timeline:
        """The incident's timeline in the order things happened."""
        with transaction(runtime.sessions) as session:
            return incident_timeline(session, incident_id)

    @router.get(
        "/incidents/{incident_id}/postmortem",
        response_class=PlainTextResponse,
        responses={**not_found, 200: {"content": {"text/markdown": {}}}},
    )
    def get_postmortem(incident_id: IncidentId) -> PlainTextResponse:
        """The postmortem draft as Markdown (the stored one once resolved)."""
        with transaction(runtime.sessions) as session:
            try:
                text = current_draft(
                    session,
                    incident_id,
                    tz=runtime.domain.tz,
                    template_dir=runtime.settings.template_dir,
                )
            except LookupError as error:
                raise WebError(404, f"no incident #{incident_id}") from error
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")

    return router
