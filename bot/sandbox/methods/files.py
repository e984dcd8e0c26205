"""files.*: the two-step external upload (files_upload_v2) with content kept for download."""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, RowMapping, select

from bot.sandbox import tables as t
from bot.sandbox.base import Args, Call, SlackError, missing, new_id
from bot.sandbox.methods.chat import writable_target
from bot.sandbox.methods.registry import method
from bot.sandbox.methods.store import author_fields, insert_message

MAX_LENGTH = 1024**3


def upload_url(base_url: str, file_id: str) -> str:
    return f"{base_url}files/upload/{file_id}"


def download_url(base_url: str, file_id: str, name: str) -> str:
    return f"{base_url}files/{file_id}/{quote(name)}"


def receive_upload(conn: Connection, file_id: str, data: bytes) -> bool:
    """Store the bytes sent to an upload URL; False when the URL is unknown or used."""
    query = select(t.files).where(t.files.c.id == file_id).with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None or row["completed"]:
        return False
    conn.execute(
        t.files.update().where(t.files.c.id == file_id).values(content=data, length=len(data))
    )
    return True


def file_content(conn: Connection, file_id: str) -> tuple[str, str, bytes] | None:
    """Return (name, mimetype, bytes) of a completed upload."""
    query = select(t.files).where(t.files.c.id == file_id)
    row = conn.execute(query).mappings().first()
    if row is None or not row["completed"] or row["content"] is None:
        return None
    return row["name"], _mimetype(row["name"]), bytes(row["content"])


def _mimetype(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def file_object(call: Call, row: RowMapping) -> dict[str, Any]:
    """Return a files.info-shaped file."""
    name = row["name"]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
    url = download_url(call.base_url, row["id"], name)
    shares = row["shares"] or {}
    public = sorted(shares.get("public", {}))
    private = sorted(shares.get("private", {}))
    return {
        "id": row["id"],
        "created": row["created"],
        "timestamp": row["created"],
        "name": name,
        "title": row["title"],
        "mimetype": _mimetype(name),
        "filetype": ext,
        "pretty_type": ext.upper(),
        "user": row["user_id"],
        "user_team": call.team_id,
        "editable": False,
        "size": row["length"],
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": bool(public),
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": url,
        "url_private_download": url + "?download=1",
        "permalink": url,
        "permalink_public": url,
        "file_access": "visible",
        "has_rich_preview": False,
        "channels": public,
        "groups": [c for c in private if not c.startswith("D")],
        "ims": [c for c in private if c.startswith("D")],
        "shares": shares,
    }


@method("files.getUploadURLExternal")
def files_get_upload_url_external(call: Call, args: Args) -> dict[str, Any]:
    filename = args.require("filename")
    length = args.int("length", -1)
    if length < 0:
        raise missing("length")
    if length > MAX_LENGTH:
        raise SlackError("file_size_too_large")
    file_id = new_id("F")
    call.conn.execute(
        t.files.insert().values(
            id=file_id,
            name=filename,
            title=filename,
            length=length,
            user_id=call.user_id,
            created=call.epoch(),
            content=None,
            completed=False,
            shares={},
        )
    )
    return {"upload_url": upload_url(call.base_url, file_id), "file_id": file_id}


def _pending(call: Call, item: Any) -> tuple[RowMapping, str]:
    if not isinstance(item, dict) or not item.get("id"):
        raise SlackError("invalid_arguments")
    query = select(t.files).where(t.files.c.id == item["id"])
    row = call.conn.execute(query).mappings().first()
    if row is None or row["user_id"] != call.user_id or row["content"] is None:
        raise SlackError("file_not_found")
    if row["completed"]:
        raise SlackError("file_already_completed")
    return row, item.get("title") or row["name"]


@method("files.completeUploadExternal")
def files_complete_upload_external(call: Call, args: Args) -> dict[str, Any]:
    items = args.json("files")
    if not isinstance(items, list) or not items:
        raise missing("files")
    pending = [_pending(call, item) for item in items]
    targets = args.ids("channels") or args.ids("channel_id")
    channels = [writable_target(call, target) for target in targets]
    for row, title in pending:
        call.conn.execute(
            t.files.update().where(t.files.c.id == row["id"]).values(title=title, completed=True)
        )
    ids = [row["id"] for row, _ in pending]
    for channel in channels:
        _share(call, channel, ids, args)
    rows = call.conn.execute(select(t.files).where(t.files.c.id.in_(ids))).mappings()
    by_id = {row["id"]: row for row in rows}
    return {"files": [file_object(call, by_id[file_id]) for file_id in ids]}


def _share(call: Call, channel: RowMapping, ids: list[str], args: Args) -> None:
    query = select(t.files).where(t.files.c.id.in_(ids))
    rows = {row["id"]: row for row in call.conn.execute(query).mappings()}
    body: dict[str, Any] = {
        **author_fields(call),
        "text": args.str("initial_comment", "") or "",
        "files": [file_object(call, rows[file_id]) for file_id in ids],
        "upload": True,
        "display_as_bot": False,
    }
    message = insert_message(call, channel, body, thread_ts=args.str("thread_ts"))
    scope = "private" if channel["is_private"] or channel["is_im"] else "public"
    share = {"ts": message["ts"], "channel_name": channel["name"], "team_id": call.team_id}
    if message.get("thread_ts"):
        share["thread_ts"] = message["thread_ts"]
    for file_id in ids:
        shares = dict(rows[file_id]["shares"] or {})
        place = dict(shares.get(scope, {}))
        place[channel["id"]] = [*place.get(channel["id"], []), share]
        shares[scope] = place
        call.conn.execute(t.files.update().where(t.files.c.id == file_id).values(shares=shares))
        # Slack's `file_shared` event: ids only; the app reads the rest with files.info.
        call.emit(
            "file_shared",
            channel_id=channel["id"],
            file_id=file_id,
            user_id=call.user_id,
            file={"id": file_id},
        )


@method("files.info")
def files_info(call: Call, args: Args) -> dict[str, Any]:
    file_id = args.require("file", "file_not_found")
    row = call.conn.execute(select(t.files).where(t.files.c.id == file_id)).mappings().first()
    if row is None or not row["completed"]:
        raise SlackError("file_not_found")
    return {
        "file": file_object(call, row),
        "comments": [],
        "response_metadata": {"next_cursor": ""},
    }
