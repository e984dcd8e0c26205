"""Fault injection and the call log: how tests make the sandbox misbehave and count calls."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from bot.sandbox.clock import Clock

# slow: the call waits `delay` seconds, then is carried out. late: the call is carried out at
# once and its answer waits `delay` seconds, as when Slack posted but the client gave up on
# the answer (or the process died before it came): the ambiguous failure.
MODES = {"ratelimit", "error", "slow", "late"}
ERROR_STATUSES = {500, 502, 503, 504}


@dataclass
class Fault:
    """The next `remaining` matching calls answer 429, a 5xx, or late (before or after
    they are carried out)."""

    mode: str
    remaining: int
    retry_after: int = 1
    status: int = 503
    delay: float = 1.0
    methods: frozenset[str] | None = None

    def matches(self, method: str) -> bool:
        return self.remaining > 0 and (self.methods is None or method in self.methods)

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "count": self.remaining,
            "retry_after": self.retry_after,
            "status": self.status,
            "delay": self.delay,
            "methods": sorted(self.methods) if self.methods is not None else None,
        }


def parse_fault(spec: dict[str, Any]) -> Fault:
    """Build a Fault from the JSON body of sandbox.faults, or raise ValueError."""
    mode = spec.get("mode")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)} or clear")
    count = int(spec.get("count", 1))
    if count < 1:
        raise ValueError("count must be at least 1")
    status = int(spec.get("status", 503))
    if mode == "error" and status not in ERROR_STATUSES:
        raise ValueError(f"status must be one of {sorted(ERROR_STATUSES)}")
    methods = spec.get("methods")
    if methods is not None and not (
        isinstance(methods, list) and all(isinstance(m, str) for m in methods)
    ):
        raise ValueError("methods must be a list of method names")
    return Fault(
        mode=mode,
        remaining=count,
        retry_after=max(0, int(spec.get("retry_after", 1))),
        status=status,
        delay=max(0.0, float(spec.get("delay", 1.0))),
        methods=frozenset(methods) if methods is not None else None,
    )


class Faults:
    """Armed faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str) -> Fault | None:
        """Consume one use of the first fault matching method."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method):
                    fault.remaining -= 1
                    self._faults = [f for f in self._faults if f.remaining > 0]
                    return fault
        return None

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]


class CallLog:
    """Every Web API call the sandbox answered, oldest first (kept in memory)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(
        self,
        method: str,
        *,
        status: int,
        ok: bool,
        error: str | None = None,
        channel: str | None = None,
        user: str | None = None,
    ) -> None:
        entry = {
            "method": method,
            "at": self._clock.now().isoformat(),
            "status": status,
            "ok": ok,
            "error": error,
            "channel": channel,
            "user": user,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self, method: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._entries if method is None or e["method"] == method]

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
