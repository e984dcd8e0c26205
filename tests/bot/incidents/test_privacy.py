"""Privacy is the incident's: `--private` or a private playbook keeps it off public surfaces,
and public surfaces use the public title."""

from __future__ import annotations

import pytest

from bot.incidents.commands import Command, parse_command
from bot.incidents.errors import DomainError


@pytest.mark.parametrize(
    ("text", "title", "severity"),
    [
        ("declare Leaked API key sev1 --private", "Leaked API key", "sev1"),
        ("declare --private Leaked API key", "Leaked API key", None),
        ("declare Leaked API key --PRIVATE sev2", "Leaked API key", "sev2"),
    ],
)
def test_private_is_a_flag_of_declare_wherever_it_is_typed(
    text: str, title: str, severity: str | None
) -> None:
    assert parse_command(text) == Command("declare", text=title, severity=severity, private=True)


def test_a_private_declare_opens_a_private_incident_announced_without_title(run, store) -> None:
    outcome = run("declare Leaked API key sev2 --private")
    incident = store.incident(outcome.incident.id)
    assert incident.private and incident.title == "Leaked API key"
    ops = store.outbox(incident.id)
    assert ops[0].payload["private"] is True  # the channel
    broadcasts = [op.payload for op in ops if op.kind == "broadcast.post"]
    assert broadcasts == [
        {"incident_id": incident.id, "text": "A private incident was opened.", "link": False}
    ]


def test_a_private_playbook_makes_a_private_incident(run, store) -> None:
    outcome = run("declare Token abuse playbook:security-incident")
    assert store.incident(outcome.incident.id).private


def test_nothing_of_a_private_incident_is_broadcast_after_its_opening(run, store) -> None:
    incident_id = run("declare Leaked API key sev2 --private").incident.id
    before = len(store.outbox(incident_id))
    run("update Keys rotated", incident_id)
    run("resolve done", incident_id)
    later = store.outbox(incident_id)[before:]
    assert [op.kind for op in later if op.kind.startswith(("broadcast", "statuspage"))] == []


def test_statuspage_is_refused_for_a_private_incident_and_records_nothing(run, store) -> None:
    incident_id = run("declare Leaked API key sev2 --private").incident.id
    before = (len(store.events(incident_id)), len(store.outbox(incident_id)))
    with pytest.raises(DomainError, match="is private: nothing of it goes to the public"):
        run("statuspage investigating We are looking into it", incident_id)
    assert (len(store.events(incident_id)), len(store.outbox(incident_id))) == before


def test_public_title_defaults_to_the_playbooks_and_can_be_set(run, store) -> None:
    incident_id = run("declare Orders DB primary lost its disk").incident.id
    assert store.incident(incident_id).public_title == "Service disruption"
    reply = run("public-title Delayed order processing", incident_id).reply
    assert reply == "Public title set to “Delayed order processing”"
    assert store.incident(incident_id).public_title == "Delayed order processing"
    assert store.events(incident_id)[-1].text == "public title: Delayed order processing"
    with pytest.raises(DomainError, match="already"):
        run("public-title Delayed order processing", incident_id)


def test_resolve_and_reopen_follow_the_status_page(run, store) -> None:
    incident_id = run("declare Orders slow").incident.id
    run("resolve fixed the internal cron", incident_id)
    run("reopen", incident_id)
    follows = [op.payload for op in store.outbox(incident_id) if op.kind == "statuspage.update"]
    assert [(p["status"], p["text"], p["follow"]) for p in follows] == [
        ("resolved", "This incident has been resolved.", True),
        ("investigating", "We are investigating this issue again.", True),
    ]
