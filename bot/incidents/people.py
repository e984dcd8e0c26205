"""People as responders read them: the record stores Slack user ids, people see names.

Names come from the people table (`storage.people`), learned from every command a person
runs or is named in. Someone never seen keeps their id: better an id than a wrong name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sqlmodel import Session

from storage.people import names

# A Slack user id as the domain writes it in a text ("commander is now U0BOB").
USER_ID = re.compile(r"\b[UW](?=[A-Z]*\d)[A-Z0-9]{4,}\b")


def known_names(
    session: Session, people: Iterable[str | None], texts: Iterable[str] = ()
) -> dict[str, str]:
    """The names of the people given and of the user ids in `texts`, those known."""
    wanted = {person for person in people if person}
    for text in texts:
        wanted.update(USER_ID.findall(text))
    return names(session=session, user_ids=wanted) if wanted else {}


def name_of(person: str | None, known: Mapping[str, str]) -> str | None:
    """A person's name if known, else as stored (a paging tool's person is a name already)."""
    if not person:
        return person
    return known.get(person, person)


def with_names(text: str, known: Mapping[str, str]) -> str:
    """The text with each known user id in it replaced by the person's name."""
    if not known:
        return text
    return USER_ID.sub(lambda match: known.get(match.group(0), match.group(0)), text)


def display_name(session: Session, person: str | None) -> str | None:
    """One person's name, for a sentence ("Already acknowledged by alice")."""
    return name_of(person, known_names(session, [person]))
