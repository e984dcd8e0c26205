"""Playbooks end to end: chosen by alert labels, moved by milestones, hot-reloaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from sqlalchemy import Engine

from playbooks import bundled_dir
from tests.e2e.conftest import serving
from tests.support.commands import run_command
from tests.support.server import wait_until


def _alertmanager(service: str, alertname: str, group: str) -> dict:
    return {
        "version": "4",
        "groupKey": group,
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": alertname},
        "commonLabels": {"alertname": alertname, "service": service},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": alertname, "service": service, "severity": "critical"},
                "annotations": {"summary": f"{alertname} on {service}"},
                "startsAt": "2021-03-10T17:56:00+08:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus/graph",
                "fingerprint": f"fp-{group}",
            }
        ],
    }


def test_alert_picks_its_playbook_ack_enters_response_and_edits_reload(
    database: tuple[Engine, str], tmp_path: Path
) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(bundled_dir(), folder)
    with serving(database[1], WARROOM_PLAYBOOKS=str(folder)) as service:
        post = lambda body: httpx.post(  # noqa: E731
            f"{service.url}/alerts/alertmanager", json=body, headers=service.auth
        )
        answer = post(_alertmanager("matching-engine", "MatchingEngineErrors", "g1"))
        assert answer.status_code == 202, answer.text
        incident_id = answer.json()["incidents"][0]["id"]
        detail = httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth)
        assert detail.json()["playbook"] == "trading-engine-outage"
        assert detail.json()["stage"]["id"] == "detect"
        channel = wait_until(
            lambda: httpx.get(
                f"{service.url}/api/incidents/{incident_id}", headers=service.auth
            ).json()["channel_id"],
            timeout=10,
        )
        run_command(service.runtime, "ack", user_id="U0BOB", channel_id=channel)
        detail = httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth)
        assert detail.json()["stage"]["id"] == "respond"

        # A new playbook dropped into the watched folder is used by the next alert.
        (folder / "settlement.yaml").write_text(
            "id: settlement\ntitle: Settlement failure\nmatch: {service: settlement}\n"
            "stages:\n  - id: fix\n    title: Fix settlement\n"
        )

        def picked() -> str | None:
            group = f"probe-{len(list(folder.iterdir()))}-{picked.n}"
            picked.n += 1
            body = _alertmanager("settlement", "SettlementFailed", group)
            return post(body).json()["incidents"][0]["id"]

        picked.n = 0

        def uses_settlement() -> bool:
            new_id = picked()
            got = httpx.get(f"{service.url}/api/incidents/{new_id}", headers=service.auth)
            return got.json()["playbook"] == "settlement"

        wait_until(uses_settlement, timeout=10, interval=0.3)

        # A broken edit keeps the previous version and says why in the broadcast channel.
        (folder / "settlement.yaml").write_text(
            "id: settlement\ntitle: Settlement failure\nmatch: {service: settlement}\n"
            "stages:\n  - id: fix\n    title: Fix settlement\n    timebox: soon\n"
        )
        refused = wait_until(
            lambda: [m for m in service.sandbox.messages("incidents") if "refused" in m["text"]],
            timeout=10,
        )
        assert "settlement.yaml:7: stages[0].timebox: bad duration" in refused[0]["text"]
        assert uses_settlement()
