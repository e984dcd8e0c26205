"""State lives in the bot's database: a restart keeps everything; ts come from the clock."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, inspect

from bot.incidents.clock import SimulatedClock
from bot.sandbox import Sandbox
from bot.sandbox.client import SandboxClient
from tests.bot.sandbox.conftest import sandbox_app
from tests.support.server import run_app_in_thread


def test_restart_on_the_same_database_keeps_state(engine: Engine) -> None:
    app, _ = sandbox_app(engine)
    with run_app_in_thread(app) as url:
        sandbox = SandboxClient(url)
        before = sandbox.info()
        bot = sandbox.bot()
        channel_id = bot.conversations_create(name="inc-survives")["channel"]["id"]
        bot.conversations_invite(channel=channel_id, users="U0ALICE")
        posted = bot.chat_postMessage(channel=channel_id, text="still here")
        sandbox.close()
    app, _ = sandbox_app(engine)
    with run_app_in_thread(app) as url:
        sandbox = SandboxClient(url)
        after = sandbox.info()
        assert after["bot_token"] == before["bot_token"]
        assert after["signing_secret"] == before["signing_secret"]
        assert [u["token"] for u in after["users"]] == [u["token"] for u in before["users"]]
        assert sandbox.channel("inc-survives")["members"] == ["U0WARROOM", "U0ALICE"]
        texts = [m["text"] for m in sandbox.messages(channel_id) if "subtype" not in m]
        assert texts == ["still here"]
        later = sandbox.bot().chat_postMessage(channel=channel_id, text="after restart")
        assert float(later["ts"]) > float(posted["ts"])
        sandbox.close()


def test_tables_are_its_own(engine: Engine) -> None:
    before = set(inspect(engine).get_table_names())
    Sandbox(engine)
    added = set(inspect(engine).get_table_names()) - before
    assert added and all(name.startswith("sandbox_") for name in added)


def test_ts_follows_the_clock_and_never_repeats(engine: Engine) -> None:
    clock = SimulatedClock(datetime(2021, 3, 10, 9, 56, tzinfo=UTC))
    sandbox = Sandbox(engine, clock=clock)
    token = sandbox.bot_token
    stamps = [
        sandbox.call("chat.postMessage", {"channel": "C0INCIDENTS", "text": str(n)}, token=token)
        for n in range(3)
    ]
    ts = [s["ts"] for s in stamps]
    assert ts == ["1615370160.000000", "1615370160.000001", "1615370160.000002"]
    events: list[dict] = []
    sandbox.subscribe(events.append)
    sandbox.call(
        "reactions.add",
        {"channel": "C0INCIDENTS", "timestamp": ts[0], "name": "pushpin"},
        token=token,
    )
    assert [(e["type"], e["reaction"], e["item"]["ts"]) for e in events] == [
        ("reaction_added", "pushpin", ts[0])
    ]
