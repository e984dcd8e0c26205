"""What the dispatcher is given: per effect type, the handler and its optional hooks.

The dispatcher knows no far side. An adapter registers a `Route` for each effect type it
carries out; a route may offer to coalesce an operation with the ones queued after it in
its chain (skip a redraw a later one repeats, send several echoes as one message).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from bot.incidents.effects import Effect
from bot.incidents.notices import Notice

E = TypeVar("E", bound=Effect)
Result = dict[str, Any]


@dataclass(frozen=True)
class Attempt:
    """The operation an effect came from: its id (stable across retries, for the far side
    to deduplicate), whether an earlier attempt may have got part of the way (a retry, or
    work resumed from a crashed worker), how many attempts went before, and when it was
    created (how far back a retry looks for what an earlier attempt did)."""

    op_id: int
    resumed: bool = False
    attempts: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True)
class Superseded:
    """The operation needs no call: a later one of its chain does all it would."""

    result: Result = field(default_factory=lambda: {"superseded": True})


@dataclass(frozen=True)
class Together:
    """The operation and the `size - 1` after it go out in one `run_together` call."""

    size: int


# Given an operation's effect and the effects queued after it in its chain (None for
# one that cannot be read), say how to coalesce; None: run it alone.
Coalescer = Callable[[E, Sequence[Effect | None]], Superseded | Together | None]


@dataclass(frozen=True)
class Remark:
    """What people are told of an operation once it is done: part of it the far side
    refused while the rest was done (a person who cannot be invited), or what it came to
    (whom a page reached, whether the status page was updated). Told in the incident
    channel as `notice`, kept in the timeline as `text` (of kind `entry`; None: the
    channel only), once, when the operation is marked done."""

    notice: Notice
    text: str | None
    entry: str = "delivery_refused"


# Given an operation's effect and what its run returned, what to tell people about it.
Remarks = Callable[[E, Result], Sequence[Remark]]

# Given an operation's effect and why it failed for good, the notice to tell in place of
# the generic "could not ..." (None: the generic one).
Refusal = Callable[[E, str], Notice | None]


@dataclass(frozen=True)
class Route(Generic[E]):
    """How one effect type is carried out.

    `run` carries out one operation and returns what to store as its result, or raises
    GiveUp / RetryLater. `run_together` carries out several at once (first attempts only:
    an operation that may have got part of the way runs alone, for its route to look for
    what it did), one result each, in order; if it raises, each operation is run alone,
    as resumed (the far side may have done it all). `remarks` reads a result for what to
    tell of it; `refused` words an operation the far side refused for good.
    """

    run: Callable[[E, Attempt], Awaitable[Result]]
    coalesce: Coalescer[E] | None = None
    run_together: Callable[[list[E], list[Attempt]], Awaitable[list[Result]]] | None = None
    remarks: Remarks[E] | None = None
    refused: Refusal[E] | None = None


Routes = Mapping[type[Effect], Route[Any]]
