"""Display names: concurrent first sightings of one person never collide."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from storage.db import transaction
from storage.people import names, remember

NOW = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


def test_concurrent_first_sightings_store_one_row(sessions) -> None:
    def see(n: int) -> None:
        with transaction(sessions) as session:
            remember(session=session, user_id="U0ALICE", name=f"alice{n % 2}", now=NOW)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(see, range(30)))
    with sessions() as session:
        assert names(session=session)["U0ALICE"] in ("alice0", "alice1")
        assert len(names(session=session)) == 1


def test_a_new_name_replaces_the_old(sessions) -> None:
    with transaction(sessions) as session:
        remember(session=session, user_id="U0BOB", name="bob", now=NOW)
    with transaction(sessions) as session:
        remember(session=session, user_id="U0BOB", name="Bob Okafor", now=NOW)
        remember(session=session, user_id="U0CAROL", name=None, now=NOW)
    with sessions() as session:
        assert names(session=session) == {"U0BOB": "Bob Okafor"}
