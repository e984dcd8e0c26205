"""`PUT /api/incidents/{id}/postmortem` over real HTTP: the team's edit is kept, and a
regeneration refreshes only the sections the team left as generated."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from bot.incidents.clock import SimulatedClock
from bot.postmortem import store_draft
from storage.db import transaction
from storage.models import PostmortemDraft, TimelineEvent
from tests.bot.alerts.payloads import raw
from tests.bot.web.conftest import BEARER, FIRING, Served
from tests.bot.web.test_api import run

OURS = "A dependency of the matching engine ran out of file handles after the 17:40 deploy."


def put(served: Served, incident_id: int, body: bytes | str, **headers: str) -> httpx.Response:
    sent = {**BEARER, "Content-Type": "text/markdown; charset=utf-8", **headers}
    content = body.encode() if isinstance(body, str) else body
    return httpx.put(
        f"{served.base}/api/incidents/{incident_id}/postmortem",
        content=content,
        headers=sent,
        timeout=30,
    )


def regenerate(served: Served, incident_id: int) -> None:
    """What `/incident postmortem`'s effect does: draft anew and store it."""
    runtime = served.runtime
    with transaction(runtime.sessions) as session:
        store_draft(session, incident_id, tz=runtime.domain.tz)


@pytest.fixture
def resolved(web: Served, clock: SimulatedClock) -> tuple[Served, int]:
    incident_id = web.post("alertmanager", raw(FIRING["alertmanager"])).json()["incidents"][0]["id"]
    clock.advance(timedelta(minutes=1))
    run(web, "ack", incident_id)
    run(web, "cause Internal dependency of the matching engine failed", incident_id)
    clock.advance(timedelta(minutes=10))
    run(web, "resolve", incident_id)
    return web, incident_id


def _edited(draft: str) -> str:
    line = "- **Root cause:** Internal dependency of the matching engine failed"
    assert line in draft
    return draft.replace(line, f"- **Root cause:** {OURS}")


def test_put_then_get_then_regenerate_keeps_the_edited_section(
    resolved: tuple[Served, int], clock: SimulatedClock
) -> None:
    web, iid = resolved
    draft = web.get(f"/api/incidents/{iid}/postmortem").text

    answer = put(web, iid, _edited(draft))

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "incident_id": iid,
        "chars": len(_edited(draft)),
        "edited": ["Root cause and trigger"],
    }
    assert web.get(f"/api/incidents/{iid}/postmortem").text == _edited(draft)
    # A note after the edit, then `/incident postmortem`: the timeline refreshes, ours stays.
    clock.advance(timedelta(minutes=5))
    run(web, "note Customers notified by email", iid)
    regenerate(web, iid)
    after = web.get(f"/api/incidents/{iid}/postmortem").text
    assert f"- **Root cause:** {OURS}" in after
    assert "- **Root cause:** Internal dependency" not in after
    assert "Customers notified by email" in after
    with transaction(web.runtime.sessions) as session:
        row = session.get(PostmortemDraft, iid)
        assert row is not None and row.edited_via == "api" and row.edited == after
        assert "Customers notified by email" in row.generated and OURS not in row.generated
        events = session.exec(
            select(TimelineEvent.text).where(TimelineEvent.incident_id == iid)
        ).all()
    assert "postmortem edited via API" in events


def test_put_accepts_json(resolved: tuple[Served, int]) -> None:
    web, iid = resolved
    draft = web.get(f"/api/incidents/{iid}/postmortem").text

    answer = httpx.put(
        f"{web.base}/api/incidents/{iid}/postmortem",
        json={"markdown": _edited(draft)},
        headers=BEARER,
        timeout=30,
    )

    assert answer.status_code == 200, answer.text
    assert OURS in web.get(f"/api/incidents/{iid}/postmortem").text


def test_unknown_incident_is_404(web: Served) -> None:
    answer = put(web, 999, "# Postmortem\n")

    assert answer.status_code == 404
    assert answer.json() == {"error": "no incident #999"}


def test_open_incident_is_409_and_nothing_is_kept(web: Served) -> None:
    iid = web.post("alertmanager", raw(FIRING["alertmanager"])).json()["incidents"][0]["id"]

    answer = put(web, iid, "# Postmortem\n\nours\n")

    assert answer.status_code == 409
    assert "not resolved" in answer.json()["error"]
    with transaction(web.runtime.sessions) as session:
        assert session.get(PostmortemDraft, iid) is None


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (b"# P\n\x00\n", {}, "NUL"),
        (b'{"markdown": "# P\\n\\ud800"}', {"Content-Type": "application/json"}, "surrogate"),
        (b"\xff\xfe# P", {}, "not UTF-8"),
        (b"   \n", {}, "empty"),
        (b'{"text": "x"}', {"Content-Type": "application/json"}, "markdown"),
    ],
    ids=["nul", "lone-surrogate", "not-utf8", "empty", "wrong-json"],
)
def test_unstorable_text_is_422_and_changes_nothing(
    resolved: tuple[Served, int], body: bytes, headers: dict[str, str], error: str
) -> None:
    web, iid = resolved
    before = web.get(f"/api/incidents/{iid}/postmortem").text

    answer = put(web, iid, body, **headers)

    assert answer.status_code == 422, answer.text
    assert error in answer.json()["error"]
    assert web.get(f"/api/incidents/{iid}/postmortem").text == before


def test_wrong_media_type_is_415(resolved: tuple[Served, int]) -> None:
    web, iid = resolved

    answer = put(web, iid, b"x", **{"Content-Type": "application/pdf"})

    assert answer.status_code == 415
    assert "text/markdown" in answer.json()["error"]


def test_too_large_is_413(resolved: tuple[Served, int]) -> None:
    web, iid = resolved

    answer = put(web, iid, "#" + "x" * (2 * 1024 * 1024))

    assert answer.status_code == 413
    assert "error" in answer.json()


def test_without_the_token_is_401_and_nothing_is_kept(resolved: tuple[Served, int]) -> None:
    web, iid = resolved
    before = web.get(f"/api/incidents/{iid}/postmortem").text

    answer = put(web, iid, "# ours\n", Authorization="Bearer wrong")

    assert answer.status_code == 401
    assert web.get(f"/api/incidents/{iid}/postmortem").text == before
