"""Bolt listeners: check what Slack sent, store it, ack, carry it out after the ack."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.composition.runtime import Runtime
from bot.incidents.commands import JOINED, Command, CommandError, parse_command
from bot.incidents.overview import IncidentList
from bot.incidents.untrusted import clean_text
from bot.slack.after_ack import AfterAck
from bot.slack.blocks import declare_modal, note_modal
from bot.slack.errors import slack_error
from bot.slack.home import channels_of, dashboard, dashboard_view, join_notice
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.intake import DATABASE_DOWN, Intake
from bot.slack.modal_origin import ModalOrigin, unpack
from bot.slack.replies import said
from bot.slack.wire import plain_text
from bot.usecases.inbox import Inbound, PinRequest
from bot.usecases.run_command import CommandRequest
from storage.models import Incident

log = logging.getLogger(__name__)
PIN_REACTIONS = frozenset({"pushpin", "round_pushpin"})
TRIGGER_REFUSED = frozenset({"expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"})
TOO_LATE_FOR_MODAL = (
    ":hourglass: Slack gave warroom 3 seconds to open that form and they ran out. "
    "Nothing was recorded: please try again."
)
NO_INCIDENT = "This form lost track of its incident: close it and click Add note again."


def register(app: AsyncApp, runtime: Runtime, intake: Intake, *, later: AfterAck) -> None:
    """Attach every listener to the Bolt app.

    Each listener checks its input, stores the request (`intake.receive`) and only then
    acks: Slack is told "received" once a crash can no longer lose it. What comes after the
    ack goes to `later`, so the answer never waits on the domain or the Web API.
    """

    async def stored(ack: AsyncAck, inbound: Inbound) -> None:
        """Store, ack, and carry out after the ack; a database down is said in the ack."""
        try:
            kept = await intake.receive(inbound)
        except SQLAlchemyError as error:
            log.error("database error storing Slack request %s: %r", inbound.key, error)
            await ack(response_type="ephemeral", text=DATABASE_DOWN)
            return
        await ack()
        if kept is not None:  # None: a retry of a request stored already
            await later(intake.carry_out(kept))

    async def stored_event(inbound: Inbound) -> None:
        # Events are acked when the listener returns; raising (database down) makes Bolt
        # answer an error, and Slack sends the event again.
        kept = await intake.receive(inbound)
        if kept is not None:
            await later(intake.carry_out(kept))

    @app.command("/incident")
    async def handle_command_incident(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # Slack's text made plain once, here: the domain stores what the person typed.
        typed = plain_text(clean_text(body.get("text", "")))
        try:
            command = parse_command(typed.text)
        except CommandError as error:
            await ack(response_type="ephemeral", text=said(str(error)))
            return
        received_at = runtime.domain.clock.now()
        if command.verb == "declare" and not command.text:
            await ack()
            origin = ModalOrigin(
                channel=body.get("channel_id"), response_url=body.get("response_url")
            )
            await later(open_modal(client, body, declare_modal(origin)))
            return
        trigger = body.get("trigger_id")
        people = None
        if command.user in typed.people:
            # Picked from the list: Slack gave the id with the name (`<@U123|bob>`).
            user = typed.people[command.user]
            name = command.user.removeprefix("@")
            people = {user: name} if name != user else None
            command = replace(command, user=user)
        request = CommandRequest(
            command,
            user_id=body["user_id"],
            user_name=body.get("user_name"),
            channel_id=body.get("channel_id"),
            key=f"command:{trigger}" if trigger else None,
            people=people,
            received_at=received_at,
        )
        reply_to = {"response_url": body["response_url"]} if body.get("response_url") else {}
        await stored(ack, Inbound(_key(request.key), request, received_at, reply_to))

    async def button(ack: AsyncAck, body: dict[str, Any], verb: str) -> None:
        received_at = runtime.domain.clock.now()
        action = body["actions"][0]
        request = CommandRequest(
            Command(verb),
            user_id=body["user"]["id"],
            user_name=_user_name(body),
            incident_id=int(action["value"]),
            key=f"action:{body.get('trigger_id')}:{action['action_id']}",
            received_at=received_at,
        )
        reply_to = {"response_url": body["response_url"]} if body.get("response_url") else {}
        await stored(ack, Inbound(_key(request.key), request, received_at, reply_to))

    @app.action(ActionId.ACKNOWLEDGE)
    async def handle_action_acknowledge(ack: AsyncAck, body: dict[str, Any]) -> None:
        await button(ack, body, "ack")

    @app.action(ActionId.RESOLVE)
    async def handle_action_resolve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await button(ack, body, "resolve")

    @app.action(ActionId.REOPEN)
    async def handle_action_reopen(ack: AsyncAck, body: dict[str, Any]) -> None:
        await button(ack, body, "reopen")

    @app.action(ActionId.JOIN_CHANNEL)
    async def handle_action_join_channel(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # Nothing of ours changes (Slack keeps who is in a channel), so there is nothing to
        # store before the ack: a click lost to a crash is a click to make again.
        await ack()
        value = str(body["actions"][0].get("value") or "")
        if value.isdigit():
            await later(_join(client, body["user"]["id"], int(value)))

    @app.action(ActionId.ADD_NOTE)
    async def handle_action_add_note(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        origin = ModalOrigin(
            incident=int(body["actions"][0]["value"]), response_url=body.get("response_url")
        )
        await later(open_modal(client, body, note_modal(origin)))

    @app.view(CallbackId.NOTE)
    async def handle_view_note(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = _input(view, BlockId.NOTE).strip()
        if not text:
            await ack(response_action="errors", errors={BlockId.NOTE: "Write a note first"})
            return
        received_at = runtime.domain.clock.now()
        origin = unpack(view.get("private_metadata"))
        if origin.incident is None:
            await ack(response_action="errors", errors={BlockId.NOTE: NO_INCIDENT})
            return
        request = CommandRequest(
            Command("note", text=text),
            user_id=body["user"]["id"],
            user_name=_user_name(body),
            incident_id=origin.incident,
            key=f"view:{view.get('id')}",
            received_at=received_at,
        )
        reply_to = origin.reply_to(body["user"]["id"])
        await stored(ack, Inbound(_key(request.key), request, received_at, reply_to))

    @app.view(CallbackId.DECLARE)
    async def handle_view_declare(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        title = _input(view, BlockId.TITLE).strip()
        severity = _input(view, BlockId.SEVERITY) or "sev3"
        if not title:
            await ack(response_action="errors", errors={BlockId.TITLE: "Give the incident a title"})
            return
        received_at = runtime.domain.clock.now()
        user = body["user"]["id"]
        request = CommandRequest(
            Command("declare", text=title, severity=severity, private=_checked(view)),
            user_id=user,
            user_name=_user_name(body),
            key=f"view:{view.get('id')}",
            received_at=received_at,
        )
        reply_to = unpack(view.get("private_metadata")).reply_to(user)
        await stored(ack, Inbound(_key(request.key), request, received_at, reply_to))

    async def open_modal(client: AsyncWebClient, body: dict[str, Any], view: dict) -> None:
        """Open a modal on the trigger Slack sent; say so privately when it came too late.

        A trigger_id is good for 3 seconds and once (docs.slack.dev/reference/methods/
        views.open): a process that was busy past that gets `expired_trigger_id`, and
        without a word the user would see nothing happen.
        """
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as error:
            if slack_error(error) not in TRIGGER_REFUSED:
                raise
            log.warning("could not open a modal: %s", slack_error(error))
            reply_to = {"response_url": body["response_url"]} if body.get("response_url") else {}
            await intake.answer(reply_to, TOO_LATE_FOR_MODAL)

    @app.event("reaction_added")
    async def handle_event_reaction_added(body: dict[str, Any], event: dict[str, Any]) -> None:
        item = event.get("item", {})
        if event.get("reaction") not in PIN_REACTIONS or item.get("type") != "message":
            return
        if not item.get("channel") or not item.get("ts"):
            return
        pin = PinRequest(channel_id=item["channel"], ts=item["ts"], actor=event.get("user"))
        key = _event_key(body, f"reaction:{pin.channel_id}:{pin.ts}:{pin.actor}")
        await stored_event(Inbound(key, pin, runtime.domain.clock.now()))

    @app.event("pin_added")
    async def handle_event_pin_added(body: dict[str, Any], event: dict[str, Any]) -> None:
        item = event.get("item", {})
        message = item.get("message") or {}
        ts = message.get("ts") or item.get("ts")
        channel = item.get("channel") or event.get("channel_id")
        if not ts or not channel:
            return
        pin = PinRequest(
            channel_id=channel,
            ts=ts,
            actor=event.get("user"),
            # Slack's text as sent: the intake makes it plain, naming who it mentions.
            text=clean_text(message.get("text", "")),
            author=message.get("user"),
        )
        key = _event_key(body, f"pin:{channel}:{ts}:{pin.actor}")
        await stored_event(Inbound(key, pin, runtime.domain.clock.now()))

    @app.event("app_home_opened")
    async def handle_event_app_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        await later(_publish_home(client, event["user"]))

    async def _publish_home(
        client: AsyncWebClient,
        user: str,
        *,
        notice: str | None = None,
        channels: set[str] | None = None,
    ) -> None:
        if channels is None:
            channels = await channels_of(client, user)
        known = channels

        def read() -> IncidentList:
            with runtime.sessions() as session:
                return dashboard(session, runtime.domain.clock.now(), known)

        shown = await asyncio.to_thread(read)
        await client.views_publish(user_id=user, view=dashboard_view(shown, known, notice=notice))

    async def _join(client: AsyncWebClient, user: str, incident_id: int) -> None:
        """Invite the clicking user into the incident's channel, then redraw their Home
        saying how it went. A private incident's channel is never joined this way."""

        def read() -> tuple[str | None, bool]:
            with runtime.sessions() as session:
                incident = session.get(Incident, incident_id)
                return (incident.channel_id, incident.private) if incident else (None, False)

        channel, private = await asyncio.to_thread(read)
        channels = await channels_of(client, user)
        error: str | None = None
        if channel is None:
            pass
        elif channel in channels:
            error = "already_in_channel"
        elif private:
            # Only its members see its button, and they are in it: a click from anyone
            # else is forged or stale, and is told nothing of the incident.
            error = "private"
        else:
            try:
                await client.conversations_invite(channel=channel, users=user)
                channels = channels | {channel}
            except SlackApiError as exc:
                error = slack_error(exc)
        notice = join_notice(error, incident_id=incident_id, channel=channel)
        await _publish_home(client, user, notice=notice, channels=channels)

    @app.event("member_joined_channel")
    async def handle_event_member_joined_channel(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        # Joining is visible in Slack itself, so nothing is recorded; someone joining an
        # incident channel late is sent its catch-up privately (the domain decides whether,
        # once per person). The bot joins the channels it opens: it needs no catch-up.
        user, channel = event.get("user"), event.get("channel")
        if not user or not channel or user == context.bot_user_id:
            return
        received_at = runtime.domain.clock.now()
        request = CommandRequest(
            Command("catchup", target=JOINED),
            user_id=user,
            user_name=None,
            channel_id=channel,
            key=_event_key(body, f"join:{channel}:{user}:{event.get('event_ts')}"),
            received_at=received_at,
        )
        reply_to = {"channel": channel, "user": user}  # no response URL: an ephemeral post
        await stored_event(Inbound(request.key or "", request, received_at, reply_to))

    @app.event("message")
    async def handle_event_message() -> None:
        return


def _key(delivery: str | None) -> str:
    """The inbox key: the delivery's own, else one of its own (nothing to retry it by)."""
    return delivery or f"request:{uuid.uuid4().hex}"


def _event_key(body: dict[str, Any], fallback: str) -> str:
    # Slack sends a retried event with the same event_id.
    event_id = body.get("event_id")
    return f"event:{event_id}" if event_id else fallback


def _input(view: dict[str, Any], block_id: str) -> str:
    # Cleaned here, before it is stored: PostgreSQL refuses a NUL or a lone surrogate.
    value = view.get("state", {}).get("values", {}).get(block_id, {}).get("value", {})
    if "selected_option" in value:
        return clean_text((value.get("selected_option") or {}).get("value", ""))
    return clean_text(value.get("value") or "")


def _checked(view: dict[str, Any]) -> bool:
    """Whether the declare modal's Private incident box is ticked."""
    value = view.get("state", {}).get("values", {}).get(BlockId.PRIVACY, {}).get("value", {})
    return any(o.get("value") == "private" for o in value.get("selected_options") or [])


def _user_name(body: dict[str, Any]) -> str | None:
    user = body.get("user") or {}
    return user.get("username") or user.get("name")
