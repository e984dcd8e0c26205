import re
import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest

from playbooks import (
    MILESTONES,
    PlaybookLoadError,
    Problem,
    bundled_dir,
    check_dir,
    load_dir,
    load_playbook,
    playbook_files,
    summary,
)
from playbooks.schema import Stage, StatusPageEffect, WebhookEffect

BUNDLED = playbook_files(bundled_dir())

GOOD = """\
id: good
title: Good
stages:
  - id: only
    title: Only
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def texts(stage: Stage) -> list[str]:
    """A stage's task texts, in order."""
    return [task.text for task in stage.tasks]


def problems_of(folder: Path) -> list[str]:
    return [str(problem) for problem in check_dir(folder)]


def test_bundled_folder_holds_the_five_playbooks():
    assert [path.name for path in BUNDLED] == [
        "database-failover.yaml",
        "default.yaml",
        "scheduled-maintenance.yaml",
        "security-incident.yaml",
        "trading-engine-outage.yaml",
    ]


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: path.stem)
def test_bundled_playbook_loads_clean(path):
    playbook = load_playbook(path)
    assert playbook.id == path.stem
    assert len(playbook.stages) >= 4
    assert all(stage.tasks for stage in playbook.stages), "every stage has a checklist"


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: path.stem)
def test_bundled_stages_follow_the_milestones_in_order(path):
    playbook = load_playbook(path)
    entered_on = [stage.enter_on for stage in playbook.stages if stage.enter_on]
    # The engine only moves forward, so a stage entered on an earlier milestone than the
    # one before it could never be reached by milestones alone.
    assert entered_on == sorted(entered_on, key=MILESTONES.index)
    assert playbook.stages[-1].enter_on == "resolved"


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: path.stem)
def test_bundled_channel_names_are_valid_slack_names(path):
    name = load_playbook(path).channel_name(
        title="Spot & margin trading down!", on=date(2021, 3, 10), incident_id=42
    )
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,79}", name)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: path.stem)
def test_bundled_private_playbooks_post_nothing_publicly(path):
    playbook = load_playbook(path)
    effects = [effect for stage in playbook.stages for effect in stage.on_enter]
    if playbook.private:
        assert not [effect for effect in effects if isinstance(effect, StatusPageEffect)]
        assert not [effect for effect in effects if isinstance(effect, WebhookEffect)]


def test_bundled_folder_checks_clean():
    assert check_dir(bundled_dir()) == []


def test_trading_engine_outage_playbook():
    playbook = load_dir(bundled_dir()).get("trading-engine-outage")
    assert playbook is not None
    assert summary(playbook) == (
        "trading-engine-outage: Trading engine outage, sev1 by default, 6 stages, "
        "match service=matching-engine"
    )
    assert playbook.invite == ["U0ALICE", "U0BOB", "carol@example.com"]
    assert playbook.reminders.status_update == timedelta(minutes=15)
    assert playbook.stage_ids() == ["detect", "respond", "identify", "repair", "restore", "review"]
    respond = playbook.stage("respond")
    assert respond.title == "Emergency response"
    assert respond.enter_on == "acknowledged"
    assert respond.timebox == timedelta(minutes=5)
    assert texts(respond) == [
        "Page the matching-engine on-call",
        "Post a first status update",
        "Stop order intake or return a maintenance error to API clients",
        "Announce the disruption to API users",
    ]
    assert [type(effect).__name__ for effect in respond.on_enter] == [
        "PostEffect",
        "PageEffect",
        "StatusPageEffect",
    ]
    identify = playbook.stage("identify")
    assert identify.title == "Identify the failed dependency"
    for dependency in ("market data", "risk", "wallet/ledger", "internal queue"):
        assert dependency in texts(identify)[0]
    repair = playbook.stage("repair")
    assert (repair.title, repair.enter_on) == ("Repair and restart", None)
    assert texts(repair)[0] == "Prepare the system restart"
    assert "Restart with order intake paused" in texts(repair)
    restore = playbook.stage("restore")
    assert (restore.title, restore.enter_on) == ("Restore and verify", "mitigated")
    assert texts(restore)[:4] == [
        "Verify order books after the restart",
        "Reconcile open orders against the ledger",
        "Re-enable order intake",
        "Announce recovery to API users",
    ]
    review = playbook.stage("review")
    assert review.enter_on == "resolved"
    assert texts(review) == [
        "Extend testing in a simulated environment",
        "Add multi-server and multi-region redundancy",
        "Support hot updates of stateless logic without disrupting trading",
        "Give 24-hour advance notice of scheduled maintenance",
        "Review affected customers case by case",
    ]
    assert playbook.private is False


def test_security_incident_playbook():
    playbook = load_dir(bundled_dir()).get("security-incident")
    assert summary(playbook) == (
        "security-incident: Security incident, sev1 by default, private channel, 6 stages, "
        "match category=security"
    )
    assert playbook.private is True
    assert playbook.invite == ["S0SECURITY", "U0DAVE"]
    assert playbook.channel_name(title="Leaked key", on=date(2024, 2, 28), incident_id=7) == (
        "sec-20240228-7"
    )
    assert playbook.stage("contain").enter_on == "acknowledged"


def test_scheduled_maintenance_playbook():
    playbook = load_dir(bundled_dir()).get("scheduled-maintenance")
    assert summary(playbook) == (
        "scheduled-maintenance: Scheduled maintenance, always sev4, 4 stages, "
        "match type=maintenance"
    )
    assert playbook.stage_ids() == ["announce", "execute", "verify", "close"]
    assert "24-hour advance notice" in texts(playbook.stage("announce"))[0]


def test_database_failover_playbook():
    playbook = load_dir(bundled_dir()).get("database-failover")
    assert summary(playbook) == (
        "database-failover: Orders database failover, sev2 by default, 6 stages, "
        "match service=orders-db"
    )
    assert texts(playbook.stage("failover"))[:2] == [
        "Fence the old primary so it takes no more writes",
        "Promote the chosen replica",
    ]


def test_summary_says_a_severity_override_forces(tmp_path):
    path = write(tmp_path, "forced.yaml", GOOD + "severity_override: sev1\n")
    assert summary(load_playbook(path)) == "good: Good, always sev1, 1 stage, fallback (no match)"


def test_summary_of_a_fallback_playbook():
    playbook = load_dir(bundled_dir()).get("default")
    assert summary(playbook) == "default: Incident, sev3 by default, 6 stages, fallback (no match)"


def test_postmortem_due_reads_days_and_business_days(tmp_path):
    write(tmp_path, "a.yaml", GOOD + "postmortem_due: {sev1: 3d, sev2: 5 business days}\n")
    other = GOOD.replace("id: good", "id: other") + "match: {service: x}\n"
    write(tmp_path, "b.yaml", other + "postmortem_due: 5BD\n")
    assert problems_of(tmp_path) == []
    catalog = load_dir(tmp_path)
    assert catalog.get("good").postmortem_due == {"sev1": "3d", "sev2": "5bd"}
    assert catalog.get("other").postmortem_due == "5bd"


def test_problem_prints_as_file_line_message():
    assert str(Problem("a.yaml", 7, "unknown key 'x'")) == "a.yaml:7: unknown key 'x'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "id: x\ntitle: [unclosed\nstages: []\n",
            "3: invalid YAML: while parsing a flow sequence: expected ',' or ']', but got ':'",
            id="bad-yaml",
        ),
        pytest.param(
            GOOD + "colour: red\n",
            "6: unknown key 'colour'",
            id="unknown-top-level-key",
        ),
        pytest.param(
            GOOD + "    timeboxx: 5m\n",
            "6: unknown key 'timeboxx' in stages[0]",
            id="unknown-stage-key",
        ),
        pytest.param(
            GOOD + "    timebox: five\n",
            "6: stages[0].timebox: bad duration 'five': expected 30s, 15m, 2h, 3d or 1h30m",
            id="bad-duration",
        ),
        pytest.param(
            GOOD + "reminders:\n  status_update: 10\n",
            "7: reminders.status_update: expected a duration like 30s, 15m, 2h, 3d or 1h30m, "
            "got 10",
            id="number-for-duration",
        ),
        pytest.param(
            GOOD + "    enter_on: fixed\n",
            "6: stages[0].enter_on: 'fixed' is not a milestone (started, detected, declared, "
            "acknowledged, identified, mitigated or resolved)",
            id="enter-on-not-a-milestone",
        ),
        pytest.param(
            GOOD + "severity: sev5\n",
            "6: severity: 'sev5' is not a severity (sev1, sev2, sev3 or sev4)",
            id="bad-severity",
        ),
        pytest.param(
            GOOD + "severity_override: critical\n",
            "6: severity_override: 'critical' is not a severity (sev1, sev2, sev3 or sev4)",
            id="bad-severity-override",
        ),
        pytest.param(
            "id: x\nstages:\n  - id: a\n    title: A\n",
            "1: missing required field 'title'",
            id="missing-title",
        ),
        pytest.param(
            "id: x\ntitle: X\nstages:\n  - id: a\n    title: A\n  - id: b\n",
            "6: missing required field 'title' in stages[1]",
            id="missing-stage-title",
        ),
        pytest.param(
            "id: x\ntitle: X\nstages: []\n",
            "3: stages: needs at least one entry",
            id="no-stages",
        ),
        pytest.param(
            "id: x\ntitle: X\nstages:\n  - id: a\n    title: A\n  - id: b\n    title: B\n"
            "  - title: C\n    id: a\n",
            "9: stage id 'a' is used twice (first at line 4)",
            id="stage-id-reused",
        ),
        pytest.param(
            "id: Not Valid\ntitle: X\nstages: [{id: a, title: A}]\n",
            "1: id: 'Not Valid' must use only lowercase letters, digits and '-'",
            id="bad-id",
        ),
        pytest.param(
            GOOD + "    on_enter:\n      - post: hi\n      - shout: hi\n",
            "8: stages[0].on_enter[1]: each on_enter entry has exactly one of: post, page, "
            "statuspage, webhook",
            id="unknown-effect",
        ),
        pytest.param(
            GOOD + "    on_enter:\n      - statuspage: monitoring\n        text: ''\n",
            "8: stages[0].on_enter[0].text: must not be empty",
            id="empty-statuspage-text",
        ),
        pytest.param(
            GOOD + "    on_enter:\n      - statuspage: fixed\n",
            "7: stages[0].on_enter[0].statuspage: 'fixed' is not a status page status "
            "(investigating, identified, monitoring or resolved)",
            id="bad-statuspage-status",
        ),
        pytest.param(
            GOOD + "    on_enter: [{webhook: 'ftp://example.com'}]\n",
            "6: stages[0].on_enter[0].webhook: 'ftp://example.com' is not an http(s) URL",
            id="bad-webhook",
        ),
        pytest.param(
            GOOD + "invite: [U0ALICE, somebody]\n",
            "6: invite[1]: 'somebody' is not a Slack user id (U...), user-group id (S...) or email",
            id="bad-invitee",
        ),
        pytest.param(
            GOOD + "roles:\n  captain: U0ALICE\n",
            "7: roles: 'captain' is not a role (commander, comms, scribe or ops)",
            id="bad-role",
        ),
        pytest.param(
            GOOD + "channel: 'inc-{date}-{team}'\n",
            "6: channel: unknown placeholder {team} in channel pattern: use {date}, {slug} or {id}",
            id="bad-channel-placeholder",
        ),
        pytest.param(
            GOOD + "private: yes\n",
            "6: private: expected true or false, got a string ('yes')",
            id="private-not-a-bool",
        ),
        pytest.param(
            GOOD + "match: {service: 5}\n",
            "6: match.service: expected a string, got a number (5)",
            id="label-not-a-string",
        ),
        pytest.param(
            GOOD + "postmortem_due: soon\n",
            "6: postmortem_due: bad postmortem due time 'soon': expected days (3d) or business "
            "days (5bd, 5 business days)",
            id="bad-postmortem-due",
        ),
        pytest.param(
            GOOD + "postmortem_due: {sev9: 2d}\n",
            "6: postmortem_due: 'sev9' is not a severity: use sev1, sev2, sev3 or sev4",
            id="postmortem-due-bad-severity",
        ),
        pytest.param(
            GOOD + "postmortem_due: {sev1: 0d}\n",
            "6: postmortem_due: bad postmortem due time '0d': expected days (3d) or business "
            "days (5bd, 5 business days)",
            id="postmortem-due-zero",
        ),
        pytest.param("- id: x\n", "1: a playbook is a mapping of keys, got a list", id="list"),
        pytest.param("", "1: a playbook is a mapping of keys, got nothing", id="empty"),
    ],
)
def test_each_problem_names_its_line(tmp_path, text, expected):
    path = write(tmp_path, "bad.yaml", text)
    assert problems_of(tmp_path) == [f"{path}:{expected}"]


def test_every_problem_in_a_file_is_reported(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        id: bad
        title: Bad
        severity: sev9
        reminders: {status_update: soon, nag: 5m}
        stages:
          - id: a
            title: A
            enter_on: fixed
            timebox: 5
          - id: b
          - id: a
            title: Again
        """,
    )
    assert problems_of(tmp_path) == [
        f"{path}:3: severity: 'sev9' is not a severity (sev1, sev2, sev3 or sev4)",
        f"{path}:4: reminders.status_update: bad duration 'soon': "
        "expected 30s, 15m, 2h, 3d or 1h30m",
        f"{path}:4: unknown key 'nag' in reminders",
        f"{path}:8: stages[0].enter_on: 'fixed' is not a milestone (started, detected, "
        "declared, acknowledged, identified, mitigated or resolved)",
        f"{path}:9: stages[0].timebox: expected a duration like 30s, 15m, 2h, 3d or 1h30m, got 5",
        f"{path}:10: missing required field 'title' in stages[1]",
        f"{path}:11: stage id 'a' is used twice (first at line 6)",
    ]


def test_duplicate_playbook_id_across_files_points_at_the_second(tmp_path):
    first = write(tmp_path, "a.yaml", GOOD)
    second = write(tmp_path, "b.yml", "# the same id again\n" + GOOD)
    assert problems_of(tmp_path) == [f"{second}:2: playbook id 'good' is already used at {first}:1"]


def test_duplicate_yaml_key_is_bad_yaml_at_the_second_key(tmp_path):
    path = write(tmp_path, "dup.yaml", "id: x\ntitle: A\ntitle: B\nstages: [{id: a, title: A}]\n")
    [problem] = check_dir(tmp_path)
    assert (problem.file, problem.line) == (str(path), 3)
    assert problem.message.startswith("invalid YAML: while constructing a mapping: found duplicate")


def test_problems_across_files_come_in_file_order(tmp_path):
    write(tmp_path, "b.yaml", GOOD.replace("good", "bee") + "oops: 1\n")
    write(tmp_path, "a.yaml", GOOD.replace("good", "ay") + "oops: 1\n")
    write(tmp_path, "notes.txt", "not a playbook")
    assert [(Path(p.file).name, p.line) for p in check_dir(tmp_path)] == [
        ("a.yaml", 6),
        ("b.yaml", 6),
    ]


def test_check_dir_on_a_missing_folder(tmp_path):
    missing = tmp_path / "nope"
    assert problems_of(missing) == [f"{missing}:0: not a directory"]


def test_load_playbook_raises_with_every_problem(tmp_path):
    path = write(tmp_path, "bad.yaml", GOOD + "severity: high\nextra: 1\n")
    with pytest.raises(PlaybookLoadError) as excinfo:
        load_playbook(path)
    assert [str(problem) for problem in excinfo.value.problems] == [
        f"{path}:6: severity: 'high' is not a severity (sev1, sev2, sev3 or sev4)",
        f"{path}:7: unknown key 'extra'",
    ]
    assert str(excinfo.value) == "\n".join(str(p) for p in excinfo.value.problems)


def test_load_dir_refuses_a_folder_with_problems(tmp_path):
    write(tmp_path, "good.yaml", GOOD)
    write(tmp_path, "bad.yaml", "id: x\n")
    with pytest.raises(PlaybookLoadError) as excinfo:
        load_dir(tmp_path)
    assert [(Path(p.file).name, p.line) for p in excinfo.value.problems] == [
        ("bad.yaml", 1),
        ("bad.yaml", 1),
    ]


def test_load_dir_returns_a_catalog(tmp_path):
    write(tmp_path, "good.yaml", GOOD)
    catalog = load_dir(tmp_path)
    assert [playbook.id for playbook in catalog.all()] == ["good"]


def test_two_fallback_playbooks_are_an_error_at_the_second(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD.replace("id: good", "id: other").replace("Good", "Other"))
    expected = (
        f"{tmp_path / 'b.yaml'}:1: playbook 'other' has no match, like 'good' at "
        f"{tmp_path / 'a.yaml'}:1: only one playbook may be the fallback; give one of them a match"
    )
    assert problems_of(tmp_path) == [expected]
    with pytest.raises(PlaybookLoadError) as raised:
        load_dir(tmp_path)
    assert str(raised.value.problems[0]) == expected


def test_an_empty_match_is_a_fallback_too_and_is_pointed_at(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", "id: other\ntitle: Other\nmatch: {}\nstages: [{id: s, title: S}]\n")
    (problem,) = check_dir(tmp_path)
    assert (Path(problem.file).name, problem.line) == ("b.yaml", 3)


def test_one_fallback_beside_matching_playbooks_is_fine(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(
        tmp_path,
        "b.yaml",
        "id: other\ntitle: Other\nmatch: {service: x}\nstages: [{id: s, title: S}]\n",
    )
    assert problems_of(tmp_path) == []


def test_tasks_name_what_does_them_and_the_bundled_playbooks_use_it():
    trading = load_playbook(bundled_dir() / "trading-engine-outage.yaml")
    detect, respond, identify = trading.stages[:3]
    assert detect.tasks[2].done_on == "acknowledged"
    assert (respond.tasks[1].text, respond.tasks[1].done_by) == (
        "Post a first status update",
        "update",
    )
    assert identify.tasks[1].done_by == "cause"
    assert {task.done_by for task in trading.stage("review").tasks} == {"action"}
    default = load_playbook(bundled_dir() / "default.yaml")
    assert [t.done_by for t in default.stage("respond").tasks][:2] == [
        "role commander",
        "role comms",
    ]


def test_a_plain_task_stays_a_string_in_the_stored_snapshot():
    trading = load_playbook(bundled_dir() / "trading-engine-outage.yaml")
    tasks = trading.snapshot()["stages"][0]["tasks"]
    assert tasks[0].startswith("Confirm API users")
    assert tasks[2] == {
        "text": "Acknowledge with /incident ack to start the emergency response",
        "done_on": "acknowledged",
    }


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (
            "{text: Ack, done_on: acked}",
            "stages[0].tasks[0].done_on: 'acked' is not a milestone (started, detected, declared, "
            "acknowledged, identified, mitigated or resolved)",
        ),
        (
            "{text: Tell, done_by: shout}",
            "stages[0].tasks[0].done_by: 'shout' is not an /incident command that records "
            "something (ack, sev, status, update, note, log, time, role, stage, impact, cause, "
            "action, mitigate, resolve, reopen, statuspage, public-title, postmortem, maintenance)",
        ),
        (
            "{text: Boss, done_by: role boss}",
            "stages[0].tasks[0].done_by: 'role boss': role takes one of commander, comms, "
            "scribe, ops",
        ),
        (
            "{text: Cause, done_by: cause found}",
            "stages[0].tasks[0].done_by: 'cause found': cause takes no word after it",
        ),
        ("{text: Tell, done_when: update}", "unknown key 'done_when' in stages[0].tasks[0]"),
    ],
)
def test_a_task_naming_an_unknown_milestone_or_verb_is_an_error_at_its_line(
    tmp_path, task, message
):
    write(
        tmp_path,
        "p.yaml",
        GOOD + f"    tasks:\n      - Look\n      - {task}\n".replace("[0]", "[1]"),
    )
    (problem,) = check_dir(tmp_path)
    assert problem.line == 8  # the task's own line
    assert problem.message == message.replace("tasks[0]", "tasks[1]")
