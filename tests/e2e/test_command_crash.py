"""`kill -9` right after a burst of acknowledged slash commands: after a restart every
command Slack was answered for is in the timeline, exactly once (Slack never resends an
acknowledged command)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, select
from sqlmodel import Session

from storage.models import InboxRequest, TimelineEvent
from tests.e2e.test_faults import alertmanager
from tests.support.process import ServerProcess, child_env, cleanup, start_server
from tests.support.server import wait_until

TOKEN = "command-crash-token"
COMMANDS = 240
CONNECTIONS = 20
KILL_AFTER = 80  # acknowledged commands before the kill


def _signed(info: dict, channel: dict, text: str, number: int) -> tuple[bytes, dict[str, str]]:
    """A `/incident` command as Slack delivers it: form-encoded and signed (v0)."""
    user = next(u for u in info["users"] if not u.get("is_bot"))
    form = {
        "team_id": info["team"]["id"],
        "channel_id": channel["id"],
        "channel_name": channel["name"],
        "user_id": user["id"],
        "user_name": user["name"],
        "command": "/incident",
        "text": text,
        "api_app_id": info["bot"]["app_id"],
        "response_url": f"http://127.0.0.1:9/response/{number}",  # nobody listens: no reply
        "trigger_id": f"{number}.{secrets.token_hex(8)}",
    }
    body = urlencode(form).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(
        info["signing_secret"].encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def _burst(server: ServerProcess, channel: dict) -> set[int]:
    """Send COMMANDS notes over CONNECTIONS connections, killing the server at the
    KILL_AFTER-th ack; return the numbers Slack would have seen acknowledged."""
    info = server.sandbox("sandbox.info")
    acked: set[int] = set()
    lock = threading.Lock()
    local = threading.local()

    def send(n: int) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(timeout=10, base_url=server.url)
        body, headers = _signed(info, channel, f"note crash note {n}", n)
        try:
            answer = local.http.post("/slack/events", content=body, headers=headers)
        except httpx.HTTPError:
            return  # died under this request: Slack saw no ack, the responder an error
        # An ack is a 200 with no text: a text would be an error shown to the responder.
        if answer.status_code == 200 and not answer.content:
            with lock:
                acked.add(n)
                if len(acked) == KILL_AFTER:
                    server.kill()

    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        list(pool.map(send, range(COMMANDS)))
    return acked


def _notes(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        texts = session.scalars(select(TimelineEvent.text).where(TimelineEvent.kind == "note"))
        return Counter(texts)


def _left_in_inbox(engine: Engine) -> int:
    with Session(engine) as session:
        left = session.scalars(select(InboxRequest.id).where(InboxRequest.done_at.is_(None)))
        return len(left.all())


def test_kill_9_after_acknowledged_commands_loses_none_and_records_none_twice(
    database: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, url = database
    env = child_env(DATABASE_URL=url, WARROOM_ALERT_TOKEN=TOKEN)
    with cleanup() as servers:
        first = start_server("first", tmp_path, env=env)
        servers.append(first)
        opened = first.post("/alerts/alertmanager", alertmanager(0, 0))
        incident_id = opened["incidents"][0]["id"]
        channel_id = wait_until(
            lambda: first.get(f"/api/incidents/{incident_id}")["channel_id"], timeout=20
        )
        channel = {
            "id": channel_id,
            "name": first.get(f"/api/incidents/{incident_id}")["channel_name"],
        }

        acked = _burst(first, channel)
        assert not first.alive
        assert KILL_AFTER <= len(acked) < COMMANDS, "the kill did not land mid-burst"
        # The kill caught acknowledged commands before they were carried out: without the
        # inbox these would be the lost ones.
        assert _left_in_inbox(engine) > 0, "nothing was left between ack and record"

        second = start_server("second", tmp_path, env=env)
        servers.append(second)
        expected = {f"crash note {n}" for n in acked}
        wait_until(lambda: expected <= set(_notes(engine)), timeout=60, interval=0.25)
        wait_until(lambda: _left_in_inbox(engine) == 0, timeout=30, interval=0.25)
        notes = _notes(engine)
        twice = {text: count for text, count in notes.items() if count > 1}
        assert twice == {}, f"recorded more than once: {twice}"
        assert expected <= set(notes)
