"""Slack's text made plain once: each form Slack sends, as the domain stores it
(docs.slack.dev/messaging/formatting-message-text)."""

from __future__ import annotations

import pytest

from bot.slack.wire import plain_text, unlabeled_users


@pytest.mark.parametrize(
    ("wire", "plain"),
    [
        ("ETA 10m &amp; counting", "ETA 10m & counting"),
        # Decoded once: what was typed as "&lt;" stays "&lt;".
        ("&amp;lt;b&amp;gt; &lt;b&gt;", "&lt;b&gt; <b>"),
        ("ask <@U0BOB|bob>", "ask @bob"),
        ("in <#C0GENERAL|general>", "in #general"),
        ("in <#C0GENERAL>", "in #C0GENERAL"),
        ("<!here> and <!channel>", "@here and @channel"),
        ("page <!subteam^S0SRE|@sre>", "page @sre"),
        ("at <!date^1392734382^{date}|Feb 18, 2014>", "at Feb 18, 2014"),
        ("see <https://x.test/a?b=1&amp;c=2>", "see https://x.test/a?b=1&c=2"),
        ("see <http://www.x.test|www.x.test>", "see www.x.test"),
        ("mail <mailto:bob@x.test|bob@x.test>", "mail bob@x.test"),
        (
            "<https://github.com/x/pull/1|PR #1> fixed &amp; deployed",
            "[PR #1](https://github.com/x/pull/1) fixed & deployed",
        ),
        # A label or URL that would break the Markdown link is escaped for it.
        ("<https://x.test/a (b)|see [this]>", "[see \\[this\\]](https://x.test/a%20%28b%29)"),
    ],
)
def test_slack_text_becomes_plain_text(wire: str, plain: str) -> None:
    assert plain_text(wire).text == plain


def test_people_mentioned_are_kept_by_the_name_they_read_as() -> None:
    plain = plain_text("<@U0BOB|bob> with <@U0CAROL> and <@U0DAVE|Dave Kim>", {"U0CAROL": "carol"})

    # A label that is not one word reads as the id: the grammar still sees one person.
    assert plain.text == "@bob with @carol and @U0DAVE"
    assert plain.people == {"@bob": "U0BOB", "@carol": "U0CAROL", "@U0DAVE": "U0DAVE"}
    assert unlabeled_users("<@U0BOB|bob> with <@U0CAROL> and <@W0ERIN>") == {"U0CAROL", "W0ERIN"}
