"""Migration 0018: follow-ups get a table of their own, and the action items kept before it
come along, numbered within their incident in the order they were added; 0022 drops the
old table, and a downgrade past both keeps every item."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from storage.db import make_engine
from storage.migrate import alembic_config, upgrade


def test_action_items_stored_before_0018_become_numbered_follow_ups(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'actions.db'}")
    upgrade(engine, "0016")
    with engine.begin() as connection:
        for id_ in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO incidents (id, title, severity, status, playbook_id, "
                    "playbook_snapshot, playbook_state, drill, external, created_at, "
                    "updated_at) VALUES (:id, 't', 'sev1', 'resolved', 'default', '{}', '{}', "
                    "0, '{}', '2021-03-10 09:56:00', '2021-03-10 09:56:00')"
                ),
                {"id": id_},
            )
        items = [
            # (id, incident, text, owner, due, status, created_at)
            (1, 1, "Add redundancy", "U0BOB", "2021-04-01", "open", "2021-03-10 10:20:00"),
            (2, 2, "Other incident's", None, None, "open", "2021-03-10 10:21:00"),
            (3, 1, "Review customers", None, None, "done", "2021-03-10 10:22:00"),
            # Added earlier, though its id is later: numbered by when it was added.
            (4, 1, "Test upgrades", None, None, "open", "2021-03-10 10:19:00"),
        ]
        for row in items:
            connection.execute(
                text(
                    "INSERT INTO action_items (id, incident_id, text, owner, due, status, "
                    "created_by, created_at) VALUES (:id, :incident, :text, :owner, :due, "
                    ":status, 'U0ALICE', :at)"
                ),
                dict(
                    zip(
                        ("id", "incident", "text", "owner", "due", "status", "at"), row, strict=True
                    )
                ),
            )
    upgrade(engine)
    assert "followups" in inspect(engine).get_table_names()
    assert "action_items" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        copied = connection.execute(
            text(
                "SELECT incident_id, number, text, owner, due, status, created_by, tracker "
                "FROM followups ORDER BY incident_id, number"
            )
        ).all()
    assert [tuple(row) for row in copied] == [
        (1, 1, "Test upgrades", None, None, "open", "U0ALICE", None),
        (1, 2, "Add redundancy", "U0BOB", "2021-04-01", "open", "U0ALICE", None),
        (1, 3, "Review customers", None, None, "done", "U0ALICE", None),
        (2, 1, "Other incident's", None, None, "open", "U0ALICE", None),
    ]

    # Down past 0022 and 0018: the items are in action_items again, the follow-ups gone.
    command.downgrade(alembic_config(engine), "0017")
    assert "followups" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        back = connection.execute(
            text("SELECT incident_id, text, status FROM action_items ORDER BY incident_id, id")
        ).all()
    assert [tuple(row) for row in back] == [
        (1, "Test upgrades", "open"),
        (1, "Add redundancy", "open"),
        (1, "Review customers", "done"),
        (2, "Other incident's", "open"),
    ]
    upgrade(engine)
    assert "action_items" not in inspect(engine).get_table_names()
    engine.dispose()
