"""Bolt listeners: parse what Slack sent, ack fast, run the domain after the ack, reply."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.composition.runtime import Runtime
from bot.incidents.commands import Command, CommandError, parse_command
from bot.outbox.batching import GroupCommit
from bot.slack.after_ack import AfterAck
from bot.slack.blocks import declare_modal, home_view, note_modal
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.runner import (
    CommandJob,
    Reply,
    database_down,
    open_cards,
    run_commands,
    run_pin,
)

log = logging.getLogger(__name__)
PIN_REACTIONS = frozenset({"pushpin", "round_pushpin"})


async def _private(respond: AsyncRespond, text: str | None) -> None:
    if text:
        await respond(text=text, response_type="ephemeral", replace_original=False)


def register(
    app: AsyncApp, runtime: Runtime, *, later: AfterAck | None = None, linger: float = 0.0
) -> None:
    """Attach every listener to the Bolt app.

    `later` runs what comes after each ack (default: a task per request). `linger`: how long
    commands wait to share a transaction with the next ones (when Slack is answered at the
    ack, nobody waits on that).
    """
    later = later if later is not None else AfterAck()
    # Commands arriving together share a transaction on one writer thread: a burst costs
    # a commit and a thread wake-up per batch, not per command, and leaves the event loop
    # free to ack the next ones.
    batches: GroupCommit[CommandJob, Reply] = GroupCommit(
        runtime.sessions,
        lambda session, jobs: run_commands(runtime, session, jobs),
        linger=linger,
    )

    async def run(job: CommandJob) -> Reply:
        try:
            reply = await batches.submit(job)
        except SQLAlchemyError as error:
            return database_down(job, error)
        runtime.wake_dispatcher()
        return reply

    # Each listener checks its input and acks; everything after the ack goes to `later`,
    # so Slack's answer never waits on the database or the Web API.

    @app.command("/incident")
    async def handle_command_incident(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        try:
            command = parse_command(body.get("text", ""))
        except CommandError as error:
            await ack(response_type="ephemeral", text=str(error))
            return
        received_at = runtime.domain.clock.now()
        await ack()
        if command.verb == "declare" and not command.text:
            modal = declare_modal(body.get("channel_id"))
            await later(client.views_open(trigger_id=body["trigger_id"], view=modal))
            return
        await later(_command(command, body, respond, client, received_at))

    async def _command(
        command: Command,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        received_at: datetime,
    ) -> None:
        people = await _names(client, command.user)
        reply = await run(
            CommandJob(
                command,
                user_id=body["user_id"],
                user_name=body.get("user_name"),
                people=people,
                channel_id=body.get("channel_id"),
                key=f"command:{body.get('trigger_id')}" if body.get("trigger_id") else None,
                received_at=received_at,
            )
        )
        await _private(respond, reply.private)

    async def _button(
        body: dict[str, Any], respond: AsyncRespond, verb: str, received_at: datetime
    ) -> None:
        action = body["actions"][0]
        reply = await run(
            CommandJob(
                Command(verb),
                user_id=body["user"]["id"],
                user_name=_user_name(body),
                incident_id=int(action["value"]),
                key=f"action:{body.get('trigger_id')}:{action['action_id']}",
                received_at=received_at,
            )
        )
        await _private(respond, reply.private)

    @app.action(ActionId.ACKNOWLEDGE)
    async def handle_action_acknowledge(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        received_at = runtime.domain.clock.now()
        await ack()
        await later(_button(body, respond, "ack", received_at))

    @app.action(ActionId.RESOLVE)
    async def handle_action_resolve(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        received_at = runtime.domain.clock.now()
        await ack()
        await later(_button(body, respond, "resolve", received_at))

    @app.action(ActionId.ADD_NOTE)
    async def handle_action_add_note(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        incident_id = int(body["actions"][0]["value"])
        await later(client.views_open(trigger_id=body["trigger_id"], view=note_modal(incident_id)))

    @app.view(CallbackId.NOTE)
    async def handle_view_note(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = _input(view, BlockId.NOTE).strip()
        if not text:
            await ack(response_action="errors", errors={BlockId.NOTE: "Write a note first"})
            return
        await ack()
        job = CommandJob(
            Command("note", text=text),
            user_id=body["user"]["id"],
            user_name=_user_name(body),
            incident_id=int(view["private_metadata"]),
            key=f"view:{view.get('id')}",
            received_at=runtime.domain.clock.now(),
        )
        await later(run(job))

    @app.view(CallbackId.DECLARE)
    async def handle_view_declare(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        title = _input(view, BlockId.TITLE).strip()
        severity = _input(view, BlockId.SEVERITY) or "sev3"
        if not title:
            await ack(response_action="errors", errors={BlockId.TITLE: "Give the incident a title"})
            return
        received_at = runtime.domain.clock.now()
        await ack()
        await later(
            _declare(body, view, client, title=title, severity=severity, received_at=received_at)
        )

    async def _declare(
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        *,
        title: str,
        severity: str,
        received_at: datetime,
    ) -> None:
        user = body["user"]["id"]
        reply = await run(
            CommandJob(
                Command("declare", text=title, severity=severity),
                user_id=user,
                user_name=_user_name(body),
                key=f"view:{view.get('id')}",
                received_at=received_at,
            )
        )
        channel = view.get("private_metadata")
        if reply.private and channel:
            await client.chat_postEphemeral(channel=channel, user=user, text=reply.private)

    @app.event("reaction_added")
    async def handle_event_reaction_added(event: dict[str, Any], client: AsyncWebClient) -> None:
        item = event.get("item", {})
        if event.get("reaction") not in PIN_REACTIONS or item.get("type") != "message":
            return
        await later(_reaction_pin(event, client))

    async def _reaction_pin(event: dict[str, Any], client: AsyncWebClient) -> None:
        item = event["item"]
        response = await client.conversations_history(
            channel=item["channel"], latest=item["ts"], inclusive=True, limit=1
        )
        messages = response.get("messages", [])
        if not messages or messages[0].get("ts") != item["ts"]:
            response = await client.conversations_replies(
                channel=item["channel"], ts=item["ts"], limit=1
            )
            messages = response.get("messages", [])
        if not messages:
            return
        message = messages[0]
        await asyncio.to_thread(
            run_pin,
            runtime,
            channel_id=item["channel"],
            ts=item["ts"],
            text=message.get("text", ""),
            author=message.get("user"),
            actor=event.get("user"),
        )

    @app.event("pin_added")
    async def handle_event_pin_added(event: dict[str, Any]) -> None:
        item = event.get("item", {})
        message = item.get("message") or {}
        ts = message.get("ts") or item.get("ts")
        channel = item.get("channel") or event.get("channel_id")
        if not ts or not channel:
            return
        pin = asyncio.to_thread(
            run_pin,
            runtime,
            channel_id=channel,
            ts=ts,
            text=message.get("text", ""),
            author=message.get("user"),
            actor=event.get("user"),
        )
        await later(pin)

    @app.event("app_home_opened")
    async def handle_event_app_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        await later(_publish_home(client, event["user"]))

    async def _publish_home(client: AsyncWebClient, user: str) -> None:
        cards = await asyncio.to_thread(open_cards, runtime)
        await client.views_publish(user_id=user, view=home_view(cards, runtime.domain.tz))

    @app.event("member_joined_channel")
    async def handle_event_member_joined_channel() -> None:
        # Joining is visible in Slack itself; nothing to record.
        return

    @app.event("message")
    async def handle_event_message() -> None:
        return


def _input(view: dict[str, Any], block_id: str) -> str:
    value = view.get("state", {}).get("values", {}).get(block_id, {}).get("value", {})
    if "selected_option" in value:
        return (value.get("selected_option") or {}).get("value", "")
    return value.get("value") or ""


def _user_name(body: dict[str, Any]) -> str | None:
    user = body.get("user") or {}
    return user.get("username") or user.get("name")


async def _names(client: AsyncWebClient, user: str | None) -> dict[str, str]:
    """The display name of a person a command mentions (a role holder, an action owner)."""
    if not user or user.startswith("@"):
        return {}
    try:
        response = await client.users_info(user=user)
    except Exception:  # a name is a nicety: never fail the command for it
        log.info("could not look up %s", user, exc_info=True)
        return {}
    info = response.get("user") or {}
    name = info.get("name") or (info.get("profile") or {}).get("display_name")
    return {user: name} if name else {}
