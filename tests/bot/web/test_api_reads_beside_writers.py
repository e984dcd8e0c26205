"""The API's reads make no writer wait and wait for none: while another connection (another
process, on SQLite) holds a write transaction, every read answers at once with what is
committed, and the write lands after."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from tests.bot.alerts.payloads import raw
from tests.bot.web.conftest import BEARER, FIRING, Served
from tests.support.writers import writing

READS = ("", "/timeline", "/postmortem")


def test_reads_answer_while_another_connection_holds_a_write(
    web: Served, database: tuple[Engine, str]
) -> None:
    incident_id = web.post("alertmanager", raw(FIRING["alertmanager"])).json()["incidents"][0]["id"]
    title = web.get(f"/api/incidents/{incident_id}").json()["title"]
    paths = ["/api/incidents", "/api/stats"] + [f"/api/incidents/{incident_id}{p}" for p in READS]

    with writing(database[1], incident_id):
        # Far below SQLite's 30 s busy timeout: a read that waited for the lock fails here.
        answers = {
            path: httpx.get(f"{web.base}{path}", headers=BEARER, timeout=5) for path in paths
        }

    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(
        paths, 200
    )
    [listed] = answers["/api/incidents"].json()["incidents"]
    assert listed["title"] == answers[f"/api/incidents/{incident_id}"].json()["title"] == title
    assert title in answers[f"/api/incidents/{incident_id}/postmortem"].text
    assert answers["/api/stats"].json()["response_times"]["incidents"] == 1
