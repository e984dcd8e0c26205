"""The reference incident, replayed through the domain, drafts a postmortem like its report."""

from __future__ import annotations

from tests.bot.postmortem.conftest import COMMITMENTS
from tests.bot.postmortem.tables import section, table


def test_header_names_the_incident_its_commander_and_authors(reference, drafted) -> None:
    pm, text = drafted(reference)
    assert (pm.status, pm.severity, pm.date, pm.playbook) == (
        "Draft",
        "sev1",
        "2021-03-10",
        "trading-engine-outage",
    )
    assert text.startswith("# Postmortem: API error 30030: matching engine upgrade in progress\n")
    header = text.split("\n## ", 1)[0]
    assert "- **Status:** Draft (incident resolved)" in header
    assert "- **Date:** 2021-03-10" in header
    assert "- **Commander:** Alice Chan" in header
    assert "- **Authors:** Alice Chan, Bob Lee" in header


def test_impact_window_duration_service_and_symptom_match_the_report(reference, drafted) -> None:
    pm, text = drafted(reference)
    assert pm.impact.text == "2021-03-10 17:56 – 18:15 HKT"
    assert pm.impact.duration == "19m"
    assert pm.services == ("matching-engine",)
    impact = section(text, "Impact")
    assert "- **Window:** 2021-03-10 17:56 – 18:15 HKT" in impact
    assert "- **Duration:** 19m" in impact
    assert "- **Affected services:** matching-engine" in impact
    assert "API users received error code 30030" in impact
    cause = section(text, "Root cause and trigger")
    assert "- **Root cause:** An internal dependency service of the matching engine failed" in cause
    assert "- **Trigger:** alertmanager alert: API error 30030" in cause
    assert "for 19m, 2021-03-10 17:56 – 18:15 HKT" in section(text, "Summary")


def test_timeline_is_in_hong_kong_time_with_who_and_source(reference, drafted) -> None:
    _, text = drafted(reference)
    rows = table(text, "Timeline (Asia/Hong_Kong)")
    assert [time for time, *_ in rows] == sorted(time for time, *_ in rows)
    assert {time for time, *_ in rows} == {"17:56", "17:57", "18:05", "18:07", "18:15"}
    assert [
        "17:56",
        "Alert firing: API error 30030: matching engine upgrade in progress",
        "—",
        "alert",
    ] in rows
    assert ["17:57", "acknowledged", "Alice Chan", "command"] in rows
    assert [
        "18:05",
        "status investigating → identified: failed internal dependency of the matching engine",
        "Alice Chan",
        "command",
    ] in rows
    assert [
        "18:07",
        "Status update: Emergency repairs started, preparing a restart",
        "Bob Lee",
        "command",
    ] in rows
    assert ["18:15", "resolved: service restored", "Alice Chan", "command"] in rows
    assert ["17:56", "stage Detect", "—", "playbook"] in rows


def test_metrics_measure_from_impact_start(reference, drafted) -> None:
    _, text = drafted(reference)
    assert table(text, "Metrics") == [
        ["Time to detect", "0s", "17:56"],
        ["Time to acknowledge", "1m", "17:57"],
        # Resolving without `mitigate` first sets mitigated at the same moment.
        ["Time to mitigate", "19m", "18:15"],
        ["Time to resolve", "19m", "18:15"],
    ]


def test_commitments_are_action_items_with_owner_names(reference, drafted) -> None:
    _, text = drafted(reference)
    rows = table(text, "Action items")
    assert [row[1] for row in rows] == list(COMMITMENTS)
    assert [row[2] for row in rows] == ["—", "Bob Lee", "—", "Bob Lee", "—"]
    assert {row[4] for row in rows} == {"open"}


def test_playbook_adherence_roles_communications_and_alerts(reference, drafted) -> None:
    pm, text = drafted(reference)
    stages = {row[0]: row for row in table(text, "Playbook adherence")}
    assert stages["Detect"][1:3] == ["17:56", "1m"]
    assert stages["Emergency response"][1:4] == ["17:57", "8m (over)", "5m"]
    assert stages["Identify the failed dependency"][1:3] == ["18:05", "10m"]
    assert stages["Review and commitments"][1] == "18:15"
    # What commands and milestones did is counted, and says what did it and when.
    assert stages["Detect"][4] == "1 of 3"
    assert stages["Emergency response"][4] == "1 of 4"
    assert stages["Identify the failed dependency"][4] == "1 of 3"
    done = section(text, "Playbook adherence").split("Tasks done, and what did them:\n")[1]
    assert "- Detect: Acknowledge with /incident ack to start the emergency response: " in done
    assert "done on acknowledged (Alice Chan, 17:57)" in done
    assert (
        "- Emergency response: Post a first status update: done by `/incident update` "
        "(Bob Lee, 18:07)" in done
    )
    assert (
        "- Identify the failed dependency: Confirm which service failed and record it with "
        "/incident cause: done by `/incident cause` (Alice Chan, 18:05)" in done
    )
    assert any(row[1] == "not reached" for row in stages.values())
    assert table(text, "Responders and roles") == [
        ["Alice Chan", "commander", str(pm.responders[0].entries)],
        ["Bob Lee", "—", "2"],  # his update, and the task it did
    ]
    assert table(text, "Communications") == [
        ["18:07", "status update", "Emergency repairs started, preparing a restart", "Bob Lee"]
    ]
    assert table(text, "Appendix: alerts") == [
        [
            "alertmanager",
            "f1",
            "API error 30030: matching engine upgrade in progress",
            "alertname=MatchingEngineErrors, service=matching-engine",
            "—",
            "1",
        ]
    ]
    for heading in ("What went well", "What went wrong", "Where we got lucky"):
        assert section(text, heading).startswith("_")
