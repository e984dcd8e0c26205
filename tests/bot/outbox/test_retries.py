"""The retry policy on its own: what each way a try can fail means for its operation."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from bot.outbox.errors import GiveUp, RetryLater
from bot.outbox.retries import (
    FAULT,
    MAX_BACKOFF,
    MAX_FAULTS,
    REFUSED,
    Fail,
    Retry,
    backoff,
    judge,
    worn_out,
)
from storage.models import OutboxOp


def op(attempts: int = 0, faults: int = 0, last_error: str | None = None) -> OutboxOp:
    return OutboxOp(
        id=7, kind="post_message", payload={}, attempts=attempts, faults=faults,
        last_error=last_error,
    )  # fmt: skip


def test_the_far_sides_retry_after_is_kept_and_no_fault_is_counted() -> None:
    assert judge(op(attempts=5), RetryLater("ratelimited", 30.0)) == Retry("ratelimited", 30.0)


def test_retry_later_without_a_delay_backs_off_by_attempts() -> None:
    verdict = judge(op(attempts=3), RetryLater("timeout"))
    assert isinstance(verdict, Retry) and not verdict.fault
    assert 0.5 * 2**3 * 0.8 <= verdict.delay <= 0.5 * 2**3 * 1.2


def test_give_up_fails_for_good_as_refused() -> None:
    assert judge(op(), GiveUp("channel_not_found")) == Fail("channel_not_found", REFUSED)


def test_the_database_down_is_retried_without_a_fault() -> None:
    error = OperationalError("INSERT", {}, Exception("database is locked"))
    verdict = judge(op(faults=MAX_FAULTS - 1), error)
    assert isinstance(verdict, Retry) and not verdict.fault
    assert verdict.error.startswith("database: ")


def test_our_own_failure_is_a_fault_until_the_last_try_fails_it() -> None:
    early = judge(op(faults=MAX_FAULTS - 2), KeyError("channel"))
    assert isinstance(early, Retry)
    assert early == Retry("KeyError: 'channel'", early.delay, fault=True)
    last = judge(op(faults=MAX_FAULTS - 1), KeyError("channel"))
    told = f"it failed in warroom {MAX_FAULTS} times (KeyError)"
    assert last == Fail(f"{told}: KeyError: 'channel'", FAULT, told=told, fault=True)


def test_an_operation_whose_tries_never_reported_back_is_worn_out_at_max_faults() -> None:
    assert worn_out(op(faults=MAX_FAULTS - 1, last_error="lease expired")) is None
    worn = worn_out(op(faults=MAX_FAULTS, last_error="lease expired"))
    told = f"it never finished in {MAX_FAULTS} tries"
    assert worn == Fail(f"{told}: lease expired", FAULT, told=told)


def test_backoff_is_capped_with_jitter() -> None:
    assert all(MAX_BACKOFF * 0.8 <= backoff(n) <= MAX_BACKOFF * 1.2 for n in (12, 40, 10_000))
    assert 0.4 <= backoff(0) <= 0.6
