"""A clean stop (SIGTERM) records the commands Slack was already told were received.

The ack goes out before a command is recorded; a deploy that stops the process in between
must not drop the command. The test holds SQLite's write lock so the command is certainly
still unrecorded when the stop begins, and lets go only once the process says it waits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine, select
from sqlmodel import Session

from storage.models import TimelineEvent
from tests.e2e.test_faults import alertmanager
from tests.support.process import child_env, cleanup, start_server
from tests.support.server import wait_until

TOKEN = "graceful-stop-token"


def _signed_command(secret: str, *, channel: str, text: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "command": "/incident",
            "text": text,
            "user_id": "U0ALICE",
            "user_name": "alice",
            "channel_id": channel,
            "team_id": "T0SANDBOX",
            "trigger_id": "graceful-stop-1",
            "response_url": "http://127.0.0.1:1/none",
        }
    ).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return body, headers


def _outbox_idle(url: str) -> bool:
    metrics = httpx.get(f"{url}/metrics").text
    depth = r'^warroom_outbox_depth\{state="(?:pending|running)"\} (\S+)$'
    waiting = re.findall(depth, metrics, re.MULTILINE)
    return bool(waiting) and all(float(value) == 0 for value in waiting)


def test_sigterm_records_a_command_acked_just_before(tmp_path: Path) -> None:
    db_path = tmp_path / "warroom.db"
    url = f"sqlite:///{db_path}"
    env = child_env(DATABASE_URL=url, WARROOM_ALERT_TOKEN=TOKEN)
    with cleanup() as servers:
        server = start_server("server", tmp_path, env=env)
        servers.append(server)
        (incident,) = server.post("/alerts/alertmanager", alertmanager(1, 1))["incidents"]
        channel = wait_until(
            lambda: server.get(f"/api/incidents/{incident['id']}")["channel_id"], timeout=20
        )
        # The incident's Slack work done first: the sandbox plays Slack in this very
        # process and would wait for the database too.
        wait_until(lambda: _outbox_idle(server.url), timeout=20)
        secret = server.sandbox("sandbox.info")["signing_secret"]

        # Another writer holds the database: the command cannot be stored, so it is not
        # acknowledged either; the answer waits for the lock.
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        answers: list[httpx.Response] = []
        body, headers = _signed_command(
            secret, channel=channel, text="note written just before the deploy"
        )
        sender = threading.Thread(
            target=lambda: answers.append(
                httpx.post(f"{server.url}/slack/events", content=body, headers=headers, timeout=20)
            )
        )
        try:
            sender.start()
            time.sleep(1.0)
            assert answers == [], "acknowledged before the command was stored"
        finally:
            blocker.rollback()
            blocker.close()
        sender.join(timeout=20)
        assert [answer.status_code for answer in answers] == [200]
        # Stopped the moment Slack has its answer: the command is recorded all the same.
        server.popen.send_signal(signal.SIGTERM)
        # uvicorn exits by the signal it caught, once its shutdown is complete.
        assert server.popen.wait(timeout=20) in (0, -signal.SIGTERM)

    engine = create_engine(url)
    with Session(engine) as session:
        notes = list(
            session.scalars(
                select(TimelineEvent.text).where(TimelineEvent.incident_id == incident["id"])
            )
        )
    engine.dispose()
    assert "written just before the deploy" in notes, notes
