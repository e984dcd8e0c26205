"""The workspace page at /sandbox: static files, the JSON it reads, its actions, live updates."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select

from bot.sandbox import surface
from bot.sandbox import tables as t
from bot.sandbox.composer import typed_message_text
from bot.sandbox.methods.history import ephemeral_messages, on_channel
from bot.sandbox.render import message_object, ts_key
from bot.sandbox.workspace import Sandbox

STATIC = {
    "index.html": "text/html; charset=utf-8",
    "sandbox.css": "text/css; charset=utf-8",
    "sandbox.js": "text/javascript; charset=utf-8",
    "mrkdwn.js": "text/javascript; charset=utf-8",
    "blocks.js": "text/javascript; charset=utf-8",
}
KEEPALIVE = 15.0
# Streams end now and then; EventSource reconnects by itself, so nothing piles up.
STREAM_LIFETIME = 300.0
NO_CACHE = {"Cache-Control": "no-cache"}


def _static(name: str) -> bytes:
    return resources.files("bot.sandbox").joinpath("static", name).read_bytes()


def page_state(sandbox: Sandbox, user: str) -> dict[str, Any]:
    """Everything the sidebar needs for one user: users, channels, open modal, home."""
    info = sandbox.info()
    me = next((u for u in info["users"] if user in (u["id"], u["name"])), None)
    if me is None:
        raise surface.NotFound("user_not_found")
    channels = [
        {
            "id": c["id"],
            "name": c["name"],
            "is_private": c["is_private"],
            "is_archived": c["is_archived"],
            "is_member": me["id"] in c["members"],
            "is_incident": c["name"].startswith("inc-"),
        }
        for c in info["channels"]
        if not c["name"].startswith("im-") and (not c["is_private"] or me["id"] in c["members"])
    ]
    views = surface.open_views(sandbox, me["id"])
    users = [{k: u[k] for k in ("id", "name", "real_name", "is_bot")} for u in info["users"]]
    return {
        "ok": True,
        "team": info["team"],
        "me": {k: me[k] for k in ("id", "name", "real_name")},
        "bot": {"id": info["bot"]["user_id"], "name": info["bot"]["name"]},
        "users": users,
        "channels": channels,
        "modal": views[-1] if views else None,
        "home": surface.home_view(sandbox, me["id"]),
    }


def channel_state(sandbox: Sandbox, channel: str, user: str) -> dict[str, Any]:
    """A channel as one user sees it: messages with their ephemerals, pins, members."""
    with sandbox.as_app() as call:
        row = surface.find_channel(call, channel)
        me = surface.find_user(call, user)
        query = select(t.messages).where(t.messages.c.channel_id == row["id"])
        rows = [m for m in call.conn.execute(query).mappings() if on_channel(m)]
        messages = [message_object(m) for m in rows]
        messages += [
            m for m in ephemeral_messages(call, row["id"]) if m["ephemeral_user"] == me["id"]
        ]
        members = call.member_ids(row["id"])
    messages.sort(key=lambda m: ts_key(m["ts"]))
    pins = [m for m in messages if m.get("pinned_to")]
    return {
        "ok": True,
        "channel": {
            "id": row["id"],
            "name": row["name"],
            "topic": row["topic"].get("value", ""),
            "purpose": row["purpose"].get("value", ""),
            "is_archived": bool(row["is_archived"]),
        },
        "is_member": me["id"] in members,
        "members": members,
        "messages": messages,
        "pins": pins,
    }


def add_ui_routes(router: APIRouter, sandbox: Sandbox) -> None:
    """Add the page's routes to the sandbox router (mounted with a prefix, e.g. /sandbox)."""

    @router.get("", include_in_schema=False)
    def bare(request: Request) -> Response:
        # The page uses relative URLs, which need the trailing slash.
        return RedirectResponse(request.url.path + "/")

    def note(request: Request) -> None:
        if sandbox.driver is not None:
            sandbox.driver.note_origin(str(request.base_url))

    @router.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        note(request)
        return Response(_static("index.html"), media_type=STATIC["index.html"], headers=NO_CACHE)

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            return Response("not found", status_code=404)
        return Response(_static(name), media_type=STATIC[name], headers=NO_CACHE)

    @router.get("/ui/state")
    def ui_state(user: str) -> JSONResponse:
        try:
            return JSONResponse(page_state(sandbox, user))
        except surface.NotFound as error:
            return JSONResponse({"ok": False, "error": error.error}, 404)

    @router.get("/ui/channel")
    def ui_channel(channel: str, user: str) -> JSONResponse:
        try:
            return JSONResponse(channel_state(sandbox, channel, user))
        except surface.NotFound as error:
            return JSONResponse({"ok": False, "error": error.error}, 404)

    async def as_user(
        request: Request, method: str, fields: tuple[str, ...], *, typed: str | None = None
    ) -> JSONResponse:
        note(request)
        body = json.loads(await request.body() or b"{}")
        try:
            token = sandbox.token_for(str(body.get("user", "")))
        except KeyError:
            return JSONResponse({"ok": False, "error": "user_not_found"}, 404)
        args = {name: body.get(name) for name in fields}
        if typed is not None and isinstance(args.get(typed), str):
            args[typed] = await run_in_threadpool(_typed, sandbox, token, args[typed])
        answer = await run_in_threadpool(sandbox.call, method, args, token=token)
        if answer.get("error") == "not_in_channel" and method == "chat.postMessage":
            # The page's composer joins a public channel first, as Slack's "Join" button does.
            join = {"channel": args["channel"]}
            await run_in_threadpool(sandbox.call, "conversations.join", join, token=token)
            answer = await run_in_threadpool(sandbox.call, method, args, token=token)
        return JSONResponse(answer)

    @router.post("/ui/post")
    async def ui_post(request: Request) -> JSONResponse:
        """The page's composer: the text goes out as Slack's client sends what a person
        types (escaped, `@name` and `#channel` as mentions)."""
        return await as_user(request, "chat.postMessage", ("channel", "text"), typed="text")

    @router.post("/ui/react")
    async def ui_react(request: Request) -> JSONResponse:
        return await as_user(request, "reactions.add", ("channel", "timestamp", "name"))

    @router.post("/ui/pin")
    async def ui_pin(request: Request) -> JSONResponse:
        return await as_user(request, "pins.add", ("channel", "timestamp"))

    @router.post("/ui/join")
    async def ui_join(request: Request) -> JSONResponse:
        return await as_user(request, "conversations.join", ("channel",))

    @router.get("/ui/events")
    async def ui_events(request: Request) -> StreamingResponse:
        """Server-Sent Events: one `change` per workspace event, for the page to refresh."""
        return StreamingResponse(
            _stream(sandbox, request),
            media_type="text/event-stream",
            headers={**NO_CACHE, "X-Accel-Buffering": "no"},
        )


def _typed(sandbox: Sandbox, token: str, text: str) -> str:
    with sandbox.as_app() as call:
        user_id = call.conn.execute(select(t.users.c.id).where(t.users.c.token == token)).scalar()
        return typed_message_text(call, text, user_id=user_id or "")


async def _stream(sandbox: Sandbox, request: Request) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    changes: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)

    def listener(event: dict[str, Any]) -> None:
        summary = {
            "type": event.get("type"),
            "channel": _channel_of(event),
            "user": event.get("user") if isinstance(event.get("user"), str) else None,
        }
        loop.call_soon_threadsafe(_offer, changes, summary)

    unsubscribe = sandbox.subscribe(listener)
    try:
        yield "retry: 1000\n\n"
        deadline = loop.time() + STREAM_LIFETIME
        while loop.time() < deadline and not await request.is_disconnected():
            try:
                change = await asyncio.wait_for(changes.get(), timeout=KEEPALIVE)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            yield f"event: change\ndata: {json.dumps(change)}\n\n"
    finally:
        unsubscribe()


def _offer(changes: asyncio.Queue[dict[str, Any]], change: dict[str, Any]) -> None:
    # A page that stopped reading only needs to know something changed; drop the rest.
    if not changes.full():
        changes.put_nowait(change)


def _channel_of(event: dict[str, Any]) -> str | None:
    for value in (event.get("channel"), event.get("channel_id"), event.get("item")):
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("channel"), str):
            return value["channel"]
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            return value["id"]
    return None
