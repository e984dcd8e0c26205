"""The `/incident` grammar: text in, a typed command out, or an error naming the right form."""

from __future__ import annotations

import re

from bot.incidents.command_types import (
    READ_ONLY,
    Command,
    CommandError,
    parse_person,
    parse_user,
)
from bot.incidents.commands_followups import (
    ACTION_USAGE,
    POSTMORTEM_USAGE,
    parse_action,
    parse_postmortem,
)

__all__ = [
    "JOINED",
    "READ_ONLY",
    "USAGE",
    "Command",
    "CommandError",
    "help_text",
    "parse_command",
    "parse_user",
]

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
STATUSES = ("investigating", "identified", "monitoring", "resolved")
ROLES = ("commander", "comms", "scribe", "ops")
# A follow-up given no `due` date is due this many business days (Monday to Friday) after
# the day it is recorded, by the incident's severity: the worse the incident, the sooner.
FOLLOWUP_DUE_DAYS = {"sev1": 5, "sev2": 10, "sev3": 20, "sev4": 20}
MILESTONES = (
    "started",
    "detected",
    "declared",
    "acknowledged",
    "identified",
    "mitigated",
    "resolved",
)

USAGE: dict[str, str] = {
    "declare": "declare <title> [sev1-4] [playbook:<id>] [--private]",
    "ack": "ack",
    "sev": "sev <1-4>",
    "status": "status <investigating|identified|monitoring|resolved> [text]",
    "update": "update <text>",
    "note": "note <text>",
    "log": "log <HH:MM> <text>",
    "time": "time <milestone> <[YYYY-MM-DD ]HH:MM>",
    "role": "role <commander|comms|scribe|ops> <@user>",
    "stage": "stage [next|<id>]",
    "tasks": "tasks",
    "task": "task done <n>",
    "impact": "impact <text>",
    "cause": "cause <text>",
    "action": ACTION_USAGE,
    "mitigate": "mitigate [text]",
    "resolve": "resolve [text]",
    "reopen": "reopen",
    "timeline": "timeline",
    "catchup": "catchup",
    "postmortem": POSTMORTEM_USAGE,
    "drill": "drill <playbook>",
    "statuspage": "statuspage <investigating|identified|monitoring|resolved> <public text>",
    "public-title": "public-title <text>",
    "maintenance": "maintenance <YYYY-MM-DD HH:MM> <duration> <title> | list | cancel <id>",
    "help": "help",
    "list": "list [all]",
}

# `catchup` for someone who just joined the incident's channel: built by the adapter from
# Slack's join event, never typed (the typed form takes no arguments).
JOINED = "joined"

_CLOCK = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_DATE = r"\d{4}-\d{2}-\d{2}"
# A word that means to be a severity: `sev9`, `SEV0`, `sev-2`. A title may still end in a
# plain word like "sev" or "severity".
_SEVERITY_LIKE = re.compile(r"sev[-_]?\d+", re.I)
# What a responder types as a time of day, valid or not: `25:99`, `7:5`, `18:05:61`.
_CLOCK_LIKE = re.compile(r"\d{1,2}:\d{1,2}(?::\d{1,2})?")
_DURATION = re.compile(r"^\d+[smhd]$")


def parse_command(text: str) -> Command:
    """Parse the text after `/incident`; raise CommandError with the right form."""
    text = (text or "").strip()
    if not text:
        return Command("help")
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    rest = rest.strip()
    parser = _PARSERS.get(verb)
    if parser is None:
        raise CommandError(f"Unknown command `{verb[:40]}`; try `/incident help`")
    return parser(verb, rest)


def _require_text(verb: str, rest: str) -> Command:
    if not rest:
        raise CommandError(f"`{verb}` needs some text", USAGE[verb])
    return Command(verb, text=rest)


def _optional_text(verb: str, rest: str) -> Command:
    return Command(verb, text=rest or None)


def _no_args(verb: str, rest: str) -> Command:
    if rest:
        raise CommandError(f"`{verb}` takes no arguments", USAGE[verb])
    return Command(verb)


def _declare(verb: str, rest: str) -> Command:
    words = rest.split()
    # `--private` anywhere among the words: what a title would never mean.
    private = "--private" in (w.lower() for w in words)
    words = [w for w in words if w.lower() != "--private"]
    severity = playbook = None
    # Optional trailing words in either order: a severity and `playbook:<id>`.
    for _ in range(2):
        if words and words[-1].lower() in SEVERITIES and severity is None:
            severity = words.pop().lower()
        elif words and _SEVERITY_LIKE.fullmatch(words[-1]) and severity is None:
            raise CommandError(
                f"`{words[-1][:40]}` is not a severity (sev1, sev2, sev3 or sev4)", USAGE[verb]
            )
        elif words and words[-1].lower().startswith("playbook:") and playbook is None:
            playbook = words.pop().split(":", 1)[1].lower()
            if not re.fullmatch(r"[a-z0-9-]+", playbook):
                raise CommandError(f"`{playbook[:40]}` is not a playbook id", USAGE[verb])
    title = " ".join(words)
    return Command(verb, text=title or None, severity=severity, target=playbook, private=private)


def _sev(verb: str, rest: str) -> Command:
    value = rest.lower().removeprefix("sev")
    if value not in ("1", "2", "3", "4"):
        raise CommandError("Severity must be 1, 2, 3 or 4", USAGE[verb])
    return Command(verb, severity=f"sev{value}")


def _status(verb: str, rest: str) -> Command:
    word, _, text = rest.partition(" ")
    if word.lower() not in STATUSES:
        raise CommandError(f"Unknown status `{word[:40]}`", USAGE[verb])
    text = text.strip()
    if verb == "statuspage" and not text:
        raise CommandError("`statuspage` needs the public text", USAGE[verb])
    return Command(verb, status=word.lower(), text=text or None)


def _log(verb: str, rest: str) -> Command:
    clock, *more = re.split(r"\s+", rest, maxsplit=1)
    text = more[0] if more else ""
    _check_clock(verb, clock)
    if not text.strip():
        raise CommandError(f"`log` needs the text of what happened at {clock}", USAGE[verb])
    return Command(verb, clock=clock, text=text.strip())


def _check_clock(verb: str, clock: str) -> None:
    """Refuse a time of day that is missing or impossible, saying which."""
    if re.fullmatch(_CLOCK, clock):
        return
    if _CLOCK_LIKE.fullmatch(clock):
        raise CommandError(
            f"`{clock}` is not a valid time of day (00:00 to 23:59, as HH:MM)", USAGE[verb]
        )
    raise CommandError(f"`{verb}` needs a time (HH:MM) first, not `{clock[:40]}`", USAGE[verb])


def _time(verb: str, rest: str) -> Command:
    words = rest.split()
    if not words:
        raise CommandError("`time` needs a milestone and a time", USAGE[verb])
    milestone = words[0].lower()
    if milestone not in MILESTONES:
        raise CommandError(
            f"Unknown milestone `{milestone[:40]}` (one of {', '.join(MILESTONES)})", USAGE[verb]
        )
    when = words[1:]
    if not when or len(when) > 2:
        raise CommandError(f"`time {milestone}` needs a time: [YYYY-MM-DD ]HH:MM", USAGE[verb])
    if len(when) == 2 and not re.fullmatch(_DATE, when[0]):
        raise CommandError(f"`{when[0][:40]}` is not a date (YYYY-MM-DD)", USAGE[verb])
    _check_clock(verb, when[-1])
    return Command(verb, milestone=milestone, clock=" ".join(when))


def _role(verb: str, rest: str) -> Command:
    words = rest.split()
    if not words:
        raise CommandError("`role` needs a role and a person", USAGE[verb])
    if words[0].lower() not in ROLES:
        raise CommandError(
            f"Unknown role `{words[0][:40]}` (one of {', '.join(ROLES)})", USAGE[verb]
        )
    if len(words) != 2:
        raise CommandError(f"`role {words[0].lower()}` needs one person, as @name", USAGE[verb])
    return Command(verb, role=words[0].lower(), user=parse_person(words[1], USAGE[verb]))


def _stage(verb: str, rest: str) -> Command:
    if not rest:
        return Command(verb)
    if " " in rest or not re.fullmatch(r"[a-z0-9-]+", rest.lower()):
        raise CommandError(f"`{rest[:40]}` is not a stage id", USAGE[verb])
    return Command(verb, target=rest.lower())


def _task(verb: str, rest: str) -> Command:
    match = re.fullmatch(r"done\s+(\d{1,3})", rest, re.I)
    if not match or int(match.group(1)) < 1:
        raise CommandError("`task` needs `done` and a task number", USAGE[verb])
    return Command(verb, number=int(match.group(1)))


def _drill(verb: str, rest: str) -> Command:
    if not re.fullmatch(r"[a-z0-9-]+", rest):
        raise CommandError("`drill` needs a playbook id", USAGE[verb])
    return Command(verb, target=rest)


def _maintenance(verb: str, rest: str) -> Command:
    if rest.lower() == "list":
        return Command(verb, target="list")
    cancel = re.fullmatch(r"cancel\s+(\d+)", rest, re.I)
    if cancel:
        return Command(verb, target="cancel", number=int(cancel.group(1)))
    match = re.fullmatch(rf"({_DATE}\s+{_CLOCK})\s+(\S+)\s+(.+)", rest, re.S)
    if not match or not _DURATION.match(match.group(2)):
        raise CommandError(
            "`maintenance` needs a start, a duration (like 2h) and a title", USAGE[verb]
        )
    return Command(
        verb,
        target="schedule",
        clock=" ".join(match.group(1).split()),
        duration=match.group(2),
        text=match.group(3).strip(),
    )


def _list(verb: str, rest: str) -> Command:
    if rest.lower() not in ("", "all"):
        raise CommandError(f"`list` takes `all` or nothing, not `{rest[:40]}`", USAGE[verb])
    return Command(verb, target=rest.lower() or None)


_PARSERS = {
    "declare": _declare,
    "ack": _no_args,
    "sev": _sev,
    "status": _status,
    "update": _require_text,
    "note": _require_text,
    "log": _log,
    "time": _time,
    "role": _role,
    "stage": _stage,
    "tasks": _no_args,
    "task": _task,
    "impact": _require_text,
    "cause": _require_text,
    "action": parse_action,
    "mitigate": _optional_text,
    "resolve": _optional_text,
    "reopen": _no_args,
    "timeline": _no_args,
    "catchup": _no_args,
    "postmortem": parse_postmortem,
    "drill": _drill,
    "statuspage": _status,
    "public-title": _require_text,
    "maintenance": _maintenance,
    "help": _no_args,
    "list": _list,
}


def help_text(extra: list[str] | None = None) -> str:
    """Every command with its form, one per line, what a follow-up's due date defaults to,
    and any `extra` lines (when a postmortem is due)."""
    lines = [f"`/incident {usage}`" for usage in USAGE.values()]
    dues = ", ".join(f"{days} for {sev}" for sev, days in FOLLOWUP_DUE_DAYS.items())
    lines.append(f"A follow-up with no `due` date is due in business days: {dues}.")
    lines.extend(extra or [])
    return "\n".join(lines)
