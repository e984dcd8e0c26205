"""The durable yardstick for the alert storm: validate, store one row, fsync, then answer 202.

Usage: python bench/baseline_durable.py --port N [--database PATH]
A FastAPI endpoint validating the same pydantic model as warroom's Alertmanager route and
committing one SQLite row per request (WAL, synchronous=FULL: fsynced at commit) before its
202. Requests arriving together share one commit, as warroom's group commit does: one writer
thread takes whatever is queued, inserts it in one transaction, commits, then answers each.
Only the model comes from warroom; everything else is here, so the yardstick is the cost of
"durable before 202" with nothing of warroom's own on top. Served by uvicorn as `warroom
serve` serves the real app (same call, same log level).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sqlite3
import tempfile
import threading
from pathlib import Path
from queue import Empty, SimpleQueue

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bot.alerts.alertmanager import AlertmanagerWebhook

MAX_BATCH = 64  # as warroom's GroupCommit
Pending = tuple[tuple[str, str, str], asyncio.AbstractEventLoop, asyncio.Future[int]]


class GroupWriter:
    """One writer thread: each batch of queued rows is one transaction and one fsync."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, fingerprint TEXT "
            "UNIQUE, group_key TEXT, body TEXT)"
        )
        self.queue: SimpleQueue[Pending] = SimpleQueue()
        threading.Thread(target=self._run, name="group-commit", daemon=True).start()

    async def store(self, row: tuple[str, str, str]) -> int:
        """Queue a row; return its id once its transaction is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self.queue.put((row, loop, future))
        return await future

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except Empty:
                    break
            cursor = self.connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            ids = []
            for row, _, _ in batch:
                cursor.execute(
                    "INSERT INTO alerts (fingerprint, group_key, body) VALUES (?, ?, ?)", row
                )
                ids.append(cursor.lastrowid)
            cursor.execute("COMMIT")
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int]]] = {}
            for (_, loop, future), row_id in zip(batch, ids, strict=True):
                by_loop.setdefault(loop, []).append((future, row_id))
            for loop, settled in by_loop.items():
                loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future[int], int]]) -> None:
    for future, row_id in settled:
        if not future.done():
            future.set_result(row_id)


def create_app(database: Path) -> FastAPI:
    """Only /healthz and a POST /alerts/alertmanager that validates, stores and commits."""
    app = FastAPI(title="durable alert baseline")
    writer = GroupWriter(database)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/alerts/alertmanager", status_code=202)
    async def receive_alerts(webhook: AlertmanagerWebhook) -> JSONResponse:
        alert = webhook.alerts[0]
        row = (alert.fingerprint or "", webhook.group_key or "", json.dumps(alert.labels))
        row_id = await writer.store(row)
        return JSONResponse({"id": row_id, "alerts": len(webhook.alerts)}, 202)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", type=Path, help="SQLite file (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="durable-baseline-") as folder:
        app = create_app(args.database or Path(folder) / "alerts.db")
        gc.freeze()  # as `warroom serve` does before serving
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
