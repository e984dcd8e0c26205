"""Baseline for the command ack: a bare Bolt AsyncApp whose `/incident` listener only acks.

Usage: BENCH_SLACK_SIGNING_SECRET=... BENCH_SLACK_BOT_TOKEN=... BENCH_SLACK_API_URL=...
       python bench/baseline_bolt.py --port N
Built like warroom's Slack side (AsyncApp with an AsyncWebClient on the same Web API, the
FastAPI adapter at POST /slack/events, the same signing secret) and served by uvicorn the
same way, so the ratio measures what warroom's listener costs before and around its ack.
"""

from __future__ import annotations

import argparse
import gc
import os

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def create_app(*, signing_secret: str, bot_token: str, api_url: str) -> FastAPI:
    """Only /healthz and POST /slack/events with one ack-only `/incident` listener."""
    bolt = AsyncApp(
        signing_secret=signing_secret,
        client=AsyncWebClient(token=bot_token, base_url=api_url, timeout=15),
    )

    @bolt.command("/incident")
    async def handle_command_incident(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)
    app = FastAPI(title="bolt baseline")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(
        signing_secret=os.environ["BENCH_SLACK_SIGNING_SECRET"],
        bot_token=os.environ["BENCH_SLACK_BOT_TOKEN"],
        api_url=os.environ["BENCH_SLACK_API_URL"],
    )
    gc.freeze()  # as `warroom serve` does before serving
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
