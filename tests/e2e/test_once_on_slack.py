"""At most once on Slack: an outbox operation retried after an ambiguous failure (Slack
posted, but the answer came after the client's timeout; the process died between Slack's
answer and its record) does not post a second message. Counted in the sandbox's messages,
not its calls, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from bot.incidents import effects
from bot.slack import wiring
from storage import outbox
from storage.models import Incident, OutboxOp
from tests.e2e.conftest import Service, serving
from tests.e2e.test_echoes import _commands_together, _echoes, _incident_with_channel
from tests.e2e.test_faults import alertmanager, bot_messages
from tests.support.commands import run_command
from tests.support.process import ServerProcess, child_env, cleanup, start_server
from tests.support.server import wait_until

CLIENT_TIMEOUT = 1  # seconds the service waits for Slack's answer (15 in production)


@pytest.fixture
def impatient(database: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """warroom whose Web API client gives up after CLIENT_TIMEOUT seconds."""
    monkeypatch.setattr(wiring, "WEB_API_TIMEOUT", CLIENT_TIMEOUT)
    with serving(database[1]) as running:
        yield running


def _noted(service: Service, channel: str) -> Counter[str]:
    """How many times each note's echo line is in the channel's messages."""
    lines = [line for m in bot_messages(service, channel) for line in m["text"].splitlines()]
    return Counter(line.rsplit("Noted: ", 1)[-1] for line in lines if "Noted: " in line)


@pytest.mark.parametrize("mode", ["late", "slow"])
def test_echoes_answered_after_the_client_timed_out_are_posted_once(
    impatient: Service, mode: str
) -> None:
    service = impatient
    incident, channel = _incident_with_channel(service, 1)
    # Every post of the echoes below times out in the client: carried out at once and
    # answered too late (late), or carried out only after the client gave up (slow).
    service.sandbox.faults(mode, count=40, delay=CLIENT_TIMEOUT + 0.5, methods=["chat.postMessage"])

    singles = [f"alone {n}" for n in range(4)]
    for text in singles:
        _commands_together(service, incident, [f"note {text}"])
    burst = [f"burst {n}" for n in range(5)]  # one op each, posted as one message
    _commands_together(service, incident, [f"note {text}" for text in burst])
    service.sandbox.clear_faults()

    assert _noted(service, channel) == Counter(singles + burst)  # each exactly once
    echoes = _echoes(service, incident)
    assert all(op.state == "done" for op in echoes)
    # The retries found what the timed-out calls had posted, and adopted it.
    assert all(op.result.get("found") for op in echoes), [op.result for op in echoes]
    assert len({op.result["ts"] for op in echoes[len(singles) :]}) == 1  # the burst's message
    tagged = [m for m in bot_messages(service, channel) if "Noted: " in m["text"]]
    assert all(m["metadata"]["event_type"] == "warroom_outbox_op" for m in tagged)


def test_an_announcement_answered_too_late_is_posted_once(impatient: Service) -> None:
    service = impatient
    # Every post of a new incident (its card, its announcement, its checklist) is answered
    # too late at first: the card is found again by its block id, the rest by metadata.
    service.sandbox.faults(
        "late", count=10, delay=CLIENT_TIMEOUT + 1.5, methods=["chat.postMessage"]
    )
    answer = httpx.post(
        f"{service.url}/alerts/alertmanager", json=alertmanager(2, 1), headers=service.auth
    )
    assert answer.status_code == 202

    def settled() -> bool:
        with service.runtime.sessions() as session:
            return outbox.pending_count(session=session) == 0

    wait_until(settled, timeout=30, interval=0.2)
    announcements = bot_messages(service, "incidents")
    assert len(announcements) == 1, announcements
    with service.runtime.sessions() as session:
        broadcasts = list(
            session.scalars(select(OutboxOp).where(OutboxOp.kind == effects.BROADCAST))
        )
    assert [op.state for op in broadcasts] == ["done"]
    assert broadcasts[0].result == {
        "ts": announcements[0]["ts"],
        "channel_id": service.sandbox.channel_id("incidents"),
        "found": True,
    }


def test_a_postmortem_upload_answered_too_late_is_shared_once(impatient: Service) -> None:
    service = impatient
    incident, channel = _incident_with_channel(service, 4)
    # files_upload_v2's last step shares the file in the channel; its answer comes too late.
    service.sandbox.faults(
        "late", count=1, delay=CLIENT_TIMEOUT + 1.5, methods=["files.completeUploadExternal"]
    )
    run_command(service.runtime, "resolve fixed", user_id="U0ALICE", incident_id=incident)

    def postmortem_done() -> OutboxOp | None:
        with service.runtime.sessions() as session:
            op = session.scalars(
                select(OutboxOp).where(
                    OutboxOp.incident_id == incident, OutboxOp.kind == effects.POST_POSTMORTEM
                )
            ).first()
            return op if op is not None and op.state == "done" else None

    done = wait_until(postmortem_done, timeout=30)
    shared = {
        f["name"]: f["id"] for m in bot_messages(service, channel) for f in m.get("files") or []
    }
    files = [f["name"] for m in bot_messages(service, channel) for f in m.get("files") or []]
    # The draft once (found by the retry, not shared again), and its timeline figure, which
    # the first attempt never reached: uploaded by the retry.
    draft, figure = (
        f"postmortem-incident-{incident}.md",
        f"postmortem-incident-{incident}-timeline.png",
    )
    assert sorted(files) == sorted([draft, figure])
    assert done.result == {"file_id": shared[draft], "found": True, "figure_id": shared[figure]}


TOKEN = "once-alert-token"


def _echo_op(engine: Engine, incident_id: int, text: str) -> OutboxOp | None:
    with Session(engine) as session:
        ops = session.scalars(
            select(OutboxOp).where(
                OutboxOp.incident_id == incident_id, OutboxOp.kind == effects.POST_MESSAGE
            )
        )
        return next((op for op in ops if text in (op.payload.get("text") or "")), None)


def test_kill_9_between_slacks_answer_and_its_record_posts_the_echo_once(
    database: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, url = database
    env = child_env(DATABASE_URL=url, WARROOM_ALERT_TOKEN=TOKEN)
    with cleanup() as servers:
        first = start_server("first", tmp_path, env=env)
        servers.append(first)
        opened = first.post("/alerts/alertmanager", alertmanager(3, 1))
        incident_id = opened["incidents"][0]["id"]

        def with_card() -> Incident | None:
            with Session(engine) as session:
                row = session.get(Incident, incident_id)
                return row if row is not None and row.card_ts else None

        channel_id = wait_until(with_card, timeout=20).channel_id
        name = first.sandbox("sandbox.channel", channel=channel_id)["channel"]["name"]
        # Slack stores the echo, then the process dies before the answer comes.
        first.post(
            "/sandbox/api/sandbox.faults",
            {"mode": "late", "delay": 120, "count": 1, "methods": ["chat.postMessage"]},
        )
        first.command("/incident note posted before the crash", channel=name)

        def echoes(server: ServerProcess) -> list[dict]:
            found = server.sandbox("sandbox.messages", channel=channel_id)["messages"]
            return [m for m in found if "posted before the crash" in m.get("text", "")]

        wait_until(lambda: echoes(first), timeout=20)
        first.kill()
        op = _echo_op(engine, incident_id, "posted before the crash")
        assert op is not None and op.state == "running"  # the crash came before the record

        second = start_server("second", tmp_path, env=env)
        servers.append(second)
        # SQLite: reclaimed at start; PostgreSQL: once the dead process's lease runs out.
        done = wait_until(
            lambda: (
                (row := _echo_op(engine, incident_id, "posted before the crash"))
                and row.state == "done"
                and row
            ),
            timeout=40,
        )
        posted = echoes(second)
        assert len(posted) == 1, posted
        assert done.result == {"ts": posted[0]["ts"], "found": True}


def test_kill_9_after_a_burst_of_echoes_was_posted_posts_each_echo_once(
    database: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, url = database
    env = child_env(DATABASE_URL=url, WARROOM_ALERT_TOKEN=TOKEN)
    notes = [f"burst note {n}" for n in range(4)]
    with cleanup() as servers:
        first = start_server("first", tmp_path, env=env)
        servers.append(first)
        incident_id = first.post("/alerts/alertmanager", alertmanager(5, 1))["incidents"][0]["id"]

        def channel_with_card() -> str | None:
            with Session(engine) as session:
                row = session.get(Incident, incident_id)
                return row.channel_id if row is not None and row.card_ts else None

        channel_id = wait_until(channel_with_card, timeout=20)
        name = first.sandbox("sandbox.channel", channel=channel_id)["channel"]["name"]
        first.post(
            "/sandbox/api/sandbox.faults",
            {"mode": "late", "delay": 120, "count": 1, "methods": ["chat.postMessage"]},
        )
        # Commands arriving together are carried out together: their echoes queue up in one
        # chain and go out as one message, the one whose answer never comes.
        with ThreadPoolExecutor(max_workers=len(notes)) as pool:
            list(
                pool.map(lambda text: first.command(f"/incident note {text}", channel=name), notes)
            )

        def noted(server: ServerProcess) -> Counter[str]:
            found = server.sandbox("sandbox.messages", channel=channel_id)["messages"]
            lines = [line for m in found for line in m.get("text", "").splitlines()]
            return Counter(line.rsplit("Noted: ", 1)[-1] for line in lines if "Noted: " in line)

        wait_until(lambda: noted(first), timeout=20)
        first.kill()
        with Session(engine) as session:
            states = Counter(
                op.state
                for op in session.scalars(
                    select(OutboxOp).where(OutboxOp.kind == effects.POST_MESSAGE)
                )
            )
        assert states["running"] >= 1, states  # the crash came before the record

        second = start_server("second", tmp_path, env=env)
        servers.append(second)

        def all_done() -> bool:
            with Session(engine) as session:
                return outbox.pending_count(session=session) == 0

        wait_until(all_done, timeout=40, interval=0.25)
        assert noted(second) == Counter(notes)
