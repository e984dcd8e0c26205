"""The sandbox's own tables, kept apart from storage/'s SQLModel metadata and migrations."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

kv = Table(
    "sandbox_kv",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "sandbox_users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("real_name", String(200), nullable=False, default=""),
    Column("email", String(200), nullable=True, unique=True),
    Column("tz", String(64), nullable=False, default="UTC"),
    Column("is_bot", Boolean, nullable=False, default=False),
    Column("bot_id", String(32), nullable=True),
    Column("token", String(100), nullable=False, unique=True),
    Column("seq", Integer, nullable=False, default=0),
)

usergroups = Table(
    "sandbox_usergroups",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("handle", String(80), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("users", JSON, nullable=False),
)

channels = Table(
    "sandbox_channels",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("is_private", Boolean, nullable=False, default=False),
    Column("is_im", Boolean, nullable=False, default=False),
    Column("is_general", Boolean, nullable=False, default=False),
    Column("is_archived", Boolean, nullable=False, default=False),
    Column("creator", String(32), nullable=False),
    Column("created", Integer, nullable=False),
    # A ts from the same sequence as messages: lists follow creation order exactly.
    Column("created_ts", String(20), nullable=False),
    Column("topic", JSON, nullable=False),
    Column("purpose", JSON, nullable=False),
    Column("bookmarks", JSON, nullable=False),
)

members = Table(
    "sandbox_members",
    metadata,
    Column("channel_id", String(32), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("joined", String(20), nullable=False),
)

messages = Table(
    "sandbox_messages",
    metadata,
    Column("channel_id", String(32), primary_key=True),
    Column("ts", String(20), primary_key=True),
    # Parent ts for replies, own ts for thread parents, None for plain messages.
    Column("thread_ts", String(20), nullable=True, index=True),
    Column("user_id", String(32), nullable=False),
    Column("body", JSON, nullable=False),
    Column("reactions", JSON, nullable=False),
    Column("pinned_by", String(32), nullable=True),
    Column("pinned_at", Integer, nullable=True),
)

ephemeral = Table(
    "sandbox_ephemeral",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel_id", String(32), nullable=False, index=True),
    Column("user_id", String(32), nullable=False),
    Column("ts", String(20), nullable=False),
    Column("body", JSON, nullable=False),
)

files = Table(
    "sandbox_files",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("title", String(255), nullable=False),
    Column("length", Integer, nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("created", Integer, nullable=False),
    Column("content", LargeBinary, nullable=True),
    Column("completed", Boolean, nullable=False, default=False),
    Column("shares", JSON, nullable=False),
)

views = Table(
    "sandbox_views",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("external_id", String(255), nullable=True, unique=True),
    Column("hash", String(64), nullable=False),
    Column("view", JSON, nullable=False),
    Column("closed", Boolean, nullable=False, default=False),
)
