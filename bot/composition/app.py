"""The ASGI app: health, metrics, Slack at /slack/events (or Socket Mode), the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from slack_bolt.async_app import AsyncApp
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.composition.playbook_watch import playbook_reloader
from bot.composition.runtime import Runtime
from bot.composition.trackers import tracker_routes, webhook_readers
from bot.incidents.clock import SimulatedClock
from bot.integrations import configured, describe, integration_routes
from bot.integrations.http import make_client
from bot.integrations.journal import Journal
from bot.integrations.unconfigured import unconfigured_routes
from bot.observability.logs import log_request, redact_also
from bot.observability.metrics import CONTENT_TYPE, Metrics, request_observer
from bot.observability.telemetry import fastapi_telemetry
from bot.outbox.dispatcher import Dispatcher
from bot.scheduling.leader import AdvisoryLeader
from bot.scheduling.scheduler import Scheduler
from bot.slack.operations import SlackOperations
from bot.slack.publishing import PostmortemPublishing
from bot.slack.signatures import SlackSignatures
from bot.slack.socket_mode import SocketMode
from bot.slack.wiring import SlackCredentials, build_slack, share_connections
from bot.web.alert_lane import AlertLane
from bot.web.alerts import build_alerts_router
from bot.web.api import build_api_router
from bot.web.body import MIB, BodyCap
from bot.web.errors import database_unavailable, http_error, invalid_request
from bot.web.observe import ObservedRequests
from bot.web.oversize import ALERTS_PREFIX, log_refused
from bot.web.tracker_webhooks import build_tracker_webhooks_router
from storage import outbox
from storage.db import is_sqlite, ping, transaction

# Where the sandbox takes the bytes of files.uploadV2 (a postmortem can pass 1 MiB).
SANDBOX_UPLOADS = "/sandbox/files/upload/"


def _slack_seconds(runtime: Runtime) -> Callable[[], float] | None:
    """A replay's time for Slack's per-minute limits: its steps are minutes apart in
    simulated time, and the client waits out Retry-After in real time between them."""
    clock = runtime.domain.clock
    if not isinstance(clock, SimulatedClock):
        return None
    drifting = clock.drifting()
    return lambda: drifting.now().timestamp()


def _credentials(runtime: Runtime, public_url: str, app: FastAPI) -> SlackCredentials:
    settings = runtime.settings
    if not settings.sandbox_mode:
        assert settings.slack_bot_token and settings.slack_signing_secret
        return SlackCredentials(
            bot_token=settings.slack_bot_token.get_secret_value(),
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            api_url=str(settings.slack_api_url),
        )
    from bot.sandbox import Sandbox, build_sandbox_router

    # SLACK_APP_TOKEN in sandbox mode: the sandbox takes it as its app-level token and the
    # bot connects to the sandbox's Socket Mode endpoint with it.
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    sandbox = Sandbox(
        runtime.engine,
        clock=runtime.domain.clock,
        app_token=app_token,
        rate_limits=settings.sandbox_rate_limits,
        rate_limit_timer=_slack_seconds(runtime),
    )
    app.state.sandbox = sandbox
    redact_also(sandbox.signing_secret)
    app.include_router(
        build_sandbox_router(sandbox, events_url=f"{public_url}/slack/events"),
        prefix="/sandbox",
        include_in_schema=False,  # a development tool, not part of the service API
    )
    return SlackCredentials(
        bot_token=sandbox.bot_token,
        signing_secret=sandbox.signing_secret,
        api_url=f"{public_url}/sandbox/api/",
    )


def _socket_mode(
    runtime: Runtime, bolt: AsyncApp, public_url: str, *, replay: bool
) -> SocketMode | None:
    """Socket Mode when an app-level token is set (not in replays, which drive HTTP)."""
    token = runtime.settings.slack_app_token
    if token is None or replay:
        return None
    # In sandbox mode "Slack" is this very server: connect once it listens.
    wait_for = f"{public_url}/healthz" if runtime.settings.sandbox_mode else None
    return SocketMode(bolt, token.get_secret_value(), wait_for=wait_for)


def _reclaim_outbox(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        reclaimed = outbox.reclaim_all(session=session, now=runtime.domain.clock.now())
    if reclaimed:
        logging.getLogger(__name__).warning("resumed %d interrupted outbox operations", reclaimed)


def create_app(runtime: Runtime, *, public_url: str, replay: bool = False) -> FastAPI:
    """Build the app around a runtime; `public_url` is how this process reaches itself.

    `replay` is for simulated time: Slack requests are answered only after their work is
    done, and the scheduler fires nothing by itself (the replay fires due jobs).
    """
    public_url = public_url.rstrip("/")

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        logging.getLogger(__name__).info("integrations: %s", describe(in_use))
        if is_sqlite(runtime.settings.database_url):
            # One process owns a SQLite outbox: what a crashed run left "running" is free now,
            # rather than after its lease runs out.
            await asyncio.to_thread(_reclaim_outbox, runtime)
        web_api = share_connections(slack.client)
        tasks = [asyncio.create_task(dispatcher.run_forever(), name="outbox-dispatcher")]
        runtime.wake_dispatcher = dispatcher.wake
        if replay:
            scheduler.start(paused=True)
        elif is_sqlite(runtime.settings.database_url):
            scheduler.start(paused=False)  # the embedded single process leads by itself
        else:
            scheduler.start(paused=True)
            leader = AdvisoryLeader(
                runtime.engine, on_elected=scheduler.resume, on_lost=scheduler.pause
            )
            tasks.append(asyncio.create_task(leader.run(), name="leader-election"))
        if runtime.settings.playbooks_dir:
            reloader = playbook_reloader(runtime)
            tasks.append(asyncio.create_task(reloader.run(), name="playbook-reload"))
        if not replay:
            # What Slack was told we received but a stopped process did not carry out:
            # a single SQLite process owns all of it; replicas leave recent requests to
            # their live owner (the inbox keeps each carried out once either way).
            await slack.intake.recover(everything=is_sqlite(runtime.settings.database_url))
            tasks.append(asyncio.create_task(slack.intake.recover_forever(), name="inbox"))
        if socket_mode is not None:
            socket_mode.start()
        dispatcher.wake()
        try:
            yield
        finally:
            if socket_mode is not None:
                await socket_mode.stop()
            # Commands acked but not yet recorded: record them (their effects go out on the
            # next start, from the outbox).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await slack.after_ack.drain()
            dispatcher.stop()
            scheduler.shutdown()
            for task in tasks[1:]:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(tasks[0], timeout=dispatcher.grace + 5)
            for task in tasks[1:]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await http_client.aclose()
            await web_api.close()

    app = FastAPI(
        title="warroom",
        version="0.1.0",
        lifespan=lifespan,
        telemetry=fastapi_telemetry(os.environ),
    )
    # Any route whose database goes away answers 503 JSON, never a stack trace.
    app.add_exception_handler(SQLAlchemyError, database_unavailable)
    # FastAPI's defaults answer {"detail": ...}; every answer of ours is {"error": ...}.
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.state.runtime = runtime
    metrics = Metrics()
    metrics.watch_outbox(runtime.sessions)
    metrics.watch_incidents(runtime.sessions)
    app.state.metrics = metrics
    http_client = make_client()
    alert_routes = build_alerts_router(runtime, http_client).routes
    assert isinstance(alert_routes[0], APIRoute)
    # Innermost: alerts pass the observer and the body caps like any request, then skip
    # the router's layers (see bot/web/alert_lane.py).
    app.add_middleware(AlertLane, route=alert_routes[0])
    # Inside the observer, so refusals are logged and counted like any answer.
    larger = {SANDBOX_UPLOADS: 32 * MIB, ALERTS_PREFIX: runtime.settings.max_alert_body}
    app.add_middleware(BodyCap, larger=larger, on_refused=log_refused)
    if runtime.settings.sandbox_mode:
        from bot.sandbox.guard import SandboxGuard

        app.add_middleware(SandboxGuard, prefix="/sandbox")
    app.add_middleware(ObservedRequests, observers=[request_observer(metrics), log_request])
    # The alert route goes first on the app's own router: it is matched before every other
    # route, once per request (an included router is matched once to be chosen and again
    # inside), for what the lane does not take (another method, a path below it).
    app.router.routes[:0] = alert_routes
    app.include_router(build_api_router(runtime))
    app.include_router(build_tracker_webhooks_router(runtime, webhook_readers(runtime.settings)))
    credentials = _credentials(runtime, public_url, app)
    signatures = SlackSignatures(credentials.signing_secret)
    sandbox = getattr(app.state, "sandbox", None)
    slack = build_slack(
        runtime,
        credentials,
        process_before_response=replay,
        metrics=metrics,
        # Posts are paced as Slack paces them; the local sandbox's pace can be switched off.
        paced=(lambda: sandbox.rate_limits.enabled) if sandbox is not None else None,
    )
    socket_mode = _socket_mode(runtime, slack.bolt, public_url, replay=replay)
    app.state.socket_mode = socket_mode
    operations = SlackOperations(
        slack.client,
        runtime.sessions,
        tz=runtime.domain.tz,
        broadcast_channel=runtime.settings.broadcast_channel,
        template_dir=runtime.settings.template_dir,
    )
    publishing = PostmortemPublishing(
        slack.client,
        runtime.sessions,
        tz=runtime.domain.tz,
        template_dir=runtime.settings.template_dir,
        postmortem_dir=(
            Path(runtime.settings.postmortem_dir) if runtime.settings.postmortem_dir else None
        ),
    )
    scheduler = Scheduler(runtime)
    metrics.watch_scheduler(scheduler.scheduler)
    app.state.scheduler = scheduler
    # A replay runs on simulated time: it must never page anyone or touch a status page.
    integrations = (
        unconfigured_routes(replay=True) if replay else integration_routes(runtime, http_client)
    )
    journal = Journal(runtime.sessions, runtime.domain.clock)
    integrations.update(tracker_routes(runtime.settings, http_client, journal, replay=replay))
    in_use = {name: on and not replay for name, on in configured(runtime.settings).items()}
    dispatcher = Dispatcher(
        runtime.sessions,
        {**integrations, **scheduler.routes(), **operations.routes, **publishing.routes},
        clock=(
            runtime.domain.clock.drifting()
            if isinstance(runtime.domain.clock, SimulatedClock)
            else runtime.domain.clock
        ),
        # In sandbox mode "Slack" is this very server, which has stopped listening by the
        # time a stop waits: a call under way can only fail and back off, so it is not
        # waited for (what it had begun is handed back and resumed on the next start).
        grace=0.2 if runtime.settings.sandbox_mode else 5.0,
        on_failed=metrics.outbox_op_failed,
    )
    app.state.dispatcher = dispatcher

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """The database answers; which integrations are configured."""
        try:
            ping(runtime.engine)
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        shown = {name: "configured" if on else "not configured" for name, on in in_use.items()}
        return JSONResponse({"status": "ok", "database": "ok", "integrations": shown})

    @app.get("/metrics", include_in_schema=False)
    def metrics_route() -> Response:
        """Prometheus metrics."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Everything Slack sends: commands, interactivity, events (signatures checked)."""
        body = await request.body()  # capped by BodyCap before this reads it
        refusal = signatures.refusal(request.headers, body)
        if refusal is not None:
            return JSONResponse({"error": refusal}, 401)
        try:
            body.decode()
        except UnicodeDecodeError:
            return JSONResponse({"error": "body is not UTF-8"}, 400)
        return await slack.handler.handle(request)

    return app
