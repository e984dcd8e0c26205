"""What a private incident keeps to itself, and what public surfaces call an incident.

A private incident's title, channel and text never reach the broadcast channel, the status
page, or a webhook receiver not marked private-ok. Public surfaces use the public title:
one set with `/incident public-title`, else the playbook's `public_title`, else a default;
never the internal title.
"""

from __future__ import annotations

from bot.incidents import effects
from bot.incidents.errors import DomainError
from bot.incidents.records import Recorder
from storage.models import Incident

DEFAULT_PUBLIC_TITLE = "Service disruption"
PRIVATE_OPENED = "A private incident was opened."
# What the status page says when the incident it follows is resolved or reopened: fixed
# public wording, since a resolve's text is written for the team.
PUBLIC_RESOLVED = "This incident has been resolved."
PUBLIC_REOPENED = "We are investigating this issue again."


def public_title(incident: Incident) -> str:
    """What public surfaces call the incident."""
    return incident.public_title or DEFAULT_PUBLIC_TITLE


def broadcast(rec: Recorder, text: str) -> None:
    """Announce `text` in the broadcast channel, unless the incident is private."""
    if rec.incident is not None and rec.incident.private:
        return
    rec.effect(effects.Broadcast(text=text))


def set_public_title(rec: Recorder, text: str, *, actor: str) -> str:
    """Name the incident on public surfaces from now on."""
    incident = rec.incident
    assert incident is not None
    text = " ".join(text.split())
    if not text:
        raise DomainError("`public-title` needs the public wording")
    if incident.public_title == text:
        raise DomainError(f"The public title is already “{text}”")
    old, incident.public_title = public_title(incident), text
    rec.event("public_title", f"public title: {text}", actor=actor, data={"from": old})
    rec.touch()
    note = " (the incident is private: it reaches no public surface)" if incident.private else ""
    return f"Public title set to “{text}”{note}"


def require_public(incident: Incident) -> None:
    """Refuse to publish a private incident."""
    if incident.private:
        raise DomainError(
            f"Incident #{incident.id} is private: nothing of it goes to the public status page"
        )
