"""Prometheus metrics at /metrics: one registry per app, so tests and replicas never mix.

Counters count what this process saw; the outbox gauges are read from the database at
each scrape, so every replica reports the same shared queue (aggregate them with max).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from storage.models import Incident, OutboxOp

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Children kept per (method, route, status): a client sending made-up methods cannot grow it
# past this (the metric's own series still grow as before).
MAX_CACHED = 256
ALERT_SOURCES = frozenset(
    {"alertmanager", "grafana", "pagerduty", "datadog", "cloudwatch", "opsgenie", "generic"}
)


class Metrics:
    """Every warroom metric, registered in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.alerts = Counter(
            "warroom_alerts_received",
            "Alert webhook deliveries by source and outcome "
            "(accepted, rejected, unauthorized, too_large, error).",
            ["source", "outcome"],
            registry=r,
        )
        self.incidents = Counter(
            "warroom_incidents_opened", "Incidents opened, by severity.", ["severity"], registry=r
        )
        self.commands = Counter(
            "warroom_commands",
            "Responder commands (slash commands and buttons) by verb.",
            ["verb"],
            registry=r,
        )
        self.slack_calls = Counter(
            "warroom_slack_api_calls", "Slack Web API calls by method.", ["method"], registry=r
        )
        self.slack_errors = Counter(
            "warroom_slack_api_errors",
            "Slack Web API calls that failed, by method and error.",
            ["method", "error"],
            registry=r,
        )
        self.requests = Histogram(
            "warroom_http_request_duration_seconds",
            "HTTP request latency by method, route and status class.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.outbox_failed = Counter(
            "warroom_outbox_failed_operations",
            "Outbox operations failed for good, by effect kind and reason (refused: the far "
            "side said no; unreadable: this code cannot read it; fault: it failed in "
            "warroom's own code on every try).",
            ["kind", "reason"],
            registry=r,
        )
        self.jobs = Counter(
            "warroom_scheduler_jobs_fired",
            "Scheduler jobs run, by kind and outcome (ok, error).",
            ["job", "outcome"],
            registry=r,
        )

    def render(self) -> bytes:
        """The text exposition format of everything registered."""
        return generate_latest(self.registry)

    def outbox_op_failed(self, kind: str, reason: str) -> None:
        """Count an outbox operation failed for good (the dispatcher's `on_failed`)."""
        self.outbox_failed.labels(kind, reason).inc()

    def job_fired(self, job_id: str, *, ok: bool = True) -> None:
        """Count a scheduler job; ids are `kind:<incident>`, so only the kind is a label."""
        self.jobs.labels(job_id.split(":", 1)[0], "ok" if ok else "error").inc()

    def watch_scheduler(self, scheduler: BaseScheduler) -> None:
        """Count every job an APScheduler scheduler runs (only the leader's runs any)."""

        def fired(event: JobExecutionEvent) -> None:
            self.job_fired(event.job_id, ok=event.exception is None)

        scheduler.add_listener(fired, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def watch_outbox(self, sessions: sessionmaker[Any]) -> None:
        """Report the outbox's depth and age at each scrape."""
        self.registry.register(_OutboxCollector(sessions))

    def watch_incidents(self, sessions: sessionmaker[Any]) -> None:
        """Count incidents as their opening commits, whichever path opened them."""

        # Severities of incidents flushed but not committed yet, per session (held weakly:
        # a session that goes away takes its uncommitted count with it).
        opened: WeakKeyDictionary[Session, list[str]] = WeakKeyDictionary()

        @event.listens_for(sessions, "after_flush")
        def _noted(session: Session, _context: Any) -> None:
            new = [o.severity for o in session.new if isinstance(o, Incident)]
            if new:
                opened.setdefault(session, []).extend(new)

        @event.listens_for(sessions, "after_commit")
        def _committed(session: Session) -> None:
            for severity in opened.pop(session, []):
                self.incidents.labels(severity).inc()

        @event.listens_for(sessions, "after_rollback")
        def _rolled_back(session: Session) -> None:
            opened.pop(session, None)


class _OutboxCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def describe(self) -> Iterable[Metric]:
        # Described without a query, so registering never touches the database.
        return list(_outbox_families())

    def collect(self) -> Iterable[Metric]:
        depth, age = _outbox_families()
        counts = dict.fromkeys(("pending", "running", "failed"), 0)
        with self.sessions() as session:
            rows = session.execute(
                select(col(OutboxOp.state), func.count())
                .where(col(OutboxOp.state) != "done")
                .group_by(col(OutboxOp.state))
            )
            counts.update({state: count for state, count in rows})
            oldest = session.scalar(
                select(func.min(col(OutboxOp.created_at))).where(
                    col(OutboxOp.state).in_(("pending", "running"))
                )
            )
        for state, count in sorted(counts.items()):
            depth.add_metric([state], count)
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age.add_metric([], max(0.0, (datetime.now(UTC) - oldest).total_seconds()))
        else:
            age.add_metric([], 0.0)
        yield depth
        yield age


def _outbox_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily("warroom_outbox_depth", "Outbox operations by state.", labels=["state"]),
        GaugeMetricFamily(
            "warroom_outbox_oldest_age_seconds", "Age of the oldest operation not yet done."
        ),
    )


def _alert_outcome(status: int) -> str:
    if status < 300:
        return "accepted"
    return {401: "unauthorized", 403: "unauthorized", 413: "too_large"}.get(
        status, "rejected" if status < 500 else "error"
    )


def request_observer(metrics: Metrics) -> Callable[[dict[str, Any], int, float], None]:
    """Request latency by route, and alert deliveries by outcome, for ObservedRequests."""

    # Each series' child, looked up once: `labels()` checks and joins its values and takes
    # a lock on every call, a third of observing a request. Methods, routes and statuses
    # are few, and nothing removes a series, so the children live as long as the metrics.
    latencies: dict[tuple[str, str, int], Any] = {}
    deliveries: dict[tuple[str, int], Any] = {}

    def observe(scope: dict[str, Any], status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"]
        latency = latencies.get((method, route, status))
        if latency is None:
            latency = metrics.requests.labels(method, route, f"{status // 100}xx")
            if len(latencies) < MAX_CACHED:
                latencies[method, route, status] = latency
        latency.observe(seconds)
        if route == "/alerts/{source}":
            source = (scope.get("path_params") or {}).get("source")
            source = source if source in ALERT_SOURCES else "unknown"
            delivered = deliveries.get((source, status))
            if delivered is None:
                delivered = deliveries[source, status] = metrics.alerts.labels(
                    source, _alert_outcome(status)
                )
            delivered.inc()

    return observe
