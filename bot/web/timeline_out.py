"""A timeline page as `GET /api/incidents/{id}/timeline` answers it, rendered by the
database: byte for byte what `bot.web.api.timeline_json` gives, with the GIL held for one
statement instead of a loop over a thousand entries."""

from __future__ import annotations

import json

from fastapi.responses import Response
from sqlalchemy import Connection

from bot.usecases.queries import EntryPosition
from bot.web.errors import WebError
from bot.web.incident_query import TimelineQuery, encode_cursor
from storage.reads import last_timeline_json, timeline_page_json


def rendered_timeline(connection: Connection, incident_id: int, query: TimelineQuery) -> Response:
    """The page a request asks for, rendered by the database (`storage.reads`): what
    `timeline_json` gives, byte for byte, with the GIL held for a few statements instead of
    a loop over the entries (WebError 404: no such incident; NotRendered: read it the
    ordinary way)."""
    if query.last is not None:
        page = last_timeline_json(connection=connection, incident_id=incident_id, count=query.last)
    else:
        after = (query.after.occurred_at, query.after.id) if query.after is not None else None
        page = timeline_page_json(
            connection=connection, incident_id=incident_id, limit=query.limit, after=after
        )
    if page is None:
        raise WebError(404, f"no incident #{incident_id}")
    cursor = "null"
    if page.last is not None:
        cursor = json.dumps(encode_cursor(EntryPosition(*page.last)))
    # No `clean_text`: the drivers decode stored text strictly, so it holds no lone
    # surrogate, and the database escapes NUL as JSON does; a scan of the page for them
    # was a fifth of its time holding the GIL.
    body = f'{{"events":[{page.items}],"next_cursor":{cursor}}}'
    return Response(body.encode("utf-8"), media_type="application/json")
