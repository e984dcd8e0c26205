"""Logging: JSON or text lines, one access line per request, and no secret ever written."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine

from bot.integrations.calls import attempt
from bot.integrations.http import make_client
from bot.observability.logs import AccessLog, RedactFilter, Redactor, configure_logging
from bot.replay.runner import replay
from bot.replay.scenario import load_scenario
from tests.e2e.conftest import ALERT_TOKEN, make_settings, serving
from tests.support.server import wait_until

PAYLOADS = Path(__file__).parent / "alerts" / "payloads"
WEBHOOK_SECRET = "whsec-0123456789abcdef"
ROUTING_KEY = "R0UTINGKEY0123456789ABCDEFGHIJKL"  # PagerDuty's are 32 characters


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def test_redactor_masks_token_shapes_and_given_values() -> None:
    redact = Redactor(["s3cr3t-signing", None, "abc"])
    text = "bot xoxb-123-456-abcDEF app xapp-1-A0-99-ff user xoxp-9 sig s3cr3t-signing abc"
    assert redact(text) == (
        "bot xoxb-[redacted] app xapp-[redacted] user xoxp-[redacted] sig [redacted] abc"
    )
    url = "WebSocket /sandbox/socket?ticket=PWCU-Vgx3&x=1 and GET /a?token=t0k3n"
    assert (
        redact(url) == "WebSocket /sandbox/socket?ticket=[redacted]&x=1 and GET /a?token=[redacted]"
    )


def test_redactor_masks_escaped_encoded_and_cut_forms_of_a_secret() -> None:
    secret = 'pa"ss/wörd+0123456789'
    redact = Redactor([secret, ROUTING_KEY])
    forms = {
        "raw": f"key {ROUTING_KEY} sent",
        "json": "body " + json.dumps({"key": secret}),
        "json, not ascii": "body " + json.dumps({"key": secret}, ensure_ascii=False),
        "url-encoded": "GET /x?k=pa%22ss%2Fw%C3%B6rd%2B0123456789&y=1",
        "form-encoded": "k=pa%22ss%2Fw%C3%B6rd%2B0123456789",
        "cut at the end": f'{{"message": "Invalid routing key {ROUTING_KEY[:11]}',
        "cut before an ellipsis": f"Invalid routing key {ROUTING_KEY[:9]}… (300 chars)",
    }
    for name, text in forms.items():
        masked = redact(text)
        assert "[redacted]" in masked, name
        assert "0123456789" not in masked and ROUTING_KEY[:8] not in masked, (name, masked)
    # Eight characters that merely start like the key, in the middle of a line, are words.
    assert redact(f"{ROUTING_KEY[:8]} went on") == f"{ROUTING_KEY[:8]} went on"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pa55@hooks.example.test/in", "https://***@hooks.example.test/in"),
        # Slack incoming webhooks: https://api.slack.com/messaging/webhooks
        (
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/[redacted]",
        ),
        # PagerDuty's Events API v1-style integration URL carries the integration key.
        (
            "https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue",
            "https://events.pagerduty.com/integration/[redacted]",
        ),
        ("https://x.test/v1/a1B2c3D4e5F6g7H8i9J0/in", "https://x.test/v1/[redacted]/in"),
        (
            "https://x.test/in?api_key=k1&access_token=t2&key=k3&page=2",
            "https://x.test/in?api_key=[redacted]&access_token=[redacted]&key=[redacted]&page=2",
        ),
        ("https://x.test/incidents/p31zjtct2jer", "https://x.test/incidents/p31zjtct2jer"),
    ],
)
def test_redactor_masks_credentials_in_urls(url: str, shown: str) -> None:
    assert Redactor()(f"HTTP Request: POST {url} ok") == f"HTTP Request: POST {shown} ok"


def test_redactor_masks_tokens_in_uvicorns_own_access_line() -> None:
    # uvicorn's access format when someone turns it back on: client - "METHOD path HTTP/x" status
    line = '127.0.0.1:5 - "POST /alerts/a1B2c3D4e5F6g7H8i9J0?token=t0k3n&x=1 HTTP/1.1" 200'
    assert (
        Redactor()(line)
        == '127.0.0.1:5 - "POST /alerts/[redacted]?token=[redacted]&x=1 HTTP/1.1" 200'
    )


async def test_httpx_request_lines_and_refusals_are_logged_without_credentials(
    restore_logging: None, tmp_path: Path
) -> None:
    stream = io.StringIO()
    settings = make_settings(
        f"sqlite:///{tmp_path / 'w.db'}", WARROOM_PAGERDUTY_ROUTING_KEY=ROUTING_KEY
    )
    configure_logging(settings, stream=stream)
    hook = "https://bot:hunter2-pass@hooks.slack.com/services/T0001/B0002/abcDEF123ghiJKL456"
    pager = "https://events.pagerduty.test/v2/enqueue?routing_key=" + ROUTING_KEY
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(url__startswith="https://hooks.slack.com/").respond(200)
        # PagerDuty's 400 (Events API v2 docs) with an `errors` entry echoing our key,
        # JSON-escaped and cut by the far side.
        echoed = json.dumps(f"Invalid routing key {ROUTING_KEY}")[1:-1]
        mock.post(url__startswith="https://events.pagerduty.test/").respond(
            400,
            json={
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [echoed[:30]],
            },
        )
        async with make_client() as client:
            assert (await client.post(hook, json={"text": "hi"})).status_code == 200
            verdict, _ = await attempt(client, "POST", pager, json={"routing_key": ROUTING_KEY})
    assert (verdict.outcome, verdict.detail) == ("refused", "HTTP 400")
    written = stream.getvalue()
    assert (
        'HTTP Request: POST https://***@hooks.slack.com/services/[redacted] "HTTP/1.1 200 OK"'
        in written
    )
    assert (
        "POST https://events.pagerduty.test/v2/enqueue?routing_key=[redacted] answered HTTP 400: "
        "Event object is invalid; Invalid routing key [redacted]" in written
    )
    for secret in ("hunter2", "bot:", "abcDEF123", "B0002", ROUTING_KEY[:8]):
        assert secret not in written, secret


def test_the_filter_masks_arguments_extras_and_tracebacks(restore_logging: None) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactFilter(Redactor(["hunter2-password"])))
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        log.debug("calling with %s", "xoxb-1-2-secret", extra={"header": "Bearer hunter2-password"})
        try:
            raise ValueError("bad token xapp-1-A-2-zz")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    written = stream.getvalue()
    assert "calling with xoxb-[redacted]" in written
    assert "xoxb-1-2-secret" not in written and "xapp-1-A-2-zz" not in written
    assert "hunter2" not in written


async def _no_content(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _get_through_the_access_log(path: str) -> int:
    transport = httpx.ASGITransport(app=AccessLog(_no_content))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return (await client.get(path)).status_code


async def test_json_lines_carry_the_request_fields_but_not_the_query(
    restore_logging: None, tmp_path: Path
) -> None:
    stream = io.StringIO()
    settings = make_settings(f"sqlite:///{tmp_path / 'w.db'}", WARROOM_LOG_FORMAT="json")
    configure_logging(settings, stream=stream)

    transport = httpx.ASGITransport(app=AccessLog(_no_content))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/api/incidents?token=xoxb-1-2-3&x=1")).status_code == 204
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "warroom.access"]
    assert len(access) == 1
    line = access[0]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/incidents", 204)
    assert line["duration_ms"] >= 0 and line["level"] == "info" and "time" in line
    assert "token" not in json.dumps(line)


def test_the_access_log_survives_slack_requests_served_before_logging_was_configured(
    restore_logging: None, tmp_path: Path
) -> None:
    # Bolt sets the level of a logger named after its app to the root's on every request;
    # a replay serves Slack requests while the root is still at WARNING. Our access log
    # must not inherit that level (nor a cached answer from it) once logging is configured.
    logging.getLogger().setLevel(logging.WARNING)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "title: t\ntimezone: UTC\ndate: 2024-01-01\nsteps:\n"
        "  - {at: '10:00', as: carol, command: maintenance 2024-01-02 12:00 1h upgrade}\n"
    )
    assert replay(load_scenario(scenario)).messages
    stream = io.StringIO()
    configure_logging(
        make_settings(f"sqlite:///{tmp_path / 'w.db'}", WARROOM_LOG_FORMAT="json"), stream=stream
    )
    assert asyncio.run(_get_through_the_access_log("/healthz")) == 204
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["method"], x["path"]) for x in lines if x["logger"] == "warroom.access"] == [
        ("GET", "/healthz")
    ]


def test_text_format_is_one_readable_line(restore_logging: None, tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging(make_settings(f"sqlite:///{tmp_path / 'w.db'}"), stream=stream)
    logging.getLogger("bot.test").info("incident %d opened", 7, extra={"channel": "C1"})
    line = stream.getvalue().strip()
    assert line.endswith("INFO    bot.test: incident 7 opened channel=C1"), line


def test_tracker_credentials_and_webhook_secrets_never_reach_the_log(
    restore_logging: None, tmp_path: Path
) -> None:
    secrets = {
        "WARROOM_JIRA_URL": "https://exchange.atlassian.net",
        "WARROOM_JIRA_EMAIL": "sre@exchange.example",
        "WARROOM_JIRA_TOKEN": "ATATT3xFfGF0jira-token-value",
        "WARROOM_JIRA_PROJECT": "OPS",
        "WARROOM_GITHUB_WEBHOOK_SECRET": "github-hook-secret-0123",
        "WARROOM_JIRA_WEBHOOK_SECRET": "jira-hook-secret-456789",
        "WARROOM_LINEAR_WEBHOOK_SECRET": "linear-hook-secret-0123",
    }
    stream = io.StringIO()
    configure_logging(make_settings(f"sqlite:///{tmp_path / 'w.db'}", **secrets), stream=stream)
    shown = [value for name, value in secrets.items() if "TOKEN" in name or "SECRET" in name]
    logging.getLogger("bot.test").warning("a tracker echoed %s", " and ".join(shown))
    line = stream.getvalue()
    assert "a tracker echoed" in line
    assert not [value for value in shown if value in line], line


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_whole_incident_at_debug_logs_no_secret(
    restore_logging: None, database: tuple[Engine, str], log_format: str
) -> None:
    extra = {
        "WARROOM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WARROOM_WEBHOOKS": "http://127.0.0.1:9/hooks",
        "WARROOM_LOG_FORMAT": log_format,
    }
    stream = io.StringIO()
    configure_logging(make_settings(database[1], **extra), level=logging.DEBUG, stream=stream)
    with serving(database[1], **extra) as service:
        info = service.sandbox.info()
        secrets = {
            "bot token": info["bot_token"],
            "signing secret": info["signing_secret"],
            "alert token": ALERT_TOKEN,
            "webhook secret": WEBHOOK_SECRET,
        }
        body = json.loads((PAYLOADS / "alertmanager_firing.json").read_text())
        answer = httpx.post(f"{service.url}/alerts/alertmanager", json=body, headers=service.auth)
        assert answer.status_code == 202
        httpx.get(f"{service.url}/api/incidents?token={ALERT_TOKEN}")
        api = f"{service.url}/api/incidents/1"
        channel = wait_until(
            lambda: httpx.get(api, headers=service.auth).json()["channel_id"], timeout=10
        )
        alice = service.sandbox.as_user("alice")
        alice.join(channel)
        for command in ("ack", "update restarting the engine", "resolve restored"):
            assert alice.command(f"/incident {command}", channel)["ok"]
        wait_until(
            lambda: httpx.get(api, headers=service.auth).json()["status"] == "resolved", timeout=10
        )
        # Someone logs a secret by mistake: it still comes out masked.
        logging.getLogger("bot.oops").debug("signing with %s", info["signing_secret"])
        wait_until(lambda: "POST /slack/events" in stream.getvalue(), timeout=5)
    written = stream.getvalue()
    assert "GET /api/incidents 401" in written, "the query string never shows in access lines"
    assert "signing with [redacted]" in written
    leaked = [name for name, secret in secrets.items() if secret in written]
    assert leaked == [], f"secrets in the log: {leaked}"
