"""HTTP for the sandbox: Slack's Web API at /api/<method>, uploads, downloads, test controls.

Mount under `/sandbox` so `WebClient(base_url="http://HOST:PORT/sandbox/api/")` works unchanged.
Everything named `sandbox.*` is sandbox-only (no Slack has it) and needs no token. The driver
(commands, clicks, modals, events to the app at `events_url`) and the workspace page hang here too.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from bot.sandbox.downloads import add_download_routes
from bot.sandbox.driver import Driver
from bot.sandbox.driver_routes import build_driver_router
from bot.sandbox.faults import parse_fault
from bot.sandbox.methods import METHODS
from bot.sandbox.socket import build_socket_router
from bot.sandbox.ui import add_ui_routes
from bot.sandbox.workspace import Sandbox

SERVER_ERRORS = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}


def _answer(body: dict[str, Any], status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        body, status_code=status, headers={"X-Slack-Req-Id": secrets.token_hex(16), **headers}
    )


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def read_call(request: Request) -> tuple[dict[str, Any], str | None]:
    """Read a Web API call's arguments and token the ways Slack accepts them."""
    args: dict[str, Any] = dict(request.query_params)
    token = args.pop("token", None)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and content_type == "application/json":
        raw = await request.body()
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ValueError("JSON body must be an object")
        # Slack takes a JSON body's token only from the Authorization header.
        body.pop("token", None)
        args.update(body)
    elif request.method == "POST":
        form = await request.form()
        for key, value in form.items():
            if isinstance(value, str):
                args[key] = value
        token = args.pop("token", None) or token
    return args, _bearer(request) or token


def _sandbox_base(request: Request, method: str) -> str:
    """The sandbox's own root URL as this request reached it, ending in `/`."""
    url = str(request.url.replace(query=""))
    return url[: -len(f"api/{method}")]


def build_sandbox_router(
    sandbox: Sandbox,
    *,
    events_url: str | None = None,
    retry_delays: tuple[float, ...] | None = None,
) -> APIRouter:
    """Return the sandbox's routes; mount them with `app.include_router(r, prefix="/sandbox")`.

    Args:
        events_url: the app's Request URL (`http://HOST:PORT/slack/events`) for commands,
            interactivity and events; `sandbox.events_url` may also be set later.
        retry_delays: seconds before each retry of a failed event delivery.
    """
    if events_url is not None:
        sandbox.events_url = events_url
    driver = sandbox.driver
    if driver is None:
        driver = (
            Driver(sandbox) if retry_delays is None else Driver(sandbox, retry_delays=retry_delays)
        )
    router = APIRouter(tags=["sandbox"])
    add_ui_routes(router, sandbox)
    router.include_router(build_driver_router(driver))
    router.include_router(build_socket_router(driver.sockets, sandbox.app_token))

    @router.get("/api/sandbox.info")
    def sandbox_info() -> dict[str, Any]:
        """Sandbox-only: bot token, signing secret, team, users with tokens, groups, channels."""
        return sandbox.info()

    @router.post("/api/sandbox.faults")
    async def sandbox_faults(request: Request) -> JSONResponse:
        """Sandbox-only: arm a fault for the next calls, or `{"mode": "clear"}`."""
        try:
            spec = json.loads(await request.body() or b"{}")
            if spec.get("mode") == "clear":
                sandbox.faults.clear()
            else:
                sandbox.faults.add(parse_fault(spec))
        except (ValueError, TypeError, AttributeError) as exc:
            return _answer({"ok": False, "error": "invalid_arguments", "detail": str(exc)}, 400)
        return _answer({"ok": True, "faults": sandbox.faults.active()})

    @router.get("/api/sandbox.faults")
    def sandbox_faults_list() -> dict[str, Any]:
        return {"ok": True, "faults": sandbox.faults.active()}

    @router.api_route("/api/sandbox.rateLimits", methods=["GET", "POST"])
    async def sandbox_rate_limits(request: Request) -> JSONResponse:
        """Sandbox-only: `{"enabled": false}` turns Slack's rate limits off, true back on
        (with every budget full again); GET tells whether they are on."""
        if request.method == "POST":
            try:
                spec = json.loads(await request.body() or b"{}")
            except ValueError:
                spec = None
            if not isinstance(spec, dict) or not isinstance(spec.get("enabled"), bool):
                detail = 'body must be {"enabled": true|false}'
                return _answer({"ok": False, "error": "invalid_arguments", "detail": detail}, 400)
            sandbox.rate_limits.enabled = spec["enabled"]
            sandbox.rate_limits.reset()
        return _answer({"ok": True, "enabled": sandbox.rate_limits.enabled})

    @router.get("/api/sandbox.calls")
    def sandbox_calls(method: str | None = None) -> dict[str, Any]:
        """Sandbox-only: every Web API call answered, oldest first (`?method=` filters)."""
        return {"ok": True, "calls": sandbox.calls.entries(method)}

    @router.api_route("/api/sandbox.calls.reset", methods=["POST", "DELETE"])
    def sandbox_calls_reset() -> dict[str, Any]:
        sandbox.calls.reset()
        return {"ok": True}

    @router.post("/api/sandbox.addUser")
    async def sandbox_add_user(request: Request) -> JSONResponse:
        """Sandbox-only: create a human user if new: `{"name", "email"?, "real_name"?, "tz"?}`."""
        spec = json.loads(await request.body() or b"{}")
        if not isinstance(spec, dict) or not spec.get("name"):
            return _answer({"ok": False, "error": "invalid_arguments"}, 400)
        profile = {k: spec[k] for k in ("email", "real_name", "tz") if spec.get(k)}
        user = await run_in_threadpool(sandbox.add_user, spec["name"], **profile)
        return _answer({"ok": True, "user": user})

    @router.get("/api/sandbox.channel")
    def sandbox_channel(channel: str) -> JSONResponse:
        """Sandbox-only: a channel by id or name, with its members, whoever is in it."""
        try:
            return _answer({"ok": True, "channel": sandbox.channel(channel)})
        except KeyError:
            return _answer({"ok": False, "error": "channel_not_found"})

    @router.get("/api/sandbox.messages")
    def sandbox_messages(
        channel: str, replies: bool = False, ephemeral: bool = False
    ) -> JSONResponse:
        """Sandbox-only: a channel's messages oldest first, optionally replies and ephemerals."""
        try:
            found = sandbox.messages(channel, replies=replies, ephemeral=ephemeral)
        except KeyError:
            return _answer({"ok": False, "error": "channel_not_found"})
        return _answer({"ok": True, "messages": found})

    @router.api_route("/api/{method}", methods=["GET", "POST"])
    async def web_api(method: str, request: Request) -> JSONResponse:
        try:
            args, token = await read_call(request)
        except ValueError:
            return _answer({"ok": False, "error": "invalid_json"})
        fault = sandbox.faults.take(method) if method in METHODS else None
        if fault is not None and fault.mode == "ratelimit":
            sandbox.calls.record(method, status=429, ok=False, error="ratelimited")
            body = {"ok": False, "error": "ratelimited"}
            return _answer(body, 429, **{"Retry-After": str(fault.retry_after)})
        if fault is not None and fault.mode == "error":
            error = SERVER_ERRORS.get(fault.status, "internal_error")
            sandbox.calls.record(method, status=fault.status, ok=False, error=error)
            return _answer({"ok": False, "error": error}, fault.status)
        # An armed fault stands in for Slack's answer; the rate limits judge every other call.
        if fault is None and method in METHODS:
            channel = args.get("channel")
            channel = channel if isinstance(channel, str) else None
            wait = sandbox.rate_limits.take(token, method, channel)
            if wait is not None:
                sandbox.calls.record(
                    method, status=429, ok=False, error="ratelimited", channel=channel
                )
                body = {"ok": False, "error": "ratelimited"}
                return _answer(body, 429, **{"Retry-After": str(wait)})
        if fault is not None and fault.mode == "slow":
            await asyncio.sleep(fault.delay)
        base = _sandbox_base(request, method)
        driver.note_origin(base)
        body = await run_in_threadpool(sandbox.call, method, args, token=token, base_url=base)
        if fault is not None and fault.mode == "late":
            await asyncio.sleep(fault.delay)  # done and stored: only the answer is held back
        return _answer(body)

    @router.post("/files/upload/{file_id}")
    async def upload(file_id: str, request: Request) -> Response:
        """The upload URL files.getUploadURLExternal hands out: the raw bytes are the body."""
        data = await request.body()
        if not await run_in_threadpool(sandbox.receive_upload, file_id, data):
            return PlainTextResponse("not found", status_code=404)
        return PlainTextResponse(f"OK - {len(data)}")

    add_download_routes(router, sandbox)
    return router
