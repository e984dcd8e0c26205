"""Commands' echoes in the incident channel: one message each, or, when a burst of commands
queued up together, one message with a line each (Slack lets an app post about once per
second per channel)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from bot.incidents import effects
from bot.usecases.run_command import CommandRequest, run_commands
from storage.models import Incident, OutboxOp
from storage.unit_of_work import unit_of_work
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


def _incident_with_channel(service: Service, group: int) -> tuple[int, str]:
    """An incident opened by alert, once its channel and card are there."""
    answer = httpx.post(
        f"{service.url}/alerts/alertmanager", json=alertmanager(group, 1), headers=service.auth
    )
    incident = answer.json()["incidents"][0]["id"]
    return incident, wait_until(lambda: _channel_with_card(service, incident), timeout=20)


def _commands_together(service: Service, incident_id: int, texts: list[str]) -> None:
    """Commit these commands in one transaction (as a burst shares one), then wait until
    every echo of the incident is posted."""
    runtime = service.runtime
    with unit_of_work(runtime.sessions) as uow:
        requests = [CommandRequest(text, "U0BOB", incident_id=incident_id) for text in texts]
        run_commands(uow, runtime.domain, requests)
    runtime.wake_dispatcher()
    # Committed above, so every echo is in the outbox already: wait for them to be posted.
    wait_until(lambda: all(op.state == "done" for op in _echoes(service, incident_id)), timeout=20)


def test_a_burst_of_commands_is_echoed_in_one_message_and_a_lone_one_alone(
    service: Service,
) -> None:
    incident, channel = _incident_with_channel(service, 1)

    _commands_together(service, incident, [f"note burst {n}" for n in range(5)])
    _commands_together(service, incident, ["note alone"])

    posted = [m["text"] for m in bot_messages(service, channel) if "U0BOB" in m["text"]]
    assert posted == [
        "\n".join(f"<@U0BOB>: Noted: burst {n}" for n in range(5)),
        "<@U0BOB>: Noted: alone",
    ]
    echoes = _echoes(service, incident)
    assert len({op.result["ts"] for op in echoes[:5]}) == 1
    assert echoes[5].result["ts"] != echoes[0].result["ts"]


def test_long_echoes_are_never_cut_and_split_into_several_messages(service: Service) -> None:
    incident, channel = _incident_with_channel(service, 2)
    notes = [f"{n} " + "x" * 1_800 + f" end of {n}" for n in range(6)]

    _commands_together(service, incident, [f"note {text}" for text in notes])

    posted = [m["text"] for m in bot_messages(service, channel) if "U0BOB" in m["text"]]
    lines = [line.removeprefix("<@U0BOB>: Noted: ") for m in posted for line in m.splitlines()]
    assert lines == notes  # every note whole, in order
    assert 1 < len(posted) < len(notes)  # grouped, in more than one message
    assert all(len(text) < 5_000 for text in posted)
