"""The transcript's text as a person reads it in Slack, not as it goes over the wire."""

from __future__ import annotations

import pytest

from bot.replay.readable import readable

USERS = {"U0ALICE": "alice", "U0BOB": "bob"}
CHANNELS = {"C0INC": "inc-20210310-spot"}


@pytest.mark.parametrize(
    ("wire", "shown"),
    [
        ("<@U0ALICE>: comms is now <@U0BOB>", "@alice: comms is now @bob"),
        ("<@U0NEW|carol> joined", "@carol joined"),  # a label stands in for a stranger
        ("<@U0NEW> joined", "@U0NEW joined"),  # nobody knows the name: the id, as Slack would
        ("opened · <#C0INC>", "opened · #inc-20210310-spot"),
        ("see <#C0OTHER|general>", "see #general"),
        ("<!here> look", "@here look"),
        ("<!subteam^S0SRE|@sre> paged", "@sre paged"),
        ("<https://grafana.example/d/1|alert 1>", "alert 1 (https://grafana.example/d/1)"),
        ("<https://grafana.example/d/1>", "https://grafana.example/d/1"),
        ("&lt;!channel&gt; in a label &amp; more", "<!channel> in a label & more"),
    ],
)
def test_mentions_channels_links_and_entities_read_as_slack_shows_them(
    wire: str, shown: str
) -> None:
    assert readable(wire, USERS, CHANNELS) == shown
