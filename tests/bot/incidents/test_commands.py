"""The `/incident` grammar: every verb parses, every malformed form says the right usage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.incidents.commands import Command, CommandError, parse_command, parse_user


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command("help")),
        ("help", Command("help")),
        ("declare Trading down", Command("declare", text="Trading down")),
        ("declare Trading down sev1", Command("declare", text="Trading down", severity="sev1")),
        ("declare", Command("declare")),
        ("ACK", Command("ack")),
        ("sev 2", Command("sev", severity="sev2")),
        ("sev sev1", Command("sev", severity="sev1")),
        ("status identified found it", Command("status", status="identified", text="found it")),
        ("status monitoring", Command("status", status="monitoring")),
        ("update Restart in progress", Command("update", text="Restart in progress")),
        ("note looking at logs", Command("note", text="looking at logs")),
        ("log 18:05 dependency found", Command("log", clock="18:05", text="dependency found")),
        ("log 17:56:00 alerts", Command("log", clock="17:56:00", text="alerts")),
        ("time started 17:56", Command("time", milestone="started", clock="17:56")),
        (
            "time resolved 2021-03-10  18:15",
            Command("time", milestone="resolved", clock="2021-03-10 18:15"),
        ),
        ("role commander <@U0ALICE|alice>", Command("role", role="commander", user="U0ALICE")),
        ("role scribe @bob", Command("role", role="scribe", user="@bob")),
        # Typed without the @ (no autocomplete): a name all the same, looked up by the adapter.
        ("role scribe bob", Command("role", role="scribe", user="@bob")),
        ("stage", Command("stage")),
        ("catchup", Command("catchup")),
        ("stage next", Command("stage", target="next")),
        ("stage repair", Command("stage", target="repair")),
        ("tasks", Command("tasks")),
        ("task done 2", Command("task", number=2)),
        ("impact API error 30030", Command("impact", text="API error 30030")),
        ("cause dependency failed", Command("cause", text="dependency failed")),
        ("action Add redundancy <@U0BOB>", Command("action", text="Add redundancy", user="U0BOB")),
        ("action Add redundancy", Command("action", text="Add redundancy")),
        ("mitigate", Command("mitigate")),
        ("mitigate restarted", Command("mitigate", text="restarted")),
        ("resolve all good", Command("resolve", text="all good")),
        ("reopen", Command("reopen")),
        ("timeline", Command("timeline")),
        ("postmortem", Command("postmortem")),
        ("drill trading-engine-outage", Command("drill", target="trading-engine-outage")),
        (
            "statuspage investigating We are looking into it",
            Command("statuspage", status="investigating", text="We are looking into it"),
        ),
        (
            "maintenance 2021-03-12 02:00 2h Matching engine upgrade",
            Command(
                "maintenance",
                target="schedule",
                clock="2021-03-12 02:00",
                duration="2h",
                text="Matching engine upgrade",
            ),
        ),
        ("maintenance list", Command("maintenance", target="list")),
        ("maintenance cancel 3", Command("maintenance", target="cancel", number=3)),
    ],
)
def test_every_verb_parses(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("sev 5", "sev <1-4>"),
        ("status sleeping", "status <investigating|identified|monitoring|resolved> [text]"),
        ("update", "update <text>"),
        ("note   ", "note <text>"),
        ("log 25:00 nope", "log <HH:MM> <text>"),
        ("log 18:05", "log <HH:MM> <text>"),
        ("time coffee 18:00", "time <milestone> <[YYYY-MM-DD ]HH:MM>"),
        ("time started noon", "time <milestone> <[YYYY-MM-DD ]HH:MM>"),
        ("role boss @bob", "role <commander|comms|scribe|ops> <@user>"),
        ("role commander bob!", "role <commander|comms|scribe|ops> <@user>"),
        ("task 2", "task done <n>"),
        ("task done 0", "task done <n>"),
        ("ack now", "ack"),
        ("catchup please", "catchup"),
        ("drill", "drill <playbook>"),
        ("statuspage resolved", "statuspage"),
        ("maintenance tomorrow 2h x", "maintenance <YYYY-MM-DD HH:MM> <duration>"),
        ("stage two words", "stage [next|<id>]"),
    ],
)
def test_malformed_commands_name_the_right_form(text: str, usage: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(text)
    assert f"Usage: `/incident {usage}" in str(caught.value)


def test_unknown_verb_points_to_help() -> None:
    with pytest.raises(CommandError, match=r"Unknown command `frobnicate`; try `/incident help`"):
        parse_command("frobnicate now")


def test_read_only_commands_are_marked() -> None:
    assert parse_command("timeline").read_only
    assert parse_command("catchup").read_only
    assert parse_command("stage").read_only
    assert not parse_command("stage next").read_only
    assert not parse_command("ack").read_only


def test_parse_user_forms() -> None:
    assert parse_user("<@U012AB|alice>") == "U012AB"
    assert parse_user("<@W99>") == "W99"
    assert parse_user("@carol.s") == "@carol.s"
    assert parse_user("<!channel>") is None


@given(st.text(max_size=300))
def test_parser_never_raises_anything_but_command_error(text: str) -> None:
    try:
        command = parse_command(text)
    except CommandError as error:
        assert str(error)
    else:
        assert command.verb


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "declare Orders lagging sev2 playbook:database-failover",
            Command("declare", text="Orders lagging", severity="sev2", target="database-failover"),
        ),
        (
            "declare Orders lagging playbook:database-failover sev2",
            Command("declare", text="Orders lagging", severity="sev2", target="database-failover"),
        ),
        (
            "declare Orders lagging playbook:x",
            Command("declare", text="Orders lagging", target="x"),
        ),
    ],
)
def test_declare_can_name_a_playbook(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


def test_every_verb_a_playbook_task_may_name_is_a_recording_command() -> None:
    from bot.incidents.commands import READ_ONLY, USAGE
    from playbooks import COMMAND_VERBS

    assert set(COMMAND_VERBS) <= set(USAGE) - READ_ONLY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("declare Foo sev9", "`sev9` is not a severity (sev1, sev2, sev3 or sev4)"),
        (
            "declare Foo SEV0 playbook:default",
            "`SEV0` is not a severity (sev1, sev2, sev3 or sev4)",
        ),
        ("declare Foo sev-5", "`sev-5` is not a severity (sev1, sev2, sev3 or sev4)"),
        ("log 25:99 x", "`25:99` is not a valid time of day (00:00 to 23:59, as HH:MM)"),
        ("log 18:05", "`log` needs the text of what happened at 18:05"),
        ("log soon x", "`log` needs a time (HH:MM) first, not `soon`"),
        ("time detected 24:00", "`24:00` is not a valid time of day (00:00 to 23:59, as HH:MM)"),
        ("time detected 2026-13 10:00", "`2026-13` is not a date (YYYY-MM-DD)"),
        ("time detected", "`time detected` needs a time: [YYYY-MM-DD ]HH:MM"),
        ("role boss @carol", "Unknown role `boss` (one of commander, comms, scribe, ops)"),
        ("role comms", "`role comms` needs one person, as @name"),
    ],
)
def test_an_error_names_the_actual_problem(text: str, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_command(text)
    assert raised.value.message == message
    assert raised.value.usage is not None


@pytest.mark.parametrize(
    "title", ["Pager rota for sev", "Severity labels wrong", "sev", "Outage sevens"]
)
def test_a_title_may_end_in_a_word_like_sev(title: str) -> None:
    assert parse_command(f"declare {title}") == Command("declare", text=title)
