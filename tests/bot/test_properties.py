"""Properties over any input: untrusted text never becomes a ping, durations and clock times
survive a round trip. (The command parser's own property test is in incidents/test_commands.)"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from bot.incidents.overview import IncidentList, Listed
from bot.incidents.snapshot import IncidentSnapshot, StageFact, Task
from bot.incidents.times import format_duration as show_duration
from bot.incidents.times import format_local, resolve_clock
from bot.sandbox.methods.block_kit import block_errors, view_errors
from bot.slack.blocks import card_blocks, card_text
from bot.slack.escape import escape, link, mention, truncate
from bot.slack.home import dashboard_view
from playbooks.durations import format_duration, parse_duration

# A special mention or a user/group mention, as Slack parses them out of mrkdwn.
PING = re.compile(r"<[!@]")
ATTACKS = st.sampled_from(
    ["<!channel>", "<!here>", "<!everyone>", "<@U0ALICE>", "<!subteam^S0SRE>", "<https://x|y>"]
)
# Text an attacker controls: anything, with Slack's control sequences mixed in often.
UNTRUSTED = st.lists(st.one_of(st.text(), ATTACKS), max_size=5).map("".join)
ZONES = [ZoneInfo(z) for z in ("UTC", "Asia/Hong_Kong", "Europe/Berlin", "America/New_York")]


def mrkdwn(node: Any) -> list[str]:
    """Every string Slack would parse for mentions and links (plain_text never is)."""
    if isinstance(node, list):
        return [text for item in node for text in mrkdwn(item)]
    if not isinstance(node, dict) or node.get("type") == "plain_text":
        return []
    found = [node["text"]] if isinstance(node.get("text"), str) else []
    return found + [text for value in node.values() for text in mrkdwn(value)]


@given(UNTRUSTED)
@example("<!channel> & <@U0ALICE>")
def test_escaped_text_has_no_control_sequence_and_reads_back(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert not PING.search(escaped)
    assert html.unescape(escaped) == text


@given(UNTRUSTED, st.integers(min_value=2, max_value=60))
def test_truncating_escaped_text_never_splits_an_entity(text: str, limit: int) -> None:
    cut = truncate(escape(text), limit)
    assert len(cut) <= limit
    assert not PING.search(cut)
    for match in re.finditer("&", cut):
        assert re.match(r"&(amp|lt|gt);", cut[match.start() :]), cut


@given(st.one_of(st.text(), ATTACKS, st.from_regex(r"[UW][A-Z0-9]{2,10}", fullmatch=True)))
def test_mention_pings_only_a_plain_user_id(user: str) -> None:
    shown = mention(user)
    if PING.search(shown):
        assert re.fullmatch(r"[UW][A-Z0-9]*", user), user
        assert shown == f"<@{user}>"


def home(view: IncidentSnapshot, *, times: int = 1) -> dict[str, Any]:
    """The App Home dashboard listing this incident `times` over, open and not yet joined."""
    row = Listed(
        id=view.id,
        severity=view.severity,
        status=view.status,
        age=timedelta(minutes=5),
        title=view.title,
        commander=view.roles.get("commander"),
        channel_id=view.channel_id,
    )
    return dashboard_view(IncidentList((row,) * times, more=0, recent=False), set())


def card(title: str, impact: str, stage: str, tasks: list[str], **extra: Any) -> IncidentSnapshot:
    started = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
    current = StageFact(
        id="respond",
        title=stage,
        tasks=tuple(Task(n, task, False) for n, task in enumerate(tasks, 1)),
    )
    return IncidentSnapshot(
        id=7,
        title=title,
        severity="sev2",
        status="investigating",
        playbook_id="default",
        drill=False,
        channel_id=None,
        channel_name=None,
        created_at=started,
        started_at=started,
        resolved_at=None,
        impact=impact,
        stages=(current,),
        stage=current,
        **extra,
    )


@settings(max_examples=200)
@given(UNTRUSTED, UNTRUSTED, UNTRUSTED, st.lists(UNTRUSTED, max_size=3))
def test_a_card_from_any_alert_text_pings_no_one(
    title: str, impact: str, stage: str, tasks: list[str]
) -> None:
    view = card(title, impact, stage, tasks)
    tz = ZoneInfo("Asia/Hong_Kong")
    rendered = [*mrkdwn(card_blocks(view, tz)), card_text(view), *mrkdwn(home(view))]
    for text in rendered:
        assert not PING.search(text), text


@given(st.text().map(lambda rest: "https://example.com/" + rest))
@example("https://example.com/x><!channel>")
def test_a_card_with_any_alert_link_pings_no_one(link: str) -> None:
    view = card("disk full", "", "Respond", [], alert_links=(link,))
    for text in mrkdwn(card_blocks(view, ZoneInfo("UTC"))):
        assert not PING.search(text), text


# Untrusted text, now and then thousands of times over: past every Block Kit limit.
LONG = st.one_of(
    UNTRUSTED,
    st.builds(lambda text, times: (text or "&") * times, UNTRUSTED, st.integers(1, 3000)),
)
URL = st.builds(
    lambda rest, times: "https://example.com/" + rest * times, st.text(), st.integers(1, 400)
)


@settings(max_examples=100, deadline=None)
@given(LONG, LONG, LONG, st.lists(LONG, max_size=3), st.lists(URL, max_size=6), LONG)
def test_a_card_and_home_from_any_text_are_block_kit_slack_takes(
    title: str, impact: str, stage: str, tasks: list[str], links: list[str], commander: str
) -> None:
    # The sandbox's checks are Slack's (tests/bot/sandbox/test_block_kit.py).
    view = card(
        title, impact, stage, tasks, alert_links=tuple(links), roles={"commander": commander}
    )
    tz = ZoneInfo("Asia/Hong_Kong")
    assert block_errors(card_blocks(view, tz)) == []
    assert view_errors(home(view, times=45), "home") == []


@given(st.text(), UNTRUSTED)
@example("https://grafana.test/d/x?a=1|click me>", "alert 1")
@example("https://x.test/<!channel>|<@U0ALICE>", "<!here>")
def test_a_url_never_chooses_its_links_label_or_leaves_the_link(url: str, label: str) -> None:
    shown = link(url, label)
    # Slack reads `<url|label>`: one `<`, the first `|` ends the URL, one `>` at the end.
    assert shown.count("<") == 1 and shown.count(">") == 1 and shown.endswith(">")
    target, _, text = shown[1:-1].partition("|")
    assert not any(c.isspace() for c in target)
    assert html.unescape(text) == label
    if "%" not in url:  # it still leads where it said
        assert unquote(html.unescape(target)) == url


@given(st.integers(min_value=1, max_value=10 * 365 * 86_400))
def test_playbook_durations_round_trip(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    written = format_duration(delta)
    assert parse_duration(written) == delta
    assert format_duration(parse_duration(written.upper())) == written


def _read_shown(text: str) -> timedelta:
    """Read back what bot.incidents.times.format_duration wrote (`1h 05m`, `2d 3h`, `-4s`)."""
    sign = -1 if text.startswith("-") else 1
    total = 0
    for number, unit in re.findall(r"(\d+)([dhms])", text):
        total += int(number) * {"d": 86_400, "h": 3_600, "m": 60, "s": 1}[unit]
    return timedelta(seconds=sign * total)


@given(st.integers(min_value=-30 * 86_400, max_value=30 * 86_400))
def test_shown_durations_read_back_to_their_precision(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    shown = show_duration(delta)
    assert re.fullmatch(r"-?(\d+d \d+h|\d+h \d{2}m|\d+m( \d{2}s)?|\d+s)", shown), shown
    precision = 86_400 if "d" in shown else 3_600 if "h" in shown else 1
    if "h" in shown and "d" not in shown:
        precision = 60
    back = _read_shown(shown)
    assert abs(back.total_seconds()) <= abs(seconds)
    assert abs(seconds) - abs(back.total_seconds()) < precision


@st.composite
def moments(draw: st.DrawFn) -> tuple[datetime, datetime, ZoneInfo]:
    """A `now`, an earlier minute within the last day, and a zone, never a doubled local time."""
    now = draw(
        st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2100, 1, 1))
    ).replace(tzinfo=UTC)
    ago = draw(st.integers(min_value=0, max_value=24 * 60 - 1))
    tz = draw(st.sampled_from(ZONES))
    when = (now - timedelta(minutes=ago)).replace(second=0, microsecond=0)
    local = when.astimezone(tz).replace(tzinfo=None)
    # 02:30 on the night clocks go back happens twice: a typed time cannot say which.
    assume(
        local.replace(tzinfo=tz, fold=0).utcoffset() == local.replace(tzinfo=tz, fold=1).utcoffset()
    )
    return now, when, tz


@settings(max_examples=300)
@given(moments())
def test_clock_times_with_a_date_round_trip(moment: tuple[datetime, datetime, ZoneInfo]) -> None:
    now, when, tz = moment
    typed = format_local(when, tz, with_date=True)
    assert resolve_clock(typed, tz=tz, now=now) == when


@settings(max_examples=300)
@given(moments())
def test_clock_times_without_a_date_mean_the_latest_such_time(
    moment: tuple[datetime, datetime, ZoneInfo],
) -> None:
    now, when, tz = moment
    assume(tz.key in ("UTC", "Asia/Hong_Kong"))  # no DST: a day back is always 24 h
    assert resolve_clock(format_local(when, tz), tz=tz, now=now) == when
