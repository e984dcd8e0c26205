"""Private answers as a responder reads them in Slack: the timeline and the checklist."""

from __future__ import annotations

from datetime import timedelta

from bot.incidents.overview import IncidentList, Listed
from bot.incidents.views import Entry, TasksShown, TimelineShown
from bot.slack.replies import reply_text, said
from bot.usecases.run_command import Reply


def test_the_timeline_reads_in_local_time_with_who_did_what() -> None:
    shown = TimelineShown(
        7,
        "Asia/Hong_Kong",
        (Entry("17:56", "alert", "API error 30030", None), Entry("17:57", "ack", "ack", "bob")),
        earlier=3,
    )
    assert reply_text(Reply(shown=shown)) == (
        "*Timeline of incident #7* (Asia/Hong_Kong)\n"
        "_…3 earlier entries in the postmortem_\n"
        "`17:56` alert: API error 30030\n"
        "`17:57` ack: ack — bob"
    )


def test_the_checklist_ticks_what_is_done() -> None:
    shown = TasksShown("Emergency response", ((1, "Page on-call", True), (2, "Post update", False)))
    assert reply_text(Reply(shown=shown)) == (
        "*Emergency response*\n"
        ":white_check_mark: 1. Page on-call\n"
        ":white_large_square: 2. Post update"
    )
    assert reply_text(Reply(shown=TasksShown(None))) == "This incident has no playbook stages."
    assert reply_text(Reply(shown=TasksShown("Review"))) == "Stage *Review* has no tasks."
    assert reply_text(Reply("plain words")) == "plain words"
    assert reply_text(Reply()) is None


HOSTILE = "Disk <!channel> & <@U0ALICE> full"
SHOWN = "Disk &lt;!channel&gt; &amp; &lt;@U0ALICE&gt; full"


def test_alert_and_responder_text_in_a_private_answer_is_escaped() -> None:
    shown = TimelineShown(7, "UTC", (Entry("17:56", "alert", HOSTILE, "<!here>"),), earlier=0)
    assert reply_text(Reply(shown=shown)).splitlines()[1] == (
        f"`17:56` alert: {SHOWN} — &lt;!here&gt;"
    )
    tasks = TasksShown(HOSTILE, ((1, HOSTILE, False),))
    assert reply_text(Reply(shown=tasks)) == f"*{SHOWN}*\n:white_large_square: 1. {SHOWN}"


def test_the_domains_words_keep_their_markup_and_show_their_placeholders() -> None:
    # A confirmation carrying a title, and help whose `<title>` is to be read, not parsed.
    assert reply_text(Reply(f"Declared incident #3: {HOSTILE}. Opening #inc-3…")) == (
        f"Declared incident #3: {SHOWN}. Opening #inc-3…"
    )
    assert said("Usage: `/incident role <commander|comms> <@user>`") == (
        "Usage: `/incident role &lt;commander|comms&gt; &lt;@user&gt;`"
    )


def test_the_incident_list_escapes_titles_and_counts_what_it_left_out() -> None:
    rows = (
        Listed(9, "sev1", "investigating", timedelta(minutes=42), HOSTILE, "alice", "C09"),
        Listed(8, "sev2", "monitoring", timedelta(hours=2), None, None, None, hidden=True),
        Listed(
            5,
            "sev3",
            "resolved",
            timedelta(minutes=20),
            "Old DNS blip",
            None,
            "C05",
            resolved_ago=timedelta(days=1, hours=1),
        ),
    )
    text = reply_text(Reply(shown=IncidentList(rows, more=4, recent=True)))
    assert text == (
        "*Open and recently resolved incidents*\n"
        f"`sev1` #9 *{SHOWN}* · investigating, open 42m · commander alice · <#C09>\n"
        "`sev2` #8 _a private incident_ · monitoring, open 2h 00m\n"
        "`sev3` #5 *Old DNS blip* · resolved 1d 1h ago, lasted 20m · <#C05>\n"
        "_…and 4 more (all of them: `GET /api/incidents`)_"
    )
    assert reply_text(Reply(shown=IncidentList((), more=0, recent=False))) == ("No open incidents.")
