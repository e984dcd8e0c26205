"""Use case: keep what a sender was told we received, then carry it out exactly once.

A request is stored (`accept`) before its sender gets an answer; it is carried out later
(`carry_out`) in a transaction that also marks it done, so a crash in between leaves it to
be carried out after the restart, and two workers never both carry it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.incidents.commands import Command
from bot.incidents.context import Domain
from bot.incidents.service import DuplicateDelivery, record_pin
from bot.usecases.run_command import BatchRefused, CommandRequest, Reply, run_commands
from storage import inbox
from storage.inbox import Accepted
from storage.models import InboxRequest
from storage.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class PinRequest:
    """A message pinned (or marked with a 📌 reaction) in a channel.

    `text` None: a reaction, whose message the adapter still has to look up. Stored as the
    transport sent it; the adapter hands it on as plain text before it is carried out.
    """

    channel_id: str
    ts: str
    actor: str | None
    text: str | None = None
    author: str | None = None


Request = CommandRequest | PinRequest


@dataclass(frozen=True)
class Inbound:
    """One request as received: its delivery key, what it asks, and where an answer goes
    (`reply_to`: the transport's own routing, e.g. a Slack response URL)."""

    key: str
    request: Request
    received_at: datetime
    reply_to: dict[str, Any] = field(default_factory=dict)
    id: int | None = None  # the inbox row, once stored


def accept(uow: UnitOfWork, inbounds: list[Inbound]) -> list[Accepted]:
    """Store requests before they are answered; a retried delivery is found, not stored."""
    return inbox.accept(uow.session, [_encode(inbound) for inbound in inbounds])


def carry_out(
    uow: UnitOfWork, domain: Domain, items: list[tuple[int, Request | None]]
) -> list[Reply]:
    """Carry out stored requests and mark them done, in one unit of work; one reply each.

    A request None is marked done with nothing to do (a pinned message that is gone).
    Raises BatchRefused for several requests when one of them is carried out already or
    refused: roll back and carry each out alone.
    """
    done = inbox.finish(uow.session, [inbox_id for inbox_id, _ in items], domain.clock.now())
    if done < len(items):
        if len(items) > 1:
            raise BatchRefused("a request of this batch was carried out meanwhile")
        return [Reply(None)]  # another worker carried it out
    replies: list[Reply] = [Reply(None)] * len(items)
    commands = [(n, r) for n, (_, r) in enumerate(items) if isinstance(r, CommandRequest)]
    if commands:
        answered = run_commands(uow, domain, [request for _, request in commands])
        for (n, _), reply in zip(commands, answered, strict=True):
            replies[n] = reply
    for _, request in items:
        if isinstance(request, PinRequest) and request.text is not None:
            _pin(uow, domain, request)
    return replies


def _pin(uow: UnitOfWork, domain: Domain, pin: PinRequest) -> None:
    incident = uow.incident_for_channel(pin.channel_id)
    if incident is None:
        return
    try:
        with uow.savepoint():
            record_pin(
                uow,
                domain,
                incident,
                text=pin.text or "",
                author=pin.author,
                at=datetime.fromtimestamp(float(pin.ts), UTC),
                actor=pin.actor,
                key=f"pin:{pin.channel_id}:{pin.ts}",
            )
    except (DuplicateDelivery, IntegrityError):
        pass  # pinned and reacted to at once: the other one recorded it


def decode(row: InboxRequest) -> Inbound:
    """The request a stored row holds."""
    assert row.id is not None
    payload = row.payload
    request: Request
    if row.kind == "pin":
        request = PinRequest(**payload["pin"])
    else:
        fields = dict(payload["command"])
        command = fields.pop("command")
        request = CommandRequest(
            Command(**command) if isinstance(command, dict) else str(command),
            **fields,
            received_at=row.received_at,
        )
    return Inbound(row.key, request, row.received_at, payload.get("reply_to") or {}, row.id)


def _encode(inbound: Inbound) -> tuple[str, str, dict[str, Any], datetime]:
    request = inbound.request
    if isinstance(request, PinRequest):
        body: dict[str, Any] = {"pin": _fields(request)}
        kind = "pin"
    else:
        fields = _fields(request)
        del fields["received_at"]  # the row's own column
        if isinstance(request.command, Command):
            fields["command"] = _fields(request.command)
        body = {"command": fields}
        kind = "command"
    return inbound.key, kind, {**body, "reply_to": inbound.reply_to}, inbound.received_at


def _fields(instance: Any) -> dict[str, Any]:
    # Shallow, unlike dataclasses.asdict, which deep-copies every value: on the ack's path.
    return {name: getattr(instance, name) for name in type(instance).__dataclass_fields__}


__all__ = ["Accepted", "BatchRefused", "Inbound", "PinRequest", "Request", "accept", "carry_out"]
