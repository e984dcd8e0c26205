"""A third party that refuses a call: its status is recorded, its words stay in the log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.observability.logs import configure_logging
from tests.e2e.conftest import make_settings, serving
from tests.support.server import run_app_in_thread, wait_until

ROUTING_KEY = "R0UTINGKEY0123456789ABCDEFGHIJKL"  # PagerDuty's are 32 characters


def fake_pagerduty(received: list[dict]) -> Starlette:
    """Events API v2 answering 400 as documented ("Send an Alert Event", response 400:
    status, message, errors), its error echoing the routing key it was sent."""

    async def enqueue(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body)
        return JSONResponse(
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [f"Invalid routing key {body['routing_key']}"],
            },
            status_code=400,
        )

    return Starlette(routes=[Route("/v2/enqueue", enqueue, methods=["POST"])])


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def test_a_refused_page_is_recorded_by_its_status_and_its_body_only_logged(
    database: tuple[Engine, str], log_stream: io.StringIO
) -> None:
    received: list[dict] = []
    with run_app_in_thread(fake_pagerduty(received)) as pagerduty:
        extra = {
            "WARROOM_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "WARROOM_PAGERDUTY_URL": f"{pagerduty}/v2/enqueue",
        }
        configure_logging(make_settings(database[1], **extra), stream=log_stream)
        with serving(database[1], **extra) as service:
            alice = service.sandbox.as_user("alice")
            assert alice.command("/incident declare Spot trading errors sev1", "general")["ok"]
            api = f"{service.url}/api/incidents/1"

            def timeline() -> list[dict]:
                answer = httpx.get(f"{api}/timeline", headers=service.auth)
                return answer.json().get("events", [])

            wait_until(lambda: any(e["kind"] == "delivery_failed" for e in timeline()), timeout=15)
            channel = httpx.get(api, headers=service.auth).json()["channel_id"]
            assert alice.command("/incident resolve restored", channel)["ok"]
            wait_until(
                lambda: any(m.get("files") for m in service.sandbox.messages(channel)), timeout=15
            )
            postmortem = httpx.get(f"{api}/postmortem", headers=service.auth).text
            # The resolve's page may be refused after the upload: wait for both refusals.
            events = wait_until(
                lambda: (
                    (ev := timeline())
                    and sum(e["kind"] == "delivery_failed" for e in ev) == 2
                    and ev
                ),
                timeout=15,
            )
            messages = json.dumps(
                [service.sandbox.messages(c["id"]) for c in service.sandbox.info()["channels"]]
            )

    assert received and received[0]["routing_key"] == ROUTING_KEY
    refused = ["PagerDuty trigger refused (HTTP 400)", "PagerDuty resolve refused (HTTP 400)"]
    assert [e["text"] for e in events if e["kind"] == "delivery_failed"] == refused
    assert [e["text"] for e in events if e["kind"] == "integration"] == refused
    assert "PagerDuty trigger refused (HTTP 400)" in postmortem
    for place, text in {
        "timeline": json.dumps(events),
        "postmortem": postmortem,
        "Slack": messages,
    }.items():
        assert "Invalid routing key" not in text and "Event object" not in text, place
        assert ROUTING_KEY[:8] not in text, place
    # The far side's words are in the service's log, the key in them masked.
    written = log_stream.getvalue()
    assert "answered HTTP 400: Event object is invalid; Invalid routing key [redacted]" in written
    assert ROUTING_KEY[:8] not in written
