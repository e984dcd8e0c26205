"""An app that misses Slack's 3 s deadline: the sandbox answers as Slack does and logs where
each thread of this process was at the deadline (with the app served here, the cause)."""

from __future__ import annotations

import logging
import threading

import httpx
from fastapi import FastAPI

from bot.sandbox.delivery import APP_TIMEOUT, post_to_app
from tests.support.server import run_app_in_thread


def test_a_late_app_times_out_and_the_log_shows_what_held_it_up(caplog) -> None:
    released = threading.Event()
    app = FastAPI()

    @app.post("/slack/events")
    def stuck_on_a_lock() -> dict[str, bool]:  # a sync endpoint: served by a worker thread
        released.wait(APP_TIMEOUT + 5)
        return {"ok": True}

    with run_app_in_thread(app) as base, httpx.Client() as http:
        with caplog.at_level(logging.WARNING, logger="bot.sandbox.delivery"):
            answer = post_to_app(
                http, f"{base}/slack/events", "secret", b"command=%2Fincident", "x"
            )
        released.set()

    assert (answer.status, answer.failure) == (0, "http_timeout")
    [record] = [r for r in caplog.records if "did not answer" in r.getMessage()]
    assert "/slack/events within 3 s" in record.getMessage()
    assert "in stuck_on_a_lock" in record.getMessage()
