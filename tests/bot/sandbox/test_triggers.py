"""trigger_ids as Slack hands them out: good for 3 seconds and for one modal.

Slack's rules: docs.slack.dev/reference/methods/views.open and views.push (errors
`expired_trigger_id`, `exchanged_trigger_id`, `invalid_trigger_id`, format
"132456.7890123.abcdef") and docs.slack.dev/surfaces/modals ("trigger_id ... expires in 3
seconds").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.incidents.clock import SimulatedClock
from bot.sandbox import Sandbox
from bot.sandbox.client import SandboxClient
from bot.sandbox.surface import open_views
from tests.bot.sandbox.conftest import sandbox_app
from tests.support.server import run_app_in_thread

MODAL = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Declare"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
}


@pytest.fixture
def timed(engine: Engine, clock: SimulatedClock) -> Iterator[tuple[Sandbox, WebClient]]:
    app, sandbox = sandbox_app(engine, clock=clock)
    with run_app_in_thread(app) as url:
        client = SandboxClient(url)
        yield sandbox, client.bot()
        client.close()


def refused(bot: WebClient, trigger_id: str, method: str = "views_open") -> str:
    with pytest.raises(SlackApiError) as caught:
        getattr(bot, method)(trigger_id=trigger_id, view=MODAL)
    return caught.value.response["error"]


def test_a_trigger_opens_one_modal_for_its_user(timed) -> None:
    sandbox, bot = timed
    trigger = sandbox.issue_trigger("U0CAROL")
    assert trigger.count(".") == 2  # Slack's shape: 132456.7890123.abcdef
    opened = bot.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert [v["id"] for v in open_views(sandbox, "U0CAROL")] == [opened["id"]]
    assert refused(bot, trigger) == "exchanged_trigger_id"
    assert refused(bot, trigger, "views_push") == "exchanged_trigger_id"


def test_a_trigger_expires_after_3_seconds(timed, clock: SimulatedClock) -> None:
    sandbox, bot = timed
    in_time = sandbox.issue_trigger("U0ALICE")
    late = sandbox.issue_trigger("U0ALICE")
    clock.advance(timedelta(seconds=3))
    assert bot.views_open(trigger_id=in_time, view=MODAL)["ok"]
    clock.advance(timedelta(milliseconds=1))
    assert refused(bot, late) == "expired_trigger_id"
    assert len(open_views(sandbox, "U0ALICE")) == 1


def test_made_up_or_malformed_triggers_are_invalid(timed) -> None:
    _, bot = timed
    assert refused(bot, "12345.67890.abcdef") == "invalid_trigger_id"
    assert refused(bot, "not-a-trigger") == "invalid_trigger_id"


def test_a_refused_view_leaves_the_trigger_for_the_corrected_one(timed) -> None:
    sandbox, bot = timed
    trigger = sandbox.issue_trigger("U0ALICE")
    with pytest.raises(SlackApiError) as caught:
        bot.views_open(trigger_id=trigger, view={"type": "modal"})
    assert caught.value.response["error"] == "invalid_arguments"
    assert bot.views_open(trigger_id=trigger, view=MODAL)["ok"]
