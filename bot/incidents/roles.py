"""Incident roles: who is commander, comms, scribe and ops."""

from __future__ import annotations

from sqlmodel import Session

from bot.incidents import effects
from bot.incidents.records import Recorder
from bot.incidents.snapshot import roles_by_incident
from storage.models import RoleAssignment


def current_roles(session: Session, incident_id: int) -> dict[str, str]:
    """Role -> holder, the latest assignment of each role winning."""
    return roles_by_incident(session, [incident_id]).get(incident_id, {})


def assign_role(rec: Recorder, role: str, user: str, *, actor: str | None) -> None:
    """Give a role to a person, record it and bring them into the channel."""
    assert rec.incident is not None and rec.incident.id is not None
    rec.session.add(
        RoleAssignment(
            incident_id=rec.incident.id,
            role=role,
            user=user,
            assigned_by=actor,
            assigned_at=rec.now,
        )
    )
    rec.session.flush()
    rec.event("role", f"{role} is now {user}", actor=actor, data={"role": role, "user": user})
    rec.effect(effects.Invite(users=(user,)))
    rec.effect(effects.UpdateCard())
