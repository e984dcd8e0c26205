"""Baseline for the alert storm: a bare FastAPI endpoint that only validates and answers 202.

Usage: python bench/baseline_app.py --port N
Served by uvicorn exactly as `warroom serve` serves the real app (same call, same log level),
so the alert storm's ratio measures what warroom adds on top of HTTP, JSON and pydantic.
"""

from __future__ import annotations

import argparse
import gc

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bot.alerts.alertmanager import AlertmanagerWebhook


def create_app() -> FastAPI:
    """Only /healthz and a POST /alerts/alertmanager that validates the webhook model."""
    app = FastAPI(title="alert baseline")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/alerts/alertmanager", status_code=202)
    async def receive_alerts(webhook: AlertmanagerWebhook) -> JSONResponse:
        return JSONResponse({"incidents": [], "alerts": len(webhook.alerts)}, 202)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app()
    gc.freeze()  # as `warroom serve` does before serving
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
