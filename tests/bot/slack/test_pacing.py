"""Posts take turns per channel: a burst at once, then one an interval."""

from __future__ import annotations

import asyncio

from bot.slack.pacing import ChannelPace, _channel

INTERVAL = 0.1


async def _turns(pace: ChannelPace, channels: list[str]) -> list[tuple[str, float]]:
    loop = asyncio.get_running_loop()
    began = loop.time()
    taken: list[tuple[str, float]] = []

    async def one(channel: str) -> None:
        await pace.turn(channel)
        taken.append((channel, loop.time() - began))

    await asyncio.gather(*(one(channel) for channel in channels))
    return taken


async def test_a_burst_goes_at_once_then_one_post_an_interval() -> None:
    pace = ChannelPace(interval=INTERVAL, burst=3)
    taken = await _turns(pace, ["C1"] * 6)
    times = [at for _, at in taken]
    assert all(at < INTERVAL / 2 for at in times[:3]), times
    # Past the burst, each waits its own interval more, in the order they asked.
    for n, at in enumerate(times[3:], start=1):
        assert n * INTERVAL - 0.01 <= at < n * INTERVAL + INTERVAL / 2, times


async def test_a_busy_channel_holds_up_no_other() -> None:
    pace = ChannelPace(interval=INTERVAL, burst=1)
    taken = await _turns(pace, ["C1", "C1", "C1", "C2"])
    other = dict((channel, at) for channel, at in taken if channel == "C2")
    assert other["C2"] < INTERVAL / 2
    assert max(at for channel, at in taken if channel == "C1") >= 2 * INTERVAL - 0.01


async def test_a_channel_that_went_quiet_has_its_burst_again() -> None:
    pace = ChannelPace(interval=INTERVAL, burst=2)
    await _turns(pace, ["C1"] * 2)
    await asyncio.sleep(2 * INTERVAL)
    times = [at for _, at in await _turns(pace, ["C1"] * 2)]
    assert all(at < INTERVAL / 2 for at in times), times


def test_the_channel_is_read_from_the_call_s_arguments() -> None:
    assert _channel({"json": {"channel": "C1", "text": "hi"}}) == "C1"
    assert _channel({"params": {"channel": "C2"}}) == "C2"
    assert _channel({"json": {"text": "no channel"}}) is None


async def test_no_pace_while_switched_off() -> None:
    switched_on = False
    pace = ChannelPace(interval=10.0, burst=1, enabled=lambda: switched_on)
    times = [at for _, at in await _turns(pace, ["C1"] * 3)]
    assert all(at < 1.0 for at in times), times
