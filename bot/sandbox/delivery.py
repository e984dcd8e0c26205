"""Signed requests to the app, and Events API delivery in order with Slack's retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)

# Slack gives an app 3 seconds to answer anything it sends.
APP_TIMEOUT = 3.0
RETRY_DELAYS = (0.5, 2.0, 5.0)
STACK_DEPTH = 15  # calls shown of each thread when the app misses the deadline


def signed_headers(secret: str, body: bytes, content_type: str, *, now: float) -> dict[str, str]:
    """Return the v0 signing headers Slack puts on every request to an app."""
    timestamp = str(int(now))
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


@dataclass
class AppAnswer:
    """What the app answered: status (0 when unreachable), headers, body, and why it failed."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> dict[str, Any] | None:
        """The body as a JSON object, else None (an empty or plain-text ack)."""
        try:
            value = json.loads(self.body) if self.body.strip() else None
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def post_to_app(
    http: httpx.Client,
    url: str,
    secret: str,
    body: bytes,
    content_type: str,
    *,
    extra_headers: dict[str, str] | None = None,
) -> AppAnswer:
    """POST one signed request; never raise for the app's failures."""
    headers = signed_headers(secret, body, content_type, now=time.time())
    headers.update(extra_headers or {})
    try:
        response = http.post(url, content=body, headers=headers, timeout=APP_TIMEOUT)
    except httpx.TimeoutException:
        # With the app served by this process (sandbox mode, the tests), what each of its
        # threads is doing at the deadline says what held the answer up.
        log.warning("the app did not answer %s within %.0f s:\n%s", url, APP_TIMEOUT, threads())
        return AppAnswer(0, failure="http_timeout")
    except httpx.HTTPError:
        return AppAnswer(0, failure="connection_failed")
    failure = None if response.is_success else "http_error"
    return AppAnswer(response.status_code, dict(response.headers), response.content, failure)


def threads() -> str:
    """Every thread of this process and where it is, innermost calls last."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    shown = []
    for ident, frame in sys._current_frames().items():
        stack = "".join(traceback.format_stack(frame)[-STACK_DEPTH:])
        shown.append(f"thread {names.get(ident, ident)}:\n{stack}")
    return "\n".join(shown)


@dataclass
class Delivery:
    """One event's delivery: every attempt's status, and whether it finally got through."""

    event_id: str
    type: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "delivered": self.delivered,
            "attempts": list(self.attempts),
        }


class EventQueue:
    """Deliver envelopes one at a time, in order, in a background thread.

    A failed delivery is retried up to len(retry_delays) times with `X-Slack-Retry-Num` and
    `X-Slack-Retry-Reason`, as Slack does (its delays are minutes; the sandbox's are short).
    """

    def __init__(
        self,
        send: Callable[[bytes, dict[str, str]], AppAnswer],
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        keep: int = 500,
    ) -> None:
        self._send = send
        self.retry_delays = retry_delays
        self._keep = keep
        self._queue: queue.Queue[tuple[bytes, Delivery] | None] = queue.Queue()
        self._log: list[Delivery] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def put(self, body: bytes, event_id: str, event_type: str) -> None:
        delivery = Delivery(event_id, event_type)
        with self._lock:
            self._log.append(delivery)
            del self._log[: -self._keep]
            if self._thread is None or not self._thread.is_alive():
                self._stopped.clear()
                self._thread = threading.Thread(
                    target=self._run, name="sandbox-events", daemon=True
                )
                self._thread.start()
        self._queue.put((body, delivery))

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.describe() for d in self._log]

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self) -> None:
        self._stopped.set()
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            except Exception:
                log.exception("sandbox event delivery crashed")
            finally:
                self._queue.task_done()

    def _deliver(self, body: bytes, delivery: Delivery) -> None:
        headers: dict[str, str] = {}
        for attempt in range(len(self.retry_delays) + 1):
            if attempt and self._stopped.wait(self.retry_delays[attempt - 1]):
                return
            answer = self._send(body, headers)
            delivery.attempts.append(
                {"retry_num": attempt, "status": answer.status, "failure": answer.failure}
            )
            if answer.ok:
                delivery.delivered = True
                return
            if answer.headers.get("x-slack-no-retry") == "1":
                break
            headers = {
                "X-Slack-Retry-Num": str(attempt + 1),
                "X-Slack-Retry-Reason": answer.failure or "unknown_error",
            }
        log.warning("sandbox gave up delivering %s %s", delivery.type, delivery.event_id)
