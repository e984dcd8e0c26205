"""Commands' echoes in the incident channel: one message each, or, when a burst of commands
queued up together, one message with a line each (Slack lets an app post about once per
second per channel)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from bot.incidents import effects
from bot.slack.runner import CommandJob, run_commands
from storage.db import transaction
from storage.models import Incident, OutboxOp
from tests.e2e.conftest import Service
from tests.e2e.test_faults import alertmanager, bot_messages
from tests.support.server import wait_until


def _echoes(service: Service, incident_id: int) -> list[OutboxOp]:
    with service.runtime.sessions() as session:
        ops = session.scalars(
            select(OutboxOp)
            .where(OutboxOp.incident_id == incident_id, OutboxOp.kind == effects.POST_MESSAGE)
            .order_by(OutboxOp.id)
        )
        return [op for op in ops if op.payload.get("actor") == "U0BOB"]


def _channel_with_card(service: Service, incident_id: int) -> str | None:
    with service.runtime.sessions() as session:
        incident = session.get(Incident, incident_id)
        return incident.channel_id if incident is not None and incident.card_ts else None


def test_a_burst_of_commands_is_echoed_in_one_message_and_a_lone_one_alone(
    service: Service,
) -> None:
    runtime = service.runtime
    answer = httpx.post(
        f"{service.url}/alerts/alertmanager", json=alertmanager(1, 1), headers=service.auth
    )
    incident = answer.json()["incidents"][0]["id"]
    channel = wait_until(lambda: _channel_with_card(service, incident), timeout=20)

    # Five commands committed together (as a burst shares a transaction) ...
    with transaction(runtime.sessions) as session:
        run_commands(
            runtime,
            session,
            [CommandJob(f"note burst {n}", "U0BOB", incident_id=incident) for n in range(5)],
        )
    runtime.wake_dispatcher()
    wait_until(lambda: all(op.state == "done" for op in _echoes(service, incident)), timeout=20)
    # ... then one on its own.
    with transaction(runtime.sessions) as session:
        run_commands(runtime, session, [CommandJob("note alone", "U0BOB", incident_id=incident)])
    runtime.wake_dispatcher()
    wait_until(
        lambda: (
            len(_echoes(service, incident)) == 6
            and all(op.state == "done" for op in _echoes(service, incident))
        ),
        timeout=20,
    )

    posted = [m["text"] for m in bot_messages(service, channel) if "U0BOB" in m["text"]]
    assert posted == [
        "\n".join(f"<@U0BOB>: Noted: burst {n}" for n in range(5)),
        "<@U0BOB>: Noted: alone",
    ]
    echoes = _echoes(service, incident)
    assert len({op.result["ts"] for op in echoes[:5]}) == 1
    assert echoes[5].result["ts"] != echoes[0].result["ts"]


def test_long_echoes_are_never_cut_and_split_into_several_messages(service: Service) -> None:
    runtime = service.runtime
    answer = httpx.post(
        f"{service.url}/alerts/alertmanager", json=alertmanager(2, 1), headers=service.auth
    )
    incident = answer.json()["incidents"][0]["id"]
    channel = wait_until(lambda: _channel_with_card(service, incident), timeout=20)
    notes = [f"{n} " + "x" * 1_800 + f" end of {n}" for n in range(6)]
    with transaction(runtime.sessions) as session:
        run_commands(
            runtime,
            session,
            [CommandJob(f"note {text}", "U0BOB", incident_id=incident) for text in notes],
        )
    runtime.wake_dispatcher()
    wait_until(
        lambda: (
            len(_echoes(service, incident)) == 6
            and all(op.state == "done" for op in _echoes(service, incident))
        ),
        timeout=20,
    )

    posted = [m["text"] for m in bot_messages(service, channel) if "U0BOB" in m["text"]]
    lines = [line.removeprefix("<@U0BOB>: Noted: ") for m in posted for line in m.splitlines()]
    assert lines == notes  # every note whole, in order
    assert 1 < len(posted) < len(notes)  # grouped, in more than one message
    assert all(len(text) < 5_000 for text in posted)
