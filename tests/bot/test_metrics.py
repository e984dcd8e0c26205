"""/metrics: counters move with alerts, commands and Slack calls; outbox gauges from the DB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from tests.e2e.conftest import Service, serving
from tests.support.server import wait_until

PAYLOADS = Path(__file__).parent / "alerts" / "payloads"


@pytest.fixture
def service(database: tuple[Engine, str]) -> Iterator[Service]:
    with serving(database[1]) as running:
        yield running


def scrape(service: Service) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics as (name, labels) -> value."""
    answer = httpx.get(f"{service.url}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_counters_move_after_an_alert_a_command_and_slack_calls(service: Service) -> None:
    before = scrape(service)
    assert (
        value(before, "warroom_alerts_received_total", source="alertmanager", outcome="accepted")
        == 0
    )
    assert value(before, "warroom_outbox_depth", state="pending") == 0

    body = json.loads((PAYLOADS / "alertmanager_firing.json").read_text())
    url = f"{service.url}/alerts/alertmanager"
    assert httpx.post(url, json=body, headers=service.auth).status_code == 202
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, content=b"{nope", headers=service.auth).status_code in (400, 422)
    incidents = httpx.get(f"{service.url}/api/incidents", headers=service.auth).json()
    incident = incidents["incidents"][0]
    channel = wait_until(
        lambda: httpx.get(f"{service.url}/api/incidents/1", headers=service.auth).json()[
            "channel_id"
        ],
        timeout=10,
    )
    service.sandbox.as_user("alice").command("/incident ack", channel)
    service.sandbox.as_user("alice").command("/incident frobnicate", channel)

    def moved() -> dict:
        samples = scrape(service)
        return samples if value(samples, "warroom_commands_total", verb="ack") == 1 else {}

    after = wait_until(moved, timeout=10)
    alerts = "warroom_alerts_received_total"
    assert value(after, alerts, source="alertmanager", outcome="accepted") == 1
    assert value(after, alerts, source="alertmanager", outcome="unauthorized") == 1
    assert value(after, alerts, source="alertmanager", outcome="rejected") == 1
    severity = incident["severity"]
    assert value(after, "warroom_incidents_opened_total", severity=severity) == 1
    assert value(after, "warroom_commands_total", verb="invalid") == 1
    assert value(after, "warroom_slack_api_calls_total", method="conversations.create") == 1
    assert value(after, "warroom_slack_api_calls_total", method="chat.postMessage") >= 1
    latency = "warroom_http_request_duration_seconds_count"
    assert value(after, latency, method="POST", route="/alerts/{source}", status="2xx") == 1
    assert value(after, latency, method="POST", route="/slack/events", status="2xx") >= 2
    assert ("warroom_outbox_oldest_age_seconds", frozenset()) in after


def test_slack_errors_are_counted_by_method_and_error(service: Service) -> None:
    # Three failures outlast the client's two retries, so the call itself fails once.
    service.sandbox.faults("error", count=3, status=500, methods=["conversations.setTopic"])
    body = json.loads((PAYLOADS / "alertmanager_firing.json").read_text())
    answer = httpx.post(f"{service.url}/alerts/alertmanager", json=body, headers=service.auth)
    assert answer.status_code == 202
    errors = "warroom_slack_api_errors_total"
    wait_until(
        lambda: (
            value(scrape(service), errors, method="conversations.setTopic", error="internal_error")
            >= 1
        ),
        timeout=15,
    )


def test_outbox_depth_counts_waiting_operations(service: Service) -> None:
    # Slack is down for every call: the outbox keeps the operations until it is back.
    service.sandbox.faults("error", count=1000, status=503)
    body = json.loads((PAYLOADS / "alertmanager_firing.json").read_text())
    httpx.post(f"{service.url}/alerts/alertmanager", json=body, headers=service.auth)
    samples = wait_until(
        lambda: (
            (s := scrape(service))
            and value(s, "warroom_outbox_depth", state="pending")
            + value(s, "warroom_outbox_depth", state="running")
            > 0
            and s
        ),
        timeout=10,
    )
    assert value(samples, "warroom_outbox_oldest_age_seconds") >= 0
    service.sandbox.clear_faults()


def test_scheduler_jobs_are_counted_by_kind_and_outcome() -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from bot.observability.metrics import Metrics

    metrics = Metrics()
    scheduler = BackgroundScheduler()
    metrics.watch_scheduler(scheduler)
    scheduler.start()
    try:
        scheduler.add_job(lambda: None, id="reminder:7")
        scheduler.add_job(lambda: 1 / 0, id="timebox:7:respond")
        wait_until(
            lambda: (
                metrics.jobs.labels("reminder", "ok")._value.get() == 1
                and metrics.jobs.labels("timebox", "error")._value.get() == 1
            )
        )
    finally:
        scheduler.shutdown()
    text = metrics.render().decode()
    assert 'warroom_scheduler_jobs_fired_total{job="reminder",outcome="ok"} 1.0' in text
