"""The workspace every fresh sandbox starts with: team, bot, five responders, two channels."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import Connection, func, select

from bot.sandbox import tables as t
from bot.sandbox.base import new_id, new_token

TEAM_ID = "T0SANDBOX"
TEAM_NAME = "warroom sandbox"
BOT_USER_ID = "U0WARROOM"
BOT_ID = "B0WARROOM"
SRE_GROUP_ID = "S0SREGROUP"

HUMANS: list[dict[str, str]] = [
    {"id": "U0ALICE", "name": "alice", "real_name": "Alice Chen", "tz": "Asia/Hong_Kong"},
    {"id": "U0BOB", "name": "bob", "real_name": "Bob Okafor", "tz": "Europe/London"},
    {"id": "U0CAROL", "name": "carol", "real_name": "Carol Diaz", "tz": "America/New_York"},
    {"id": "U0DAVE", "name": "dave", "real_name": "Dave Kim", "tz": "Asia/Hong_Kong"},
    {"id": "U0ERIN", "name": "erin", "real_name": "Erin Novak", "tz": "Europe/Berlin"},
]
CHANNELS = [
    ("C0GENERAL", "general", "Company-wide announcements"),
    ("C0INCIDENTS", "incidents", ""),
]


def is_seeded(conn: Connection) -> bool:
    return conn.execute(select(t.kv.c.value).where(t.kv.c.key == "team_id")).first() is not None


def seed(conn: Connection, *, now: int) -> None:
    """Fill an empty sandbox; secrets and tokens are random once and then persist."""
    conn.execute(
        t.kv.insert(),
        [
            {"key": "team_id", "value": TEAM_ID},
            {"key": "team_name", "value": TEAM_NAME},
            {"key": "signing_secret", "value": secrets.token_hex(16)},
        ],
    )
    conn.execute(
        t.users.insert().values(
            id=BOT_USER_ID,
            name="warroom",
            real_name="warroom",
            email=None,
            tz="UTC",
            is_bot=True,
            bot_id=BOT_ID,
            token=new_token("xoxb"),
            seq=0,
        )
    )
    for seq, human in enumerate(HUMANS, start=1):
        conn.execute(
            t.users.insert().values(
                **human,
                email=f"{human['name']}@example.com",
                is_bot=False,
                bot_id=None,
                token=new_token("xoxp"),
                seq=seq,
            )
        )
    # The groups the bundled playbooks invite, so every playbook runs in the sandbox.
    for group_id, handle, name, users in (
        (SRE_GROUP_ID, "sre", "SRE on-call", ["U0ALICE", "U0BOB"]),
        ("S0DBAGROUP", "dba", "Database on-call", ["U0BOB", "U0CAROL"]),
        ("S0SECURITY", "security", "Security response", ["U0DAVE", "U0ERIN"]),
    ):
        conn.execute(
            t.usergroups.insert().values(id=group_id, handle=handle, name=name, users=users)
        )
    everyone = [BOT_USER_ID] + [h["id"] for h in HUMANS]
    for n, (channel_id, name, purpose) in enumerate(CHANNELS, start=1):
        conn.execute(
            t.channels.insert().values(
                id=channel_id,
                name=name,
                is_private=False,
                is_im=False,
                is_general=name == "general",
                is_archived=False,
                creator="U0ALICE",
                created=now,
                created_ts=f"0.{n:06d}",
                topic={"value": "", "creator": "", "last_set": 0},
                purpose={
                    "value": purpose,
                    "creator": "U0ALICE" if purpose else "",
                    "last_set": now,
                },
                bookmarks=[],
            )
        )
        conn.execute(
            t.members.insert(),
            [{"channel_id": channel_id, "user_id": u, "joined": "0"} for u in everyone],
        )


def ensure_app_token(conn: Connection, configured: str | None = None) -> str:
    """Keep the app-level token Socket Mode uses: the configured one, else one made up once."""
    current = conn.execute(select(t.kv.c.value).where(t.kv.c.key == "app_token")).scalar()
    wanted = configured or current or new_token("xapp-1-A0WARROOM")
    if current is None:
        conn.execute(t.kv.insert().values(key="app_token", value=wanted))
    elif current != wanted:
        conn.execute(t.kv.update().where(t.kv.c.key == "app_token").values(value=wanted))
    return wanted


def add_user(
    conn: Connection,
    name: str,
    *,
    email: str | None = None,
    real_name: str | None = None,
    tz: str = "UTC",
) -> dict[str, Any]:
    """Create a human user (or return the existing one of that name) with a user token."""
    existing = conn.execute(select(t.users).where(t.users.c.name == name)).mappings().first()
    if existing is not None:
        return dict(existing)
    user_id = "U0" + re.sub(r"[^A-Z0-9]", "", name.upper())[:9]
    taken = conn.execute(select(t.users.c.id).where(t.users.c.id == user_id)).first()
    if taken or user_id == "U0":
        user_id = new_id("U")
    seq = conn.execute(select(func.coalesce(func.max(t.users.c.seq), 0))).scalar_one() + 1
    values = {
        "id": user_id,
        "name": name,
        "real_name": real_name or name.title(),
        "email": email or f"{name}@example.com",
        "tz": tz,
        "is_bot": False,
        "bot_id": None,
        "token": new_token("xoxp"),
        "seq": seq,
    }
    conn.execute(t.users.insert().values(**values))
    return values
