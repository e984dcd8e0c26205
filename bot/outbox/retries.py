"""The retry policy: when a failed outbox operation is tried again, and when it is failed
for good, so that it never holds up the operations of its incident behind it."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from bot.outbox.errors import GiveUp, RetryLater
from storage.models import OutboxOp

# The dispatcher's logger: its retries and failures read as one stream, filtered by one name.
log = logging.getLogger("bot.outbox.dispatcher")

MAX_BACKOFF = 300.0
# A try that fails in our own code (a bug, a row that cannot be encoded) or never reports
# back is retried, as a deploy or a restart may cure it; but eight such tries, about two
# minutes of backoff, are enough to know it will not: the operation is failed, so it never
# holds up the operations of its incident behind it for good.
MAX_FAULTS = 8

# Why an operation failed for good, as /metrics counts it: the far side refused it, this
# code cannot read it, or it failed in our own code MAX_FAULTS times.
REFUSED, UNREADABLE, FAULT = "refused", "unreadable", "fault"


def backoff(attempts: int) -> float:
    """Seconds before the next try: exponential with jitter, capped at five minutes."""
    base = min(MAX_BACKOFF, 0.5 * 2 ** min(attempts, 12))
    return base * random.uniform(0.8, 1.2)


@dataclass(frozen=True)
class Retry:
    """Try the operation again in `delay` seconds; `fault`: it failed in our own code."""

    error: str
    delay: float
    fault: bool = False


@dataclass(frozen=True)
class Fail:
    """Fail the operation for good: `cause` as /metrics counts it; `told`, when set, is what
    the incident's channel is told instead of the whole `error`."""

    error: str
    cause: str
    told: str | None = None
    fault: bool = False


def worn_out(op: OutboxOp) -> Fail | None:
    """An operation whose last MAX_FAULTS tries never reported back is failed for good."""
    if op.faults < MAX_FAULTS:
        return None
    reason = f"it never finished in {op.faults} tries"
    return Fail(f"{reason}: {op.last_error}", FAULT, told=reason)


def judge(op: OutboxOp, error: Exception) -> Retry | Fail:
    """What a try of `op` that raised `error` means: when to try again, or a failure."""
    if isinstance(error, RetryLater):
        # The far side said when to come back (Retry-After); else the usual backoff.
        delay = error.delay_seconds
        return Retry(error.reason, backoff(op.attempts) if delay is None else delay)
    if isinstance(error, GiveUp):
        return Fail(error.reason, REFUSED)
    if isinstance(error, OperationalError):  # the database, not the operation: no fault
        return Retry(f"database: {error}", backoff(op.attempts))
    # A bug, or a failure nobody classified: retried with backoff, failed at MAX_FAULTS.
    faults = op.faults + 1
    detail = f"{type(error).__name__}: {error}"
    log.warning(
        "outbox op %s (%s) failed in warroom (%d of %d tries)",
        op.id,
        op.kind,
        faults,
        MAX_FAULTS,
        exc_info=error,
    )
    if faults < MAX_FAULTS:
        return Retry(detail, backoff(op.attempts), fault=True)
    told = f"it failed in warroom {faults} times ({type(error).__name__})"
    return Fail(f"{told}: {detail}", FAULT, told=told, fault=True)
