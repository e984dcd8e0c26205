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
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str
    details: list[str] | None = None
    parameter: str | None = None  # the query parameter refused, when one is


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
DATA_REFUSED = {
    "error": "the database refused this request's data (a value too long or not storable); "
    "nothing was stored"
}
DATABASE_FAILED = {"error": "internal database error; nothing was stored"}

# SQLSTATE classes of PostgreSQL errors about the data, not the server: 22 data exception,
# 23 integrity constraint, 54 program limit exceeded (an index row too big). psycopg files
# class 54 under OperationalError, the class connection failures share.
_DATA_SQLSTATES = ("22", "23", "54")


def _sqlstate(error: SQLAlchemyError) -> str:
    orig = getattr(error, "orig", None)
    return str(getattr(orig, "sqlstate", None) or "")


def database_answer(error: SQLAlchemyError) -> tuple[int, dict[str, str]]:
    """Return the status and body a database error answers with.

    503 only when the database cannot be reached (what `/readyz` reports too); a value it
    refuses is the request's fault (422); anything else is ours (500).
    """
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return 503, DATABASE_UNAVAILABLE
    if isinstance(error, DataError | IntegrityError) or _sqlstate(error).startswith(
        _DATA_SQLSTATES
    ):
        return 422, DATA_REFUSED
    if isinstance(error, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return 503, DATABASE_UNAVAILABLE
    if isinstance(error, StatementError) and isinstance(
        error.orig, ValueError | OverflowError | TypeError
    ):
        return 422, DATA_REFUSED  # a value no column type could bind
    return 500, DATABASE_FAILED


def database_response(error: SQLAlchemyError, where: str) -> JSONResponse:
    """Log a database error (never in the answer: it can carry SQL and values) and answer it."""
    status, body = database_answer(error)
    log.error("database error on %s (answered %d): %r", where, status, error)
    return JSONResponse(body, status)


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
                return database_response(error, f"{request.method} {self.path}")

        return handle


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """App-wide handler: a database error on any route answers in our JSON shape (503 only
    when the database is unreachable, see `database_answer`).

    Install with `app.add_exception_handler(SQLAlchemyError, database_unavailable)`; the
    routes of this package already answer so themselves, this covers every other one.
    """
    assert isinstance(error, SQLAlchemyError)
    return database_response(error, f"{request.method} {request.url.path}")


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
