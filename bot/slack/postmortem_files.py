"""A postmortem edited outside Slack and shared back as a Markdown file: kept as the team's.

Slack sends `file_shared` for every file shared in a channel the bot is in. A file counts
as an edited postmortem when it is shared in an incident's channel and named like the
draft warroom posted (`postmortem-incident-<id>.md`, or a copy such as
`postmortem-incident-<id> (1).md`); any other file is left alone. The bot reads it with
`files.info` and `url_private_download` (its token, scope `files:read`).

Acknowledged means durable: the file is fetched and the edit committed before the listener
returns, which is when Bolt answers Slack; a failure raises, Slack sends the event again,
and the delivery key (the file id) keeps a retry from saving it twice. A file that cannot
be a postmortem (too large, not UTF-8 text, NUL) is refused with a message, nothing saved.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import col, select

from bot.composition.runtime import Runtime
from bot.postmortem.saved import MAX_CHARS, AlreadySaved, EditRefused, NoDraft, save_edit
from bot.slack.after_ack import AfterAck
from bot.slack.escape import escape
from storage.db import transaction
from storage.models import Incident

log = logging.getLogger(__name__)

MAX_BYTES = 4 * MAX_CHARS  # UTF-8 takes at most four bytes a character
SAVED = "Postmortem edits saved from {name}; `/incident postmortem` keeps them."
NOT_SAVED = "Nothing was saved: {why}"
DOWNLOAD_TIMEOUT = 2.0  # seconds: Slack waits 3 s for the answer


def draft_name(incident_id: int) -> re.Pattern[str]:
    """File names taken as the incident's edited draft: the posted one, or a copy of it."""
    return re.compile(rf"postmortem-incident-{incident_id}(?: ?\(\d+\))?\.md", re.I)


@dataclass(frozen=True)
class Shared:
    """A file shared in an incident channel, as files.info describes it."""

    incident_id: int
    channel: str
    user: str | None
    file_id: str
    name: str
    thread_ts: str | None


def register_postmortem_files(app: AsyncApp, runtime: Runtime, *, later: AfterAck) -> None:
    """Listen for edited postmortems shared in incident channels."""

    @app.event("file_shared")
    async def handle_event_file_shared(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        channel = event.get("channel_id")
        file_id = event.get("file_id") or (event.get("file") or {}).get("id")
        user = event.get("user_id")
        if not channel or not file_id or user == context.bot_user_id:
            return  # the bot's own upload of the draft, or not a channel share
        incident_id = await asyncio.to_thread(_incident_of, runtime, channel)
        if incident_id is None:
            return
        info: dict[str, Any] = (await client.files_info(file=file_id))["file"]
        name = str(info.get("name") or "")
        if not draft_name(incident_id).fullmatch(name) or info.get("bot_id"):
            return
        shared = Shared(incident_id, channel, user, file_id, name, _thread(info, channel))
        text, why = await _download(client, info)
        if why is None:
            why, sections = await asyncio.to_thread(_save, runtime, shared, text)
            if why is None:
                await later(_tell_saved(client, shared, sections))
                return
        if why:
            await later(_tell_refused(client, shared, why))


def _incident_of(runtime: Runtime, channel: str) -> int | None:
    with transaction(runtime.sessions) as session:
        found = select(col(Incident.id)).where(col(Incident.channel_id) == channel)
        return session.exec(found).first()


def _thread(info: dict[str, Any], channel: str) -> str | None:
    """The thread the file was shared into in `channel`, if it was a reply."""
    for scope in ("public", "private"):
        for share in ((info.get("shares") or {}).get(scope) or {}).get(channel) or []:
            if share.get("thread_ts"):
                return str(share["thread_ts"])
    return None


async def _download(client: AsyncWebClient, info: dict[str, Any]) -> tuple[str, str | None]:
    """The file's text, or ("", why it cannot be a postmortem). A failed download raises:
    Slack then sends the event again."""
    name = info.get("name", "the file")
    size = int(info.get("size") or 0)
    if size > MAX_BYTES:
        return "", f"{name} is {size} bytes; a postmortem file can be at most {MAX_BYTES}."
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        return "", f"Slack gives no download link for {name}."
    headers = {"Authorization": f"Bearer {client.token}"}
    async with (
        httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT) as http,
        http.stream("GET", url, headers=headers) as response,
    ):
        response.raise_for_status()
        if response.headers.get("content-type", "").startswith("text/html"):
            # Slack answers a login page, not the file, when the token may not read it.
            return "", f"warroom may not read {name} (is the files:read scope granted?)."
        data = b""
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > MAX_BYTES:
                return "", f"{name} is larger than {MAX_BYTES} bytes."
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return "", f"{name} is not UTF-8 text: share the Markdown file itself."


def _save(runtime: Runtime, shared: Shared, text: str) -> tuple[str | None, tuple[str, ...]]:
    """Keep the edit; (None, sections changed), else (why not, ()); "" for a retry."""
    try:
        with transaction(runtime.sessions) as session:
            sections = save_edit(
                session,
                shared.incident_id,
                text,
                by=shared.user,
                via="slack_file",
                now=runtime.domain.clock.now(),
                tz=runtime.domain.tz,
                template_dir=runtime.settings.template_dir,
                name=shared.name,
                key=f"postmortem-file:{shared.file_id}",
            )
    except AlreadySaved:
        return "", ()
    except NoDraft:
        return (
            f"incident #{shared.incident_id} is not resolved, so it has no postmortem to edit yet.",
            (),
        )
    except EditRefused as error:
        return f"{shared.name}: {error}.", ()
    return None, sections


async def _tell_saved(client: AsyncWebClient, shared: Shared, sections: tuple[str, ...]) -> None:
    text = SAVED.format(name=escape(shared.name))
    if sections:
        text += f" Edited: {escape(', '.join(sections))}."
    try:
        await client.chat_postMessage(channel=shared.channel, text=text, thread_ts=shared.thread_ts)
    except Exception:  # saved either way; the answer is a courtesy
        log.info("could not say the postmortem edit was saved", exc_info=True)


async def _tell_refused(client: AsyncWebClient, shared: Shared, why: str) -> None:
    text = NOT_SAVED.format(why=escape(why))
    try:
        if shared.user:
            await client.chat_postEphemeral(channel=shared.channel, user=shared.user, text=text)
        else:
            await client.chat_postMessage(
                channel=shared.channel, text=text, thread_ts=shared.thread_ts
            )
    except Exception:
        log.info("could not say the postmortem file was refused", exc_info=True)
