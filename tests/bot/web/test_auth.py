"""Who may call /alerts and /api: the token (bearer or basic), signatures, loopback in sandbox."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import httpx
import pytest

from bot.composition.runtime import Runtime
from bot.web.auth import is_loopback, presented_secret
from tests.bot.alerts.payloads import raw
from tests.bot.web.conftest import (
    BEARER,
    FIRING,
    TOKEN,
    Served,
    grafana_signature,
    pagerduty_signature,
    web_app,
)

NOTHING = {"incidents": 0, "alerts": 0, "timeline": 0, "outbox": 0, "deliveries": 0}
JSON = {"Content-Type": "application/json"}


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def assert_unauthorized(response: httpx.Response, fragment: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/json"
    assert fragment in response.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Bearer wrong"}, id="wrong-bearer"),
        pytest.param({"Authorization": f"Bearer {TOKEN}x"}, id="longer-bearer"),
        pytest.param({"Authorization": "Bearer"}, id="empty-bearer"),
        pytest.param({"Authorization": f"Token {TOKEN}"}, id="other-scheme"),
        pytest.param(basic("alertmanager", "wrong"), id="wrong-basic"),
        pytest.param(basic(TOKEN, ""), id="token-as-user"),
        pytest.param({"Authorization": "Basic !!notbase64"}, id="garbled-basic"),
        pytest.param({"Authorization": "Bearer s3crét".encode()}, id="non-ascii-bytes"),
    ],
)
def test_alerts_without_the_token_are_refused_and_store_nothing(
    web: Served, headers: dict[str, str]
) -> None:
    assert_unauthorized(web.post("alertmanager", raw(FIRING["alertmanager"]), headers))
    assert_unauthorized(web.get("/api/incidents", headers))
    assert web.counts() == NOTHING


def test_missing_and_wrong_credentials_are_told_apart(web: Served) -> None:
    assert_unauthorized(web.get("/api/incidents", {}), "Authorization: Bearer")
    assert_unauthorized(web.get("/api/incidents", {"Authorization": "Bearer no"}), "wrong token")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": f"Bearer {TOKEN}"}, id="bearer"),
        pytest.param({"Authorization": f"bearer {TOKEN}"}, id="bearer-lowercase"),
        pytest.param(basic("alertmanager", TOKEN), id="basic"),
        pytest.param(basic("", TOKEN), id="basic-no-user"),
    ],
)
def test_the_token_as_bearer_or_basic_password_is_accepted(
    web: Served, headers: dict[str, str]
) -> None:
    assert web.post("alertmanager", raw(FIRING["alertmanager"]), headers).status_code == 202
    assert web.get("/api/incidents", headers).status_code == 200


def test_unauthenticated_oversized_body_is_refused_as_unauthenticated(web: Served) -> None:
    response = web.post("generic", b"x" * (2 * 1024 * 1024), {})
    assert_unauthorized(response)


def test_without_a_token_real_slack_mode_refuses_everyone(serve: Callable[..., Served]) -> None:
    served = serve(token=None, slack=True)

    for headers in ({}, {"Authorization": "Bearer anything"}, basic("u", "")):
        assert_unauthorized(
            served.post("generic", raw(FIRING["generic"]), headers),
            "WARROOM_ALERT_TOKEN must be set",
        )
        assert_unauthorized(served.get("/api/incidents", headers), "WARROOM_ALERT_TOKEN")
    assert served.counts() == NOTHING


def test_without_a_token_sandbox_mode_admits_loopback(serve: Callable[..., Served]) -> None:
    served = serve(token=None, slack=False)

    # Real HTTP from 127.0.0.1, no credentials at all (JSON said, as every source says it).
    assert served.post("generic", raw(FIRING["generic"]), JSON).status_code == 202
    assert served.get("/api/incidents", {}).json()["incidents"][0]["title"] == (
        "Margin liquidation queue stalled"
    )


@pytest.mark.parametrize(
    ("headers", "status", "fragment"),
    [
        # DNS rebinding: a page's own name resolved to 127.0.0.1 reaches us under that name.
        pytest.param({**JSON, "Host": "evil.example"}, 421, "only at localhost", id="rebound"),
        pytest.param(
            {**JSON, "Host": "127.0.0.1.nip.io"}, 421, "only at localhost", id="lookalike"
        ),
        pytest.param(
            {**JSON, "Host": "localhost@evil.example"}, 421, "at localhost", id="userinfo"
        ),
        # A page POSTing cross-site: browsers send Origin, and Sec-Fetch-Site when they can.
        pytest.param({**JSON, "Origin": "https://evil.example"}, 403, "cross-site", id="origin"),
        pytest.param({**JSON, "Origin": "null"}, 403, "cross-site", id="null-origin"),
        pytest.param({**JSON, "Sec-Fetch-Site": "cross-site"}, 403, "cross-site", id="fetch-site"),
        # What a form or a no-preflight fetch can send: never JSON.
        pytest.param({"Content-Type": "text/plain"}, 415, "application/json", id="text-plain"),
        pytest.param(
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "application/json",
            id="form",
        ),
        pytest.param({}, 415, "application/json", id="no-content-type"),
    ],
)
def test_without_a_token_sandbox_mode_refuses_what_a_web_page_could_send(
    serve: Callable[..., Served], headers: dict[str, str], status: int, fragment: str
) -> None:
    served = serve(token=None, slack=False)

    answer = served.post("generic", raw(FIRING["generic"]), headers)

    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["error"]
    assert served.counts() == NOTHING


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:3000", "127.0.0.1:3000", "127.9.9.9", "[::1]:3000"]
)
def test_without_a_token_sandbox_mode_admits_loopback_names(
    serve: Callable[..., Served], host: str
) -> None:
    served = serve(token=None, slack=False)
    same_origin = {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}

    assert (
        served.post("generic", raw(FIRING["generic"]), {**JSON, **same_origin}).status_code == 202
    )
    assert served.get("/api/incidents", {"Host": host}).status_code == 200


def test_with_a_token_other_hosts_and_content_types_are_fine(web: Served) -> None:
    """The checks guard the loopback trust only: a sender with the token needs none of it."""
    headers = {**BEARER, "Host": "warroom.example.com", "Content-Type": "text/plain"}
    assert web.post("generic", raw(FIRING["generic"]), headers).status_code == 202


@pytest.mark.parametrize("client", ["10.1.2.3", "192.168.0.7", "2001:db8::1", "testclient"])
async def test_without_a_token_sandbox_mode_refuses_other_clients(
    make_runtime: Callable[..., Runtime], client: str
) -> None:
    runtime = make_runtime(token=None, slack=False)
    transport = httpx.ASGITransport(web_app(runtime), client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as http:
        posted = await http.post("/alerts/generic", content=raw(FIRING["generic"]))
        listed = await http.get("/api/incidents")
    assert_unauthorized(posted, "only loopback clients")
    assert_unauthorized(listed, "only loopback clients")


async def test_with_a_token_loopback_needs_it_too(make_runtime: Callable[..., Runtime]) -> None:
    transport = httpx.ASGITransport(web_app(make_runtime()), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as http:
        assert_unauthorized(await http.get("/api/incidents"))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("localhost", False),  # a name is not an address: never trust it
        ("", False),
        (None, False),
    ],
)
def test_loopback_addresses(host: str | None, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_presented_secret_keeps_colons_in_basic_passwords() -> None:
    assert presented_secret(basic("u", "a:b:c")["Authorization"]) == b"a:b:c"
    assert presented_secret("Basic " + base64.b64encode(b"nocolon").decode()) is None


# Grafana: the HMAC signature of the body, keyed with WARROOM_ALERT_TOKEN, authenticates.


def test_grafana_signature_without_timestamp_is_refused_when_a_timestamp_header_is_configured(
    web: Served,
) -> None:
    # A signature over the body alone never expires: a captured request could be replayed.
    body = raw(FIRING["grafana"])
    headers = {"X-Grafana-Alerting-Signature": grafana_signature(body)}

    response = web.post("grafana", body, headers)

    assert_unauthorized(response, "needs a timestamp in X-Grafana-Alerting-Signature-Timestamp")
    assert web.counts() == NOTHING


def test_grafana_signature_without_timestamp_authenticates_when_none_is_configured(
    serve: Callable[..., Served],
) -> None:
    web = serve(slack=True, WARROOM_GRAFANA_TIMESTAMP_HEADER="")
    body = raw(FIRING["grafana"])
    headers = {"X-Grafana-Alerting-Signature": grafana_signature(body)}

    assert web.post("grafana", body, headers).status_code == 202


def test_grafana_timestamp_is_read_from_the_configured_header(
    serve: Callable[..., Served],
) -> None:
    web = serve(slack=True, WARROOM_GRAFANA_TIMESTAMP_HEADER="X-Sent-At")
    body = raw(FIRING["grafana"])
    stamp = str(int(time.time()))
    signature = grafana_signature(body, stamp)
    elsewhere = {
        "X-Grafana-Alerting-Signature": signature,
        "X-Grafana-Alerting-Signature-Timestamp": stamp,
    }

    assert_unauthorized(web.post("grafana", body, elsewhere), "needs a timestamp in X-Sent-At")
    stale = str(int(time.time()) - 301)
    assert_unauthorized(
        web.post(
            "grafana",
            body,
            {"X-Grafana-Alerting-Signature": grafana_signature(body, stale), "X-Sent-At": stale},
        ),
        "more than 5 minutes off",
    )
    assert web.counts() == NOTHING
    fresh = {"X-Grafana-Alerting-Signature": signature, "X-Sent-At": stamp}
    assert web.post("grafana", body, fresh).status_code == 202


def test_grafana_signature_with_fresh_timestamp_authenticates(web: Served) -> None:
    body = raw(FIRING["grafana"])
    stamp = str(int(time.time()) - 60)
    headers = {
        "X-Grafana-Alerting-Signature": grafana_signature(body, stamp),
        "X-Grafana-Alerting-Signature-Timestamp": stamp,
    }

    assert web.post("grafana", body, headers).status_code == 202


@pytest.mark.parametrize(
    "case", ["wrong-key", "other-body", "stale-timestamp", "future-timestamp", "timestamp-unsigned"]
)
def test_grafana_bad_signature_is_refused(web: Served, case: str) -> None:
    body = raw(FIRING["grafana"])
    now = int(time.time())
    signed, stamp, key = body, None, TOKEN
    if case == "wrong-key":
        key = "not-the-token"
    elif case == "other-body":
        signed = body.replace(b"firing", b"FIRING")
    elif case == "stale-timestamp":
        stamp = str(now - 301)
    elif case == "future-timestamp":
        stamp = str(now + 400)
    headers = {"X-Grafana-Alerting-Signature": grafana_signature(signed, stamp, key)}
    if stamp is not None:
        headers["X-Grafana-Alerting-Signature-Timestamp"] = stamp
    elif case == "timestamp-unsigned":
        headers["X-Grafana-Alerting-Signature-Timestamp"] = str(now)

    assert_unauthorized(web.post("grafana", body, headers), "X-Grafana-Alerting-Signature")
    assert web.counts() == NOTHING


def test_grafana_signature_does_not_open_other_sources(web: Served) -> None:
    body = raw(FIRING["generic"])
    headers = {"X-Grafana-Alerting-Signature": grafana_signature(body)}

    assert_unauthorized(web.post("generic", body, headers))


# PagerDuty: a signature, when present, must verify; a valid one authenticates.


def test_pagerduty_signature_authenticates(web: Served) -> None:
    body = raw(FIRING["pagerduty"])
    headers = {"X-PagerDuty-Signature": pagerduty_signature(body)}

    assert web.post("pagerduty", body, headers).status_code == 202


def test_pagerduty_signature_among_rotated_ones_authenticates(web: Served) -> None:
    body = raw(FIRING["pagerduty"])
    header = f"{pagerduty_signature(body, 'old-secret')},{pagerduty_signature(body)}"

    assert web.post("pagerduty", body, {"X-PagerDuty-Signature": header}).status_code == 202


@pytest.mark.parametrize("with_token", [False, True], ids=["alone", "with-valid-token"])
def test_pagerduty_bad_signature_is_refused_even_with_the_token(
    web: Served, with_token: bool
) -> None:
    body = raw(FIRING["pagerduty"])
    headers = {"X-PagerDuty-Signature": pagerduty_signature(body, "not-the-token")}
    if with_token:
        headers["Authorization"] = f"Bearer {TOKEN}"

    assert_unauthorized(web.post("pagerduty", body, headers), "X-PagerDuty-Signature")
    assert web.counts() == NOTHING


def test_pagerduty_signature_cannot_verify_without_a_token(serve: Callable[..., Served]) -> None:
    served = serve(token=None, slack=False)
    body = raw(FIRING["pagerduty"])
    headers = {"X-PagerDuty-Signature": pagerduty_signature(body, "")}

    # Even from loopback in sandbox mode: a signature nobody can check is not trusted.
    assert_unauthorized(served.post("pagerduty", body, headers), "X-PagerDuty-Signature")
    assert served.counts() == NOTHING
