"""The grammar of what comes after the incident: follow-ups (`action ...`) and the
postmortem's life (`postmortem owner|review|publish`)."""

from __future__ import annotations

import re
from datetime import date

from bot.incidents.command_types import Command, CommandError, parse_person, parse_user

ACTION_USAGE = "action <text> [@owner] [due YYYY-MM-DD] | list | done <n> | drop <n> <why>"
POSTMORTEM_USAGE = "postmortem [owner @user | review | publish]"

_DATE = r"\d{4}-\d{2}-\d{2}"


def parse_action(verb: str, rest: str) -> Command:
    """`action <text> [@owner] [due D]`, `action list`, `action done N`, `action drop N why`."""
    if not rest:
        raise CommandError("`action` needs some text", ACTION_USAGE)
    words = rest.split()
    first = words[0].lower()
    if first == "list" and len(words) == 1:
        return Command(verb, target="list")
    # `done`/`drop` then a number is the form; a text that merely starts with the word
    # ("drop the legacy API") is a follow-up like any other.
    if first in ("done", "drop") and (len(words) == 1 or words[1].isdigit()):
        return _action_change(verb, first, words[1:])
    return _action_add(verb, words)


def _action_change(verb: str, change: str, words: list[str]) -> Command:
    if not words or not words[0].isdigit() or int(words[0]) < 1:
        raise CommandError(f"`action {change}` needs a follow-up number", ACTION_USAGE)
    number = int(words[0])
    if change == "done":
        if len(words) > 1:
            raise CommandError("`action done` takes only the follow-up number", ACTION_USAGE)
        return Command(verb, target="done", number=number)
    why = " ".join(words[1:])
    if not why:
        raise CommandError("`action drop` needs the reason it is dropped", ACTION_USAGE)
    return Command(verb, target="drop", number=number, text=why)


def _action_add(verb: str, words: list[str]) -> Command:
    owner = due = None
    # Optional trailing parts in either order: the owner and `due YYYY-MM-DD`.
    for _ in range(2):
        if len(words) > 2 and words[-2].lower() == "due" and due is None:
            due = _due_date(words[-1])
            words = words[:-2]
        elif len(words) > 1 and owner is None and parse_user(words[-1]) is not None:
            owner = parse_user(words.pop())
    if not words:
        raise CommandError("`action` needs some text", ACTION_USAGE)
    return Command(verb, text=" ".join(words), user=owner, due=due)


def _due_date(word: str) -> str:
    """A due date as typed: a real YYYY-MM-DD date, or an error saying what was wrong."""
    if not re.fullmatch(_DATE, word):
        raise CommandError(f"`{word[:40]}` is not a due date (YYYY-MM-DD)", ACTION_USAGE)
    try:
        date.fromisoformat(word)
    except ValueError:
        raise CommandError(f"`{word}` is not a date in the calendar", ACTION_USAGE) from None
    return word


def parse_postmortem(verb: str, rest: str) -> Command:
    """`postmortem` (re)drafts; `owner @x`, `review` and `publish` move its life on."""
    words = rest.split()
    if not words:
        return Command(verb)
    sub = words[0].lower()
    if sub in ("review", "publish"):
        if len(words) > 1:
            raise CommandError(f"`postmortem {sub}` takes no arguments", POSTMORTEM_USAGE)
        return Command(verb, target=sub)
    if sub == "owner":
        if len(words) != 2:
            raise CommandError("`postmortem owner` needs one person, as @name", POSTMORTEM_USAGE)
        return Command(verb, target="owner", user=parse_person(words[1], POSTMORTEM_USAGE))
    raise CommandError(f"Unknown postmortem step `{sub[:40]}`", POSTMORTEM_USAGE)
