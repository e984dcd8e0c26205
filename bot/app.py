"""The ASGI app: health routes here, the adapters' routers hung on it."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bot.runtime import Runtime
from storage.db import ping


def create_app(runtime: Runtime) -> FastAPI:
    """Build the FastAPI app around a runtime."""
    app = FastAPI(title="warroom", version="0.1.0")
    app.state.runtime = runtime

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """The database answers."""
        try:
            ping(runtime.engine)
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return app
