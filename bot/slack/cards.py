"""Read what the incident card shows from the stored incident."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from bot.incidents.records import milestones_of
from bot.incidents.roles import current_roles
from bot.incidents.stages import playbook_of, state_of
from bot.slack.blocks import CardView
from storage.models import Alert, Incident


def card_view(session: Session, incident: Incident) -> CardView:
    """The card's content for one incident, as stored now."""
    assert incident.id is not None
    milestones = milestones_of(session, incident.id)
    state = state_of(incident)
    stage = None
    tasks: tuple[tuple[str, bool], ...] = ()
    if state is not None:
        current = playbook_of(incident).stage(state.stage)
        stage = current.title
        done = state.done(current.id)
        tasks = tuple((task, n in done) for n, task in enumerate(current.tasks, 1))
    links = list(
        session.scalars(
            select(Alert.url)
            .where(Alert.incident_id == incident.id, Alert.url.is_not(None))
            .order_by(Alert.id)
            .limit(5)
        )
    )
    started = milestones.get("started")
    return CardView(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        stage=stage,
        commander=current_roles(session, incident.id).get("commander"),
        started_at=started.at if started else None,
        impact=incident.impact,
        playbook=incident.playbook_id,
        drill=incident.drill,
        alert_links=[link for link in links if link and link.startswith(("http://", "https://"))],
        resolved_at=incident.resolved_at,
        tasks=tasks,
    )
