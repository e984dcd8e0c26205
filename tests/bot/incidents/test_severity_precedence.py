"""Which severity an alert opens its incident with: the alert's own, the playbook's default,
or the playbook's override; and whether that pages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.incidents import effects
from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.ingest import ingest_alert
from bot.incidents.opening import declare
from bot.incidents.service import execute
from playbooks import Catalog, Playbook
from storage.unit_of_work import unit_of_work
from tests.bot.incidents.conftest import Store, reference_alert

STAGES = [{"id": "respond", "title": "Respond"}]


def _domain(domain: Domain, **keys: str) -> Domain:
    playbook = Playbook.model_validate({"id": "default", "title": "T", "stages": STAGES, **keys})
    return replace(domain, catalog=Catalog([playbook]))


@pytest.mark.parametrize(
    ("alert_says", "playbook", "opened", "pages"),
    [
        pytest.param("sev1", {"severity": "sev3"}, "sev1", True, id="alert-beats-default"),
        pytest.param("sev4", {"severity": "sev1"}, "sev4", False, id="alert-beats-high-default"),
        pytest.param(None, {"severity": "sev2"}, "sev2", True, id="default-when-alert-silent"),
        pytest.param(None, {}, "sev3", False, id="sev3-when-neither-says"),
        pytest.param(
            "sev1", {"severity_override": "sev4"}, "sev4", False, id="override-beats-alert"
        ),
        pytest.param(
            None, {"severity": "sev4", "severity_override": "sev2"}, "sev2", True, id="override"
        ),
    ],
)
def test_the_alert_states_the_severity_unless_the_playbook_overrides_it(
    sessions, domain, store: Store, alert_says, playbook, opened, pages
) -> None:
    with unit_of_work(sessions) as uow:
        result = ingest_alert(
            uow, _domain(domain, **playbook), reference_alert(severity=alert_says)
        )

    incident = store.incident(result.incident_id)
    assert incident.severity == opened
    paged = [op.kind for op in store.outbox(incident.id) if op.kind == effects.PAGE]
    assert paged == ([effects.PAGE] if pages else [])


def test_a_declared_severity_beats_the_override_and_the_override_beats_the_default(
    sessions, domain, store: Store
) -> None:
    forced = _domain(domain, severity="sev3", severity_override="sev1")
    with unit_of_work(sessions) as uow:
        said = declare(uow, forced, title="Said", severity="sev4", actor="U0ALICE")
    with unit_of_work(sessions) as uow:
        unsaid = declare(uow, forced, title="Unsaid", severity=None, actor="U0ALICE")

    assert said.incident is not None and unsaid.incident is not None
    assert store.incident(said.incident.id).severity == "sev4"
    assert store.incident(unsaid.incident.id).severity == "sev1"


def test_a_drill_rehearses_at_the_severity_the_playbook_forces(
    sessions, domain, store: Store
) -> None:
    forced = _domain(domain, severity="sev3", severity_override="sev1")
    with unit_of_work(sessions) as uow:
        outcome = execute(uow, forced, parse_command("drill default"), incident=None, actor="U0A")

    assert outcome.incident is not None
    incident = store.incident(outcome.incident.id)
    assert (incident.drill, incident.severity) == (True, "sev1")
    assert effects.PAGE not in [op.kind for op in store.outbox(incident.id)]  # drills never page
