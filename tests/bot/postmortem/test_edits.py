"""The section model and the three-way merge that keeps what the team wrote."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.postmortem.edits import edited_headings, merge, split

LAST = """# Postmortem: API down

- **Severity:** SEV-1

## Summary

The API was down.

## Timeline (UTC)

| Time | Event |
|---|---|
| 10:00 | alert fired |

## What went well

_What worked?_

-
"""

FRESH = """# Postmortem: API down

- **Severity:** SEV-1

## Summary

The API was down.

## Timeline (UTC)

| Time | Event |
|---|---|
| 10:00 | alert fired |
| 10:05 | note: rolled back |

## What went well

_What worked?_

-
"""


def test_sections_join_back_to_the_text_and_are_named_by_heading() -> None:
    sections = split(LAST)

    assert "".join(s.text for s in sections) == LAST
    assert [s.heading for s in sections] == [
        "Postmortem: API down",
        "Summary",
        "Timeline (UTC)",
        "What went well",
    ]
    assert [s.key for s in sections] == [
        "#0",
        "## summary",
        "## timeline (utc)",
        "## what went well",
    ]


def test_a_hash_inside_a_code_fence_is_not_a_heading() -> None:
    text = "## Cause\n\n```bash\n# restart the engine\nsystemctl restart engine\n```\n\n## Next\n"

    assert [s.heading for s in split(text)] == ["Cause", "Next"]


def test_text_before_the_first_heading_is_its_own_section() -> None:
    sections = split("Draft, do not share\n\n# Title\nbody\n")

    assert [(s.key, s.text) for s in sections] == [
        ("", "Draft, do not share\n\n"),
        ("#0", "# Title\nbody\n"),
    ]


def test_repeated_headings_get_their_own_keys() -> None:
    keys = [s.key for s in split("## Notes\na\n## Notes\nb\n")]

    assert keys == ["## notes", "## notes (2)"]


def test_an_unedited_draft_becomes_the_fresh_one() -> None:
    merged = merge(LAST, LAST, FRESH)

    assert merged.text == FRESH
    assert merged.kept == ()


def test_an_edited_section_is_kept_and_the_others_refreshed() -> None:
    edited = LAST.replace("The API was down.", "The API was down for 12 minutes: bad deploy.")

    merged = merge(LAST, edited, FRESH)

    assert "The API was down for 12 minutes: bad deploy." in merged.text
    assert "| 10:05 | note: rolled back |" in merged.text
    assert merged.kept == ("Summary",)
    assert "Timeline (UTC)" in merged.refreshed
    assert merged.text == FRESH.replace(
        "The API was down.", "The API was down for 12 minutes: bad deploy."
    )


def test_a_section_the_team_added_stays_where_it_was_put() -> None:
    edited = LAST.replace(
        "## What went well", "## Customer letter\n\nDear customers...\n\n## What went well"
    )

    merged = merge(LAST, edited, FRESH)

    titles = [s.heading for s in split(merged.text)]
    assert titles == [
        "Postmortem: API down",
        "Summary",
        "Timeline (UTC)",
        "Customer letter",
        "What went well",
    ]
    assert "Dear customers..." in merged.text
    assert "| 10:05 | note: rolled back |" in merged.text
    assert merged.kept == ("Customer letter",)


def test_a_section_the_team_deleted_stays_deleted() -> None:
    edited = LAST.replace("## What went well\n\n_What worked?_\n\n-\n", "")

    merged = merge(LAST, edited, FRESH)

    assert "What went well" not in merged.text
    assert merged.dropped == ("What went well",)
    assert "| 10:05 | note: rolled back |" in merged.text


def test_a_section_new_in_the_fresh_draft_comes_after_its_predecessor() -> None:
    fresh = FRESH.replace(
        "## What went well", "## Figure\n\n![timeline](figure.png)\n\n## What went well"
    )
    edited = LAST.replace("The API was down.", "Ours.")

    merged = merge(LAST, edited, fresh)

    titles = [s.heading for s in split(merged.text)]
    assert titles == [
        "Postmortem: API down",
        "Summary",
        "Timeline (UTC)",
        "Figure",
        "What went well",
    ]
    assert "Ours." in merged.text


def test_a_renamed_incident_refreshes_the_title_section() -> None:
    fresh = FRESH.replace("# Postmortem: API down", "# Postmortem: Matching engine down")
    edited = LAST.replace("The API was down.", "Ours.")

    merged = merge(LAST, edited, fresh)

    assert merged.text.startswith("# Postmortem: Matching engine down\n")


def test_line_endings_and_trailing_spaces_are_not_edits() -> None:
    edited = LAST.replace("\n", "\r\n").rstrip() + "   \r\n\r\n"

    assert merge(LAST, edited, FRESH).text == FRESH
    assert edited_headings(LAST, edited) == ()


def test_a_kept_last_section_without_a_final_newline_does_not_swallow_the_next() -> None:
    last = "## A\na\n## B\nb\n"
    edited = "## A\nours"  # B deleted, and the file ends without a newline
    fresh = "## A\na\n## B\nb2\n## C\nc\n"

    merged = merge(last, edited, fresh)

    assert merged.text == "## A\nours\n## C\nc\n"
    assert merged.dropped == ("B",)


def test_edited_headings_name_what_the_team_changed_or_added() -> None:
    edited = LAST.replace("The API was down.", "Ours.") + "\n## Extra\n\nmore\n"

    assert edited_headings(LAST, edited) == ("Summary", "Extra")


_words = st.text(alphabet="abc xyz|-_*`#", min_size=0, max_size=30)
_body = st.lists(_words, max_size=4).map(lambda lines: "".join(f"{line}\n" for line in lines))
_titles = st.sampled_from(["Summary", "Impact", "Timeline (UTC)", "Metrics", "Notes", "Notes"])
_draft = st.tuples(
    _body, st.lists(st.tuples(st.sampled_from(["#", "##", "###"]), _titles, _body), max_size=6)
).map(lambda d: d[0] + "".join(f"{level} {title}\n{body}" for level, title, body in d[1]))


@given(last=_draft, fresh=_draft)
def test_property_an_unedited_draft_regenerates_to_exactly_the_fresh_text(
    last: str, fresh: str
) -> None:
    assert merge(last, last, fresh).text == fresh


@given(text=_draft)
def test_property_sections_always_join_back(text: str) -> None:
    assert "".join(s.text for s in split(text)) == text


@given(last=_draft, fresh=_draft)
def test_property_every_edited_section_survives_the_merge(last: str, fresh: str) -> None:
    edited = last + "## Team notes\nkeep me\n"

    merged = merge(last, edited, fresh)

    assert "## Team notes\nkeep me\n" in merged.text
    assert merge(last, edited, fresh) == merged  # deterministic
