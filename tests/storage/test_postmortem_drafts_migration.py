"""Migration 0020: the drafts kept on `incidents.postmortem` become the last generated text."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import make_engine
from storage.migrate import upgrade


def test_drafts_stored_before_0020_become_the_last_generated_text(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'drafts.db'}")
    upgrade(engine, "0018")
    with engine.begin() as connection:
        for id_, draft in ((1, "# Postmortem: one\n"), (2, None)):
            connection.execute(
                text(
                    "INSERT INTO incidents (id, title, severity, status, playbook_id, "
                    "playbook_snapshot, playbook_state, drill, external, created_at, "
                    "updated_at, resolved_at, postmortem) VALUES (:id, 't', 'sev1', "
                    "'resolved', 'default', '{}', '{}', 0, '{}', '2021-03-10 09:56:00', "
                    "'2021-03-10 11:00:00', '2021-03-10 10:30:00', :draft)"
                ),
                {"id": id_, "draft": draft},
            )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT incident_id, generated, edited, edited_via FROM postmortem_drafts")
        ).all()
    assert [tuple(row) for row in rows] == [(1, "# Postmortem: one\n", None, None)]
    engine.dispose()
