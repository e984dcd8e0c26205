"""Drafts of incidents unlike the reference: long, across midnight, hostile text, bare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert

from bot.postmortem import draft
from storage.db import transaction
from storage.models import TimelineEvent
from tests.bot.postmortem.conftest import HKT, at_hkt
from tests.bot.postmortem.tables import section, table


@pytest.fixture
def declared(run, people) -> int:
    """A sev3 declared by Alice at 17:56 HKT, with nothing else recorded."""
    outcome = run("declare Spot trading errors sev3")
    assert outcome.incident is not None
    return outcome.incident.id


def test_an_incident_across_midnight_shows_dates(run, clock, declared, drafted) -> None:
    at_hkt(clock, "00:30", day=11)
    run("note still failing after midnight", declared, actor="U0BOB")
    run("log 23:50 restarted the order gateway", declared, actor="U0CAROL")
    at_hkt(clock, "01:00", day=11)
    run("mitigate", declared)
    pm, text = drafted(declared)
    assert pm.timeline_with_date
    assert pm.impact.text == "2021-03-10 17:56 – 2021-03-11 01:00 HKT"
    assert pm.impact.duration == "7h 04m"
    rows = table(text, "Timeline (Asia/Hong_Kong)")
    # Only the rows not on the day impact started carry their date.
    assert {time for time, *_ in rows if len(time) > len("17:56")} == {
        "2021-03-11 00:30",
        "2021-03-11 01:00",
    }
    assert [
        "23:50",
        "Logged: restarted the order gateway",
        "U0CAROL",
        "backdate",
    ] in rows
    assert ["2021-03-11 00:30", "still failing after midnight", "Bob Lee", "command"] in rows
    assert ["Time to mitigate", "7h 04m", "2021-03-11 01:00"] in table(text, "Metrics")


def test_pipes_newlines_and_markup_in_text_stay_inside_their_cell(run, declared, drafted) -> None:
    hostile = "order book | depth\n| 1 | 2 |\r\nthird line <!-- swallow"
    run(f"note {hostile}", declared)
    run(f"impact {hostile}", declared)
    run("action fix | it\nnow <@U0BOB>", declared)
    _, text = drafted(declared)
    rows = table(text, "Timeline (Asia/Hong_Kong)")
    assert all(len(row) == 4 for row in rows)
    assert [
        "17:56",
        r"order book \| depth<br>\| 1 \| 2 \|<br>third line &lt;!-- swallow",
        "Alice Chan",
        "command",
    ] in rows
    # `action` splits its words (to find the owner), so its newline is already a space.
    # Declared sev3 on Wednesday 2021-03-10: due 20 business days later, no ticket yet.
    assert table(text, "Action items") == [
        ["1", r"fix \| it now", "Bob Lee", "2021-04-07", "open", "—"]
    ]
    assert "<!--" not in text
    symptom = r"order book | depth | 1 | 2 | third line &lt;!-- swallow"
    assert f"- **Customer-facing symptom:** {symptom}\n" in section(text, "Impact") + "\n"
    assert f"Impact: {symptom}." in section(text, "Summary")


def test_a_team_template_replaces_the_bundled_one(tmp_path, reference, drafted) -> None:
    (tmp_path / "postmortem.md.j2").write_text(
        "{{ title }} | {{ impact.text }} | {{ metrics[3].value }} | {{ actions|length }}\n"
    )
    _, text = drafted(reference, template_dir=tmp_path)
    assert text == (
        "API error 30030: matching engine upgrade in progress | "
        "2021-03-10 17:56 – 18:15 HKT | 19m | 5\n"
    )


def test_a_team_template_can_extend_the_bundled_one(tmp_path, reference, drafted) -> None:
    (tmp_path / "postmortem.md.j2").write_text(
        '{% extends "warroom/postmortem.md.j2" %}\n'
        "{% block reflection %}\n\n## Blameless review\n\nBooked for {{ date }}.\n"
        "{% endblock %}\n"
    )
    _, text = drafted(reference, template_dir=tmp_path)
    assert section(text, "Blameless review") == "Booked for 2021-03-10."
    assert "## What went well" not in text
    assert "| 18:15 | resolved: service restored | Alice Chan | command |" in text


def test_a_team_folder_without_the_template_is_an_error(tmp_path, reference, drafted) -> None:
    with pytest.raises(FileNotFoundError, match=r"postmortem\.md\.j2"):
        drafted(reference, template_dir=tmp_path)


def test_a_bare_declared_incident_still_drafts(declared, drafted) -> None:
    pm, text = drafted(declared)
    assert pm.impact.text == "2021-03-10 17:56 HKT – ongoing"
    assert "- **Duration:** ongoing" in text
    assert "- **Trigger:** declared by Alice Chan" in text
    assert "- **Affected services:** —" in text
    assert "- **Commander:** —" in text
    assert table(text, "Metrics") == [
        ["Time to detect", "0s", "17:56"],
        ["Time to acknowledge", "—", "—"],
        ["Time to mitigate", "—", "—"],
        ["Time to resolve", "—", "—"],
    ]
    assert section(text, "Appendix: alerts") == "_No alerts were attached to this incident._"
    assert section(text, "Communications") == "_No status updates were posted._"
    assert section(text, "Action items").startswith("_No action items yet")
    assert ["17:56", "Incident declared: Spot trading errors (sev3)", "Alice Chan", "command"] in (
        table(text, "Timeline (Asia/Hong_Kong)")
    )


def test_ten_thousand_events_draft_in_a_constant_number_of_queries(
    sessions, engine, declared
) -> None:
    start = datetime(2021, 3, 10, 10, 0, tzinfo=UTC)
    actors = ["U0ALICE", "U0BOB", "U0CAROL", None]
    rows = [
        {
            "incident_id": declared,
            "occurred_at": start + timedelta(seconds=n),
            "recorded_at": start + timedelta(seconds=n),
            "kind": "note",
            "actor": actors[n % 4],
            "text": f"bulk event {n}",
            "data": {},
            "source": "command",
        }
        for n in range(10_000)
    ]
    with transaction(sessions) as session:
        session.execute(insert(TimelineEvent), rows)

    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with sessions() as session:
        text = draft(session, declared, tz=HKT)
    # The incident's snapshot (incident, milestones, roles, alert links, senders), then
    # the timeline, action items, alerts and names: none of them grows with the timeline.
    assert len(statements) <= 10, statements

    timeline = table(text, "Timeline (Asia/Hong_Kong)")
    bulk = [row for row in timeline if row[1].startswith("bulk event ")]
    assert len(bulk) == 10_000
    assert bulk[0] == ["18:00", "bulk event 0", "Alice Chan", "command"]
    assert bulk[-1][:2] == ["20:46", "bulk event 9999"]
    assert [row[2] for row in bulk[:4]] == ["Alice Chan", "Bob Lee", "U0CAROL", "—"]
