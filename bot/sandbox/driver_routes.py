"""HTTP for the driver: sandbox-only `sandbox.command`-style methods and working response_urls.

Every body is JSON; answers are `{"ok": true, ...}` or `{"ok": false, "error": ...}` like
the Web API. No token is needed: the sandbox trusts whoever can reach it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from bot.sandbox import surface
from bot.sandbox.driver import Driver, DriverError
from bot.sandbox.surface import NotFound


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def sandbox_root(request: Request) -> str:
    """The sandbox's base URL as this request reached it (`http://host:port/sandbox/`)."""
    path = request.url.path
    root = path[: path.index("/api/") + 1] if "/api/" in path else "/sandbox/"
    return str(request.url.replace(path=root, query=""))


def _note(driver: Driver, request: Request) -> str:
    root = sandbox_root(request)
    driver.note_origin(root)
    return root


async def _run(fn: Callable[[], dict[str, Any]]) -> JSONResponse:
    try:
        return JSONResponse(await run_in_threadpool(fn))
    except NotFound as error:
        return JSONResponse({"ok": False, "error": error.error})
    except DriverError as error:
        return JSONResponse({"ok": False, "error": error.error, **error.extra})


def build_driver_router(driver: Driver) -> APIRouter:
    """Routes under the sandbox prefix; include before the catch-all `/api/{method}`."""
    router = APIRouter(tags=["sandbox"])

    async def args(request: Request, *required: str) -> dict[str, Any] | JSONResponse:
        try:
            body = await _json(request)
        except ValueError:
            return JSONResponse({"ok": False, "error": "invalid_json"}, 400)
        missing = [name for name in required if not body.get(name)]
        if missing:
            detail = f"missing required field: {missing[0]}"
            return JSONResponse({"ok": False, "error": "invalid_arguments", "detail": detail}, 400)
        return body

    @router.post("/api/sandbox.command")
    async def sandbox_command(request: Request) -> JSONResponse:
        """`{"user", "channel", "text": "/incident ack"}`: the user runs a slash command."""
        body = await args(request, "user", "channel", "text")
        if isinstance(body, JSONResponse):
            return body
        root = _note(driver, request)
        return await _run(
            lambda: driver.command(body["user"], body["channel"], body["text"], sandbox_url=root)
        )

    @router.post("/api/sandbox.click")
    async def sandbox_click(request: Request) -> JSONResponse:
        """`{"user", "channel", "action_id", "message_ts"?, "value"?}`: a button click."""
        body = await args(request, "user", "channel", "action_id")
        if isinstance(body, JSONResponse):
            return body
        root = _note(driver, request)
        return await _run(
            lambda: driver.click(
                body["user"],
                body["channel"],
                body["action_id"],
                message_ts=body.get("message_ts"),
                value=body.get("value"),
                sandbox_url=root,
            )
        )

    @router.post("/api/sandbox.clickHome")
    async def sandbox_click_home(request: Request) -> JSONResponse:
        """`{"user", "action_id", "value"?}`: a button click on the user's App Home."""
        body = await args(request, "user", "action_id")
        if isinstance(body, JSONResponse):
            return body
        _note(driver, request)
        return await _run(
            lambda: driver.click_home(body["user"], body["action_id"], value=body.get("value"))
        )

    @router.post("/api/sandbox.submitView")
    async def sandbox_submit_view(request: Request) -> JSONResponse:
        """`{"user", "values": {block_id: value}, "view_id"?}`: submit an open modal."""
        body = await args(request, "user")
        if isinstance(body, JSONResponse):
            return body
        values = body.get("values") or {}
        if not isinstance(values, dict):
            return JSONResponse({"ok": False, "error": "invalid_arguments"}, 400)
        _note(driver, request)
        return await _run(
            lambda: driver.submit_view(body["user"], values, view_id=body.get("view_id"))
        )

    @router.post("/api/sandbox.closeView")
    async def sandbox_close_view(request: Request) -> JSONResponse:
        """`{"user", "view_id"?}`: the user cancels a modal."""
        body = await args(request, "user")
        if isinstance(body, JSONResponse):
            return body
        return await _run(lambda: driver.close_view(body["user"], body.get("view_id")))

    @router.post("/api/sandbox.openHome")
    async def sandbox_open_home(request: Request) -> JSONResponse:
        """`{"user"}`: the user opens the app's Home tab (app_home_opened goes out)."""
        body = await args(request, "user")
        if isinstance(body, JSONResponse):
            return body
        _note(driver, request)
        return await _run(lambda: driver.open_home(body["user"]))

    @router.get("/api/sandbox.views")
    def sandbox_views(user: str) -> JSONResponse:
        """A user's open modals (the newest last) and App Home view."""
        try:
            user_id = driver.user_id(user)
        except NotFound as error:
            return JSONResponse({"ok": False, "error": error.error})
        modals = surface.open_views(driver.sandbox, user_id)
        home = surface.home_view(driver.sandbox, user_id)
        return JSONResponse({"ok": True, "views": modals, "home": home})

    @router.get("/api/sandbox.deliveries")
    def sandbox_deliveries() -> dict[str, Any]:
        """Every Events API delivery so far with its attempts, oldest first."""
        return {"ok": True, "deliveries": driver.events.deliveries()}

    @router.post("/response/{response_id}")
    async def response_url(response_id: str, request: Request) -> JSONResponse:
        """A response_url from a command or a click: post, replace or delete as Slack does."""
        try:
            body = await _json(request)
        except ValueError:
            return JSONResponse({"ok": False, "error": "invalid_payload"}, 400)
        try:
            answer = await run_in_threadpool(driver.respond, response_id, body)
        except DriverError as error:
            refused = {"ok": False, "error": error.error, **error.extra}
            return JSONResponse(refused, error.status)
        return JSONResponse(answer)

    return router
