"""A postmortem's life: `postmortem owner @x | review | publish`, its due date, reminders to
its owner and the channel's archive after it is published."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.incidents import postmortem_life
from bot.incidents.commands import CommandError, help_text, parse_command
from bot.incidents.errors import DomainError
from bot.incidents.views import is_bookkeeping
from playbooks.schema import Playbook
from storage import postmortems
from storage.models import Incident, Postmortem
from storage.unit_of_work import unit_of_work

# The reference clock: Wednesday 2021-03-10, 17:56 in Hong Kong (09:56 UTC).
HKT = ZoneInfo("Asia/Hong_Kong")


def declare(run, severity: str = "sev2") -> int:
    outcome = run(f"declare Spot trading errors {severity}")
    assert outcome.incident is not None and outcome.incident.id is not None
    incident_id = outcome.incident.id
    run("role commander <@U0BOB|bob>", incident_id)
    return incident_id


def record(sessions, incident_id: int) -> Postmortem | None:
    with sessions() as session:
        return postmortems.postmortem_of(session=session, incident_id=incident_id)


def ops(store, incident_id: int, kind: str) -> list[dict]:
    return [op.payload for op in store.outbox(incident_id) if op.kind == kind]


# --- the grammar -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "target", "user"),
    [
        ("postmortem", None, None),
        ("postmortem owner <@U0BOB|bob>", "owner", "U0BOB"),
        ("postmortem owner @bob", "owner", "@bob"),
        ("postmortem owner bob", "owner", "@bob"),
        ("postmortem REVIEW", "review", None),
        ("postmortem publish", "publish", None),
    ],
)
def test_postmortem_reads_its_step_and_person(text: str, target, user) -> None:
    command = parse_command(text)
    assert (command.verb, command.target, command.user, command.read_only) == (
        "postmortem",
        target,
        user,
        False,
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("postmortem archive", "Unknown postmortem step `archive`"),
        ("postmortem owner", "`postmortem owner` needs one person, as @name"),
        ("postmortem owner @bob @carol", "`postmortem owner` needs one person, as @name"),
        ("postmortem owner <#C123>", "`<#C123>` is not a person: mention them with @"),
        ("postmortem publish now", "`postmortem publish` takes no arguments"),
    ],
)
def test_postmortem_refuses_a_bad_step_with_its_form(text: str, error: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_command(text)
    assert str(raised.value) == (
        f"{error}. Usage: `/incident postmortem [owner @user | review | publish]`"
    )


def test_help_documents_the_due_table() -> None:
    shown = help_text(postmortem_life.help_lines())
    assert "`/incident postmortem [owner @user | review | publish]`" in shown
    assert (
        "3 days for sev1, 5 business days for sev2, 10 business days for sev3, "
        "10 business days for sev4"
    ) in shown


# --- due dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "due"),
    [
        ("sev1", date(2021, 3, 13)),  # 3 calendar days: a Saturday
        ("sev2", date(2021, 3, 17)),  # 5 business days after Wednesday
        ("sev3", date(2021, 3, 24)),
        ("sev4", date(2021, 3, 24)),
    ],
)
def test_resolve_makes_a_draft_owned_by_the_commander_due_by_severity(
    run, sessions, store, severity: str, due: date
) -> None:
    incident_id = declare(run, severity)
    run("resolve", incident_id)
    row = record(sessions, incident_id)
    assert row is not None
    assert (row.owner, row.status, row.due) == ("U0BOB", "draft", due)
    # Reminded at 09:00 Hong Kong time (01:00 UTC) on the due date, then daily.
    (job,) = [p for p in ops(store, incident_id, "schedule.set") if p["job"] == "postmortem"]
    assert datetime.fromisoformat(job["due_at"]) == datetime.combine(
        due, postmortem_life.REMIND_AT, HKT
    )
    assert job["every_seconds"] == 86_400


def test_no_commander_means_no_owner(run, sessions) -> None:
    outcome = run("declare Spot trading errors sev2", actor="U0ALICE")
    incident_id = outcome.incident.id
    with unit_of_work(sessions) as uow:
        # Declaring makes the declarer commander; take it away as if nobody held it.
        uow.session.execute(
            text("DELETE FROM role_assignments WHERE incident_id = :i"), {"i": incident_id}
        )
    run("resolve", incident_id)
    row = record(sessions, incident_id)
    assert row is not None and row.owner is None


@pytest.mark.parametrize(
    ("configured", "severity", "due"),
    [
        ("2d", "sev2", date(2021, 3, 12)),
        ("2 business days", "sev2", date(2021, 3, 12)),
        ({"sev1": "1d"}, "sev1", date(2021, 3, 11)),
        ({"sev1": "1d"}, "sev2", date(2021, 3, 17)),  # not named: the default table
        ("3bd", "sev1", date(2021, 3, 15)),  # over the weekend
    ],
)
def test_a_playbook_sets_the_due_time(monkeypatch, configured, severity: str, due: date) -> None:
    playbook = Playbook.model_validate(
        {
            "id": "p",
            "title": "P",
            "postmortem_due": configured,
            "stages": [{"id": "s", "title": "S"}],
        }
    )
    incident = type(
        "Incident",
        (),
        {"playbook_snapshot": {"x": 1}, "severity": severity},
    )()
    resolved = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
    monkeypatch.setattr(postmortem_life, "playbook_of", lambda _incident: playbook)
    rule = postmortem_life.due_rule(incident)
    assert postmortem_life.due_date(rule, resolved, HKT) == due


@pytest.mark.parametrize("bad", ["0d", "5 weeks", "soon", 3, {"sev9": "1d"}])
def test_a_playbook_refuses_a_bad_due_time(bad) -> None:
    with pytest.raises(ValueError):
        Playbook.model_validate(
            {"id": "p", "title": "P", "postmortem_due": bad, "stages": [{"id": "s", "title": "S"}]}
        )


# --- owner, review, publish ------------------------------------------------------------


def test_owner_review_publish_move_the_postmortem_on(run, sessions, store, domain) -> None:
    incident_id = declare(run)
    run("resolve", incident_id)
    assert run("postmortem owner <@U0CAROL|carol>", incident_id).reply == (
        "Postmortem owner is now U0CAROL; due 2021-03-17"
    )
    assert run("postmortem review", incident_id).reply == (
        "Postmortem is in review; `/incident postmortem publish` when it is final"
    )
    row = record(sessions, incident_id)
    assert row is not None and (row.owner, row.status) == ("U0CAROL", "in_review")
    assert run("postmortem publish", incident_id).reply == (
        "Postmortem published; the channel is archived in 7 days"
    )
    row = record(sessions, incident_id)
    assert row is not None and row.status == "published" and row.published_by == "U0ALICE"
    assert len(ops(store, incident_id, "postmortem.publish")) == 1
    cleared = [p.get("job", "*") for p in ops(store, incident_id, "schedule.clear")]
    assert "postmortem" in cleared
    archive = [p for p in ops(store, incident_id, "schedule.set") if p["job"] == "archive"]
    assert len(archive) == 1
    kinds = [e.kind for e in store.events(incident_id)]
    assert kinds[-3:] == ["postmortem_owner", "postmortem_review", "postmortem_published"]
    # The postmortem's own timeline leaves its life out.
    assert all(is_bookkeeping(kind, {}) for kind in kinds[-3:])


def test_publish_straight_from_draft_and_again(run, sessions, store) -> None:
    incident_id = declare(run)
    run("resolve", incident_id)
    assert run("postmortem publish", incident_id).reply.startswith("Postmortem published")
    assert run("postmortem publish", incident_id).reply.startswith("Postmortem published again")
    assert len(ops(store, incident_id, "postmortem.publish")) == 2
    # The archive job is replaced (same id), moved to a week after the last publish.
    assert len([p for p in ops(store, incident_id, "schedule.set") if p["job"] == "archive"]) == 2


def test_archive_off_schedules_no_archive(run, store, domain) -> None:
    domain.archive_after = None
    incident_id = declare(run)
    run("resolve", incident_id)
    assert run("postmortem publish", incident_id).reply == "Postmortem published"
    assert not [p for p in ops(store, incident_id, "schedule.set") if p["job"] == "archive"]


@pytest.mark.parametrize("step", ["owner <@U0CAROL|carol>", "review", "publish"])
def test_every_step_before_resolve_is_refused_and_records_nothing(
    run, sessions, store, step: str
) -> None:
    incident_id = declare(run)
    before = (len(store.events(incident_id)), len(store.outbox(incident_id)))
    with pytest.raises(DomainError) as raised:
        run(f"postmortem {step}", incident_id)
    assert "is not resolved yet" in str(raised.value)
    assert (len(store.events(incident_id)), len(store.outbox(incident_id))) == before
    assert record(sessions, incident_id) is None


def test_review_twice_or_after_publish_is_refused(run) -> None:
    incident_id = declare(run)
    run("resolve", incident_id)
    run("postmortem review", incident_id)
    with pytest.raises(DomainError, match="already in review"):
        run("postmortem review", incident_id)
    run("postmortem publish", incident_id)
    with pytest.raises(DomainError, match="already published"):
        run("postmortem review", incident_id)


def test_reopen_cancels_the_archive_and_makes_it_a_draft_again(run, sessions, store) -> None:
    incident_id = declare(run)
    run("resolve", incident_id)
    run("postmortem publish", incident_id)
    run("reopen", incident_id)
    row = record(sessions, incident_id)
    assert row is not None and row.status == "draft"
    cleared = [p.get("job", "*") for p in ops(store, incident_id, "schedule.clear")]
    assert "archive" in cleared


def test_a_drill_gets_a_record_but_no_reminders(run, sessions, store) -> None:
    outcome = run("drill trading-engine-outage")
    incident_id = outcome.incident.id
    run("resolve", incident_id)
    assert record(sessions, incident_id) is not None
    assert not [p for p in ops(store, incident_id, "schedule.set") if p["job"] == "postmortem"]


# --- reminders and the archive ---------------------------------------------------------


def fire(sessions, domain, job, incident_id: int):
    with unit_of_work(sessions) as uow:
        return job(uow, domain, incident_id)


def test_the_owner_is_reminded_on_business_days_until_published(
    run, sessions, store, domain, clock
) -> None:
    incident_id = declare(run)
    run("resolve", incident_id)
    # Wednesday 17th, the due date, 09:00 in Hong Kong.
    clock.set(datetime(2021, 3, 17, 1, 0, tzinfo=UTC))
    outcome = fire(sessions, domain, postmortem_life.remind, incident_id)
    assert outcome is not None
    (notice,) = [p for p in ops(store, incident_id, "notice.post")][-1:]
    assert notice["notice"]["owner"] == "U0BOB"
    assert notice["notice"]["due"] == "2021-03-17"
    # Saturday: quiet.
    clock.set(datetime(2021, 3, 20, 1, 0, tzinfo=UTC))
    assert fire(sessions, domain, postmortem_life.remind, incident_id) is None
    # Monday: two business days late.
    clock.set(datetime(2021, 3, 22, 1, 0, tzinfo=UTC))
    fire(sessions, domain, postmortem_life.remind, incident_id)
    assert store.events(incident_id)[-1].text == "postmortem due 2021-03-17, 3 business days late"
    run("postmortem publish", incident_id)
    clock.set(datetime(2021, 3, 23, 1, 0, tzinfo=UTC))
    notices = len(ops(store, incident_id, "notice.post"))
    fire(sessions, domain, postmortem_life.remind, incident_id)
    assert len(ops(store, incident_id, "notice.post")) == notices


def test_a_record_is_made_when_first_needed_for_an_incident_resolved_before(
    run, sessions, store, domain
) -> None:
    incident_id = declare(run)
    run("resolve", incident_id)
    with unit_of_work(sessions) as uow:  # as if resolved before migration 0019
        uow.session.delete(postmortems.postmortem_of(session=uow.session, incident_id=incident_id))
    assert record(sessions, incident_id) is None
    run("postmortem owner <@U0CAROL|carol>", incident_id)
    row = record(sessions, incident_id)
    assert row is not None and (row.owner, row.due) == ("U0CAROL", date(2021, 3, 17))


def test_the_archive_says_where_the_postmortem_is(run, sessions, store, domain) -> None:
    incident_id = declare(run)
    with unit_of_work(sessions) as uow:
        row = uow.session.get(Incident, incident_id)
        row.channel_id = "C0INC"
    run("resolve", incident_id)
    assert fire(sessions, domain, postmortem_life.archive_due, incident_id) is None  # a draft
    run("postmortem publish", incident_id)
    with unit_of_work(sessions) as uow:
        postmortems.set_published_where(
            session=uow.session, incident_id=incident_id, path="/pm/x.md", permalink=None
        )
    fire(sessions, domain, postmortem_life.archive_due, incident_id)
    kinds = [op.kind for op in store.outbox(incident_id)]
    assert kinds[-2:] == ["notice.post", "channel.archive"]
    assert ops(store, incident_id, "notice.post")[-1]["notice"]["path"] == "/pm/x.md"


def test_due_dates_count_from_the_local_day() -> None:
    # 23:30 UTC on Friday is Saturday in Hong Kong: 5 business days from Saturday.
    late_friday = datetime(2021, 3, 12, 23, 30, tzinfo=UTC)
    assert postmortem_life.due_date("5bd", late_friday, HKT) == date(2021, 3, 19)
    assert postmortem_life.due_date("3d", late_friday, HKT) == date(2021, 3, 16)
    assert postmortem_life.due_date("1bd", late_friday, UTC) == date(2021, 3, 15)
