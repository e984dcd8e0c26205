from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbooks import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1h30m", timedelta(minutes=90)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 5M ", timedelta(minutes=5)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("td", "expected"),
    [
        (timedelta(seconds=30), "30s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=3), "3d"),
        (timedelta(days=1, seconds=1), "1d1s"),
    ],
)
def test_format_duration(td, expected):
    assert format_duration(td) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("five", "bad duration 'five': expected 30s, 15m, 2h, 3d or 1h30m"),
        ("5", "bad duration '5': expected 30s, 15m, 2h, 3d or 1h30m"),
        ("1.5h", "bad duration '1.5h': expected 30s, 15m, 2h, 3d or 1h30m"),
        ("-1m", "bad duration '-1m': expected 30s, 15m, 2h, 3d or 1h30m"),
        ("", "bad duration '': expected 30s, 15m, 2h, 3d or 1h30m"),
        ("0s", "bad duration '0s': must be longer than zero"),
        ("30m1h", "bad duration '30m1h': units go largest first, each once (1h30m)"),
        ("1m1m", "bad duration '1m1m': units go largest first, each once (1h30m)"),
    ],
)
def test_parse_duration_rejects(text, message):
    with pytest.raises(ValueError) as excinfo:
        parse_duration(text)
    assert str(excinfo.value) == message


@pytest.mark.parametrize("td", [timedelta(0), timedelta(seconds=-5), timedelta(milliseconds=1500)])
def test_format_duration_rejects_what_it_cannot_write(td):
    with pytest.raises(ValueError):
        format_duration(td)


@given(st.integers(min_value=1, max_value=10**8).map(lambda s: timedelta(seconds=s)))
def test_duration_round_trips_from_timedelta(td):
    assert parse_duration(format_duration(td)) == td


@given(st.lists(st.integers(min_value=0, max_value=999), min_size=4, max_size=4).filter(any))
def test_canonical_text_round_trips(counts):
    # A canonical text has each non-zero unit once, largest first, and no unit overflowing.
    days, hours, minutes, seconds = counts[0], counts[1] % 24, counts[2] % 60, counts[3] % 60
    parts = zip((days, hours, minutes, seconds), "dhms", strict=True)
    text = "".join(f"{count}{unit}" for count, unit in parts if count)
    if text:
        assert format_duration(parse_duration(text)) == text
