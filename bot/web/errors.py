"""JSON error answers for the web routes: `{"error": "...", "details": [...]}`, never a trace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str
    details: list[str] | None = None


class WebError(Exception):
    """An HTTP error answer with a JSON body; raised anywhere in a route or its dependencies."""

    def __init__(
        self,
        status_code: int,
        body: dict[str, Any] | str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.body = {"error": body} if isinstance(body, str) else body
        super().__init__(self.body.get("error", ""))
        self.status_code = status_code
        self.headers = headers

    def response(self) -> JSONResponse:
        """Render as a JSON response."""
        return JSONResponse(self.body, self.status_code, headers=self.headers)


DATABASE_UNAVAILABLE = {"error": "database unavailable"}


def _describe(error: RequestValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ())) or "request"
        lines.append(f"{where}: {item.get('msg', 'invalid')}")
    return lines


class JSONErrorRoute(APIRoute):
    """A route whose errors (our own, request validation, database) answer in our JSON shape.

    A router cannot carry exception handlers, and the app's default ones answer
    `{"detail": ...}`; wrapping the handler keeps the error contract inside the adapter.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except WebError as error:
                return error.response()
            except RequestValidationError as error:
                body = {"error": "invalid request", "details": _describe(error)}
                return JSONResponse(body, 422)
            except SQLAlchemyError as error:
                # The message can carry SQL and parameters: keep it in the log only.
                log.error("database error on %s %s: %r", request.method, self.path, error)
                return JSONResponse(DATABASE_UNAVAILABLE, 503)

        return handle


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """App-wide handler: a database error on any route answers 503 in our JSON shape.

    Install with `app.add_exception_handler(SQLAlchemyError, database_unavailable)`; the
    routes of this package already answer so themselves, this covers every other one.
    """
    log.error("database error on %s %s: %r", request.method, request.url.path, error)
    return JSONResponse(DATABASE_UNAVAILABLE, 503)


async def http_error(_request: Request, error: Exception) -> Response:
    """App-wide handler: the framework's own 404, 405 and the like in our JSON shape.

    Install for starlette's `HTTPException`; headers such as 405's `Allow` are kept.
    """
    assert isinstance(error, StarletteHTTPException)
    if error.status_code < 200 or error.status_code in (204, 304):
        return Response(status_code=error.status_code, headers=error.headers)
    return JSONResponse({"error": str(error.detail)}, error.status_code, headers=error.headers)


async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
    """App-wide handler: request validation outside this package's routes, in our shape."""
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"error": "invalid request", "details": _describe(error)}, 422)
