"""Which shared files are taken as an incident's edited postmortem."""

from __future__ import annotations

import pytest

from bot.slack.postmortem_files import draft_name


@pytest.mark.parametrize(
    ("name", "taken"),
    [
        ("postmortem-incident-7.md", True),
        ("postmortem-incident-7 (1).md", True),
        ("Postmortem-Incident-7.MD", True),
        ("postmortem-incident-7(2).md", True),
        ("postmortem-incident-71.md", False),
        ("postmortem-incident-7 (1.md", False),
        ("postmortem-incident-7.md.png", False),
        ("postmortem-incident-7.txt", False),
        ("notes.md", False),
    ],
)
def test_the_draft_name_or_a_copy_of_it(name: str, taken: bool) -> None:
    assert bool(draft_name(7).fullmatch(name)) is taken
