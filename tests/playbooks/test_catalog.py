import json
from datetime import date, timedelta

import pytest

from playbooks import (
    BUILTIN_DEFAULT,
    Catalog,
    Playbook,
    PlaybookError,
    bundled_dir,
    check_dir,
    load_dir,
    load_playbook,
    playbook_files,
)


def playbook(playbook_id: str, match: dict[str, str] | None = None) -> Playbook:
    return Playbook.model_validate(
        {
            "id": playbook_id,
            "title": playbook_id.title(),
            "match": match or {},
            "stages": [{"id": "only", "title": "Only"}],
        }
    )


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(
        [
            playbook("default"),
            playbook("db", {"service": "orders-db"}),
            playbook("db-prod", {"service": "orders-db", "env": "prod"}),
            playbook("db-prod-b", {"service": "orders-db", "env": "prod"}),
            playbook("a-db-prod", {"service": "orders-db", "env": "prod"}),
        ]
    )


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"service": "orders-db"}, "db"),
        ({"service": "orders-db", "env": "staging"}, "db"),
        # Two keys beat one; among equals, the smallest id wins.
        ({"service": "orders-db", "env": "prod", "team": "x"}, "a-db-prod"),
        ({"service": "web"}, "default"),
        ({}, "default"),
    ],
)
def test_select_most_specific_first(catalog, labels, expected):
    assert catalog.select(labels).id == expected


def test_select_without_any_fallback_uses_the_built_in_default():
    catalog = Catalog([playbook("db", {"service": "orders-db"})])
    assert catalog.select({"service": "web"}) is BUILTIN_DEFAULT
    assert BUILTIN_DEFAULT.id == "default"
    assert BUILTIN_DEFAULT.stages[0].id == "respond"


def test_a_playbook_without_match_other_than_default_is_the_fallback():
    catalog = Catalog([playbook("generic"), playbook("db", {"service": "orders-db"})])
    assert catalog.select({"service": "web"}).id == "generic"


def test_bundled_selection():
    catalog = load_dir(bundled_dir())
    assert catalog.select({"service": "matching-engine", "severity": "critical"}).id == (
        "trading-engine-outage"
    )
    assert catalog.select({"service": "orders-db"}).id == "database-failover"
    assert catalog.select({"category": "security", "service": "wallet"}).id == ("security-incident")
    assert catalog.select({"type": "maintenance"}).id == "scheduled-maintenance"
    assert catalog.select({"service": "payments"}).id == "default"


def test_catalog_lookups(catalog):
    assert catalog.get("db").match == {"service": "orders-db"}
    assert catalog.get("nope") is None
    assert [p.id for p in catalog.all()] == ["a-db-prod", "db", "db-prod", "db-prod-b", "default"]
    assert len(catalog) == 5
    assert "db" in catalog


def test_catalog_refuses_duplicate_ids():
    with pytest.raises(PlaybookError, match="playbook id 'db' is used twice"):
        Catalog([playbook("db"), playbook("db")])


@pytest.mark.parametrize("path", playbook_files(bundled_dir()), ids=lambda path: path.stem)
def test_snapshot_round_trips_through_json(path):
    original = load_playbook(path)
    snapshot = json.loads(json.dumps(original.snapshot()))
    assert Playbook.from_snapshot(snapshot) == original


def test_snapshot_is_the_yaml_shape():
    snapshot = load_dir(bundled_dir()).get("trading-engine-outage").snapshot()
    assert snapshot["reminders"] == {"status_update": "15m"}
    respond = snapshot["stages"][1]
    assert respond["timebox"] == "5m"
    assert respond["on_enter"][1] == {"page": "pagerduty"}
    assert respond["on_enter"][2]["statuspage"] == "investigating"
    assert "enter_on" not in snapshot["stages"][3]
    assert snapshot["private"] is False


def test_private_survives_a_snapshot_and_defaults_to_public():
    security = load_dir(bundled_dir()).get("security-incident")
    assert security.snapshot()["private"] is True
    assert Playbook.from_snapshot(security.snapshot()).private is True
    # Snapshots stored before `private` existed still load, as public channels.
    older = {key: value for key, value in security.snapshot().items() if key != "private"}
    assert Playbook.from_snapshot(older).private is False


def test_stage_lookup_errors_name_the_stages():
    with pytest.raises(PlaybookError) as excinfo:
        playbook("x").stage("missing")
    assert str(excinfo.value) == "no stage 'missing' in playbook 'x'; stages are: only"


def test_stage_ids_must_be_unique_in_code_too():
    with pytest.raises(ValueError, match="stage id 'a' is used twice"):
        Playbook.model_validate(
            {"id": "x", "title": "X", "stages": [{"id": "a", "title": "A"}] * 2}
        )


def test_durations_are_timedeltas_in_code():
    built = Playbook.model_validate(
        {"id": "x", "title": "X", "stages": [{"id": "a", "title": "A", "timebox": "2h"}]}
    )
    assert built.stages[0].timebox == timedelta(hours=2)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("inc-{date}-{slug}", "inc-20210310-trading-engine-outage-spot-margin"),
        ("inc-{id}", "inc-42"),
        ("{slug}", "trading-engine-outage-spot-margin"),
    ],
)
def test_channel_name(pattern, expected):
    built = playbook("x").model_copy(update={"channel": pattern})
    name = built.channel_name(
        title="Trading engine outage: spot & margin!", on=date(2021, 3, 10), incident_id=42
    )
    assert name == expected


def test_channel_name_fits_slack_limit():
    name = playbook("x").channel_name(title="word " * 40, on=date(2024, 2, 28), incident_id=1)
    assert len(name) <= 80
    assert name.startswith("inc-20240228-word-word")
    assert not name.endswith("-")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("決済が止まった", "決済が止まった"),
        ("Ошибка базы: Реплика", "ошибка-базы-реплика"),
        ("🔥 Café down 🔥", "café-down"),
        ("🔥🔥", "fire"),
        ("❤️‍🩹 ⚠️", "heavy-black-heart-adhesive-bandage-warning-sign"),
        ("₿ → €", "bitcoin-sign-rightwards-arrow-euro-sign"),
        ("ТЕСТ ✅", "тест"),
        ("ẞ ÅNGSTRÖM", "ß-ångström"),
        ("́é", "é"),
        ("!!! ???", "incident-7"),
        ("snake_case & dots.v2", "snake-case-dots-v2"),
    ],
    ids=[
        "japanese",
        "cyrillic",
        "emoji-and-accents",
        "only-emoji",
        "emoji-sequences",
        "symbols",
        "cyrillic-upper",
        "capital-sharp-s",
        "stray-mark",
        "punctuation-only",
        "ascii-punctuation",
    ],
)
def test_channel_name_keeps_letters_slack_takes_in_any_script(title, slug):
    """Slack takes lowercase letters of any script in a channel name
    (docs.slack.dev/reference/methods/conversations.create); emoji and punctuation it refuses,
    so a title of symbols only is spelled by their Unicode names, and one of nothing
    sayable names the incident by its id."""
    name = playbook("x").channel_name(title=title, on=date(2021, 3, 10), incident_id=7)
    assert name == f"inc-20210310-{slug}"


def test_refire_window_defaults_to_an_hour_and_takes_a_duration():
    assert playbook("x").refire_window == timedelta(hours=1)
    built = Playbook.model_validate(
        {"id": "x", "title": "X", "refire_window": "15m", "stages": [{"id": "a", "title": "A"}]}
    )
    assert built.refire_window == timedelta(minutes=15)
    assert built.snapshot()["refire_window"] == "15m"
    assert Playbook.from_snapshot(built.snapshot()).refire_window == timedelta(minutes=15)


def test_a_bad_refire_window_is_refused_at_its_line(tmp_path):
    (tmp_path / "x.yaml").write_text(
        "id: x\ntitle: X\nrefire_window: soon\nstages:\n  - {id: a, title: A}\n"
    )
    problems = check_dir(tmp_path)
    assert [(p.line, p.message) for p in problems] == [
        (3, "refire_window: bad duration 'soon': expected 30s, 15m, 2h, 3d or 1h30m")
    ]
