"""The outbox routes of a postmortem's end: publish it (a file, the channel) and archive the
incident channel after it."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.effects import ArchiveChannel, Effect, PublishPostmortem
from bot.outbox.errors import GiveUp
from bot.outbox.routes import Attempt, Route
from bot.postmortem import current_draft
from bot.postmortem.figure_data import TimelineData, gather
from bot.slack.errors import slack_error, translated
from bot.slack.escape import escape
from bot.slack.incident_rows import IncidentRows
from bot.slack.limits import fit_text
from bot.slack.once import already_posted, answered, shares_file
from playbooks.slugs import slugify
from storage.models import Incident
from storage.postmortems import set_published_where

log = logging.getLogger(__name__)


def file_name(incident: Incident, tz: ZoneInfo) -> str:
    """`2026-12-05-trading-down.md`: the incident's opening day in `tz` and its title's slug,
    the same at every publish."""
    day = incident.created_at.astimezone(tz).date().isoformat()
    return f"{day}-{slugify(incident.title) or f'incident-{incident.id}'}.md"


def write_atomically(folder: Path, name: str, text: str) -> Path:
    """Write `text` to `folder/name` through a temporary file renamed over it, so a reader
    never sees half a postmortem; the folder is made if missing."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _incident_id(effect: Effect) -> int:
    if effect.incident_id is None:
        raise GiveUp(f"{effect.kind} names no incident")
    return effect.incident_id


class PostmortemPublishing:
    """Publish a postmortem (`postmortem.publish`) and archive its channel (`channel.archive`)."""

    def __init__(
        self,
        client: AsyncWebClient,
        sessions: sessionmaker[Session],
        *,
        tz: ZoneInfo,
        template_dir: Path | None,
        postmortem_dir: Path | None,
    ) -> None:
        self.client = client
        self.rows = IncidentRows(sessions)
        self.tz = tz
        self.template_dir = template_dir
        self.postmortem_dir = postmortem_dir
        self.routes: dict[type[Effect], Route[Any]] = {
            PublishPostmortem: Route(translated(PublishPostmortem.kind, self.publish)),
            ArchiveChannel: Route(translated(ArchiveChannel.kind, self.archive)),
        }

    async def publish(self, effect: PublishPostmortem, attempt: Attempt) -> dict[str, Any]:
        """Write the final Markdown (when a folder is set) and post it in the channel."""
        incident_id = _incident_id(effect)
        channel_id = await self.rows.channel(incident_id)

        def read(session: Session) -> tuple[Incident, str]:
            incident = session.get(Incident, incident_id)
            if incident is None:
                raise GiveUp(f"incident {incident_id} does not exist")
            # Always through current_draft: it keeps what the team edited.
            text = current_draft(session, incident_id, tz=self.tz, template_dir=self.template_dir)
            return incident, text

        incident, text = await self.rows.read(read)
        name = file_name(incident, self.tz)
        path = None
        if self.postmortem_dir is not None:
            figure = await self._write_figure(incident_id, name)
            if figure is not None:
                text = with_figure(text, figure)
            path = await _to_thread_write(self.postmortem_dir, name, text)
        where = (
            f"Written to `{escape(str(path))}`."
            if path is not None
            else "No file written: WARROOM_POSTMORTEM_DIR is not set."
        )
        found = await already_posted(self.client, channel_id, attempt, shares_file(name))
        if found is not None:
            file = next(f for f in found["files"] if f.get("name") == name)
        else:
            response = await answered(
                self.client,
                self.client.files_upload_v2(
                    channel=channel_id,
                    content=text,
                    filename=name,
                    title=fit_text(f"Postmortem (published): {incident.title}", 250),
                    initial_comment=fit_text(
                        f":white_check_mark: Published postmortem for incident "
                        f"#{incident_id} ({escape(incident.title)}). {where}"
                    ),
                ),
            )
            file = response.get("file") or (response.get("files") or [{}])[0]
        permalink = file.get("permalink")
        shown_path = str(path) if path is not None else None
        await self.rows.db(
            lambda s: set_published_where(
                session=s, incident_id=incident_id, path=shown_path, permalink=permalink
            )
        )
        return {"file_id": file.get("id"), "path": shown_path, "chars": len(text)}

    async def _write_figure(self, incident_id: int, name: str) -> str | None:
        """Draw the incident's timeline figure and write it beside the Markdown; the PNG's
        file name, or None if it could not be drawn (the postmortem is published without)."""
        assert self.postmortem_dir is not None
        folder, stem = self.postmortem_dir, name.removesuffix(".md")
        try:
            data = await self.rows.read(lambda session: gather(session, incident_id))
            # Importing matplotlib, drawing and writing are slow: a worker thread.
            return await asyncio.to_thread(_draw_and_write, data, self.tz, folder, stem)
        except Exception:
            log.exception("timeline figure of incident #%s not published", incident_id)
            return None

    async def archive(self, effect: ArchiveChannel, _attempt: Attempt) -> dict[str, Any]:
        """Archive the incident channel; one archived already (by hand) is left as it is."""
        channel_id = await self.rows.channel(_incident_id(effect))
        try:
            await self.client.conversations_archive(channel=channel_id)
        except SlackApiError as error:
            if slack_error(error) == "already_archived":
                return {"archived": False, "already": True}
            raise
        return {"archived": True}


def with_figure(text: str, image: str) -> str:
    """The Markdown with the timeline figure embedded under its title (the first line)."""
    title, newline, rest = text.partition("\n")
    embed = f"![Timeline of the incident]({image})\n"
    if title.startswith("# "):
        return f"{title}{newline}\n{embed}{rest}"
    return f"{embed}\n{text}"


def write_figure(folder: Path, stem: str, svg: bytes, png: bytes) -> str:
    """Write the figure as `<stem>.svg` and `<stem>.png` beside the Markdown, each through
    a temporary file renamed over it; return the PNG's name for the Markdown to embed."""
    for suffix, content in ((".svg", svg), (".png", png)):
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{stem}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, folder / f"{stem}{suffix}")
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return f"{stem}.png"


def _draw_and_write(data: TimelineData, tz: ZoneInfo, folder: Path, stem: str) -> str:
    from bot.postmortem.figure import timeline_figure  # matplotlib: imported on first use

    svg, png = timeline_figure(data, tz)
    return write_figure(folder, stem, svg, png)


async def _to_thread_write(folder: Path, name: str, text: str) -> Path:
    # File I/O (and fsync) off the event loop.
    return await asyncio.to_thread(write_atomically, folder, name, text)
