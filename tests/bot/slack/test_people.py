"""A name typed without picking it from Slack's list is found in the workspace's directory,
read from the sandbox over HTTP with slack-sdk, and read again only when it is old."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from bot.sandbox import Sandbox, build_sandbox_router
from bot.sandbox.client import SandboxClient
from bot.slack.people import KEEP_FOR, REREAD_AFTER, Directory, Person, UnknownPerson
from tests.support.server import run_app_in_thread


@pytest.fixture
def sandbox(engine: Engine) -> Iterator[SandboxClient]:
    workspace = Sandbox(engine)
    app = FastAPI()
    app.include_router(build_sandbox_router(workspace), prefix="/sandbox")
    with run_app_in_thread(app) as url:
        client = SandboxClient(url)
        yield client
        client.close()
    assert workspace.driver is not None
    workspace.driver.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_typed_name_is_found_case_blind_and_the_directory_is_read_once(
    sandbox: SandboxClient,
) -> None:
    clock = Clock()

    async def scenario() -> None:
        directory = Directory(sandbox.async_bot(), clock=clock)
        assert await directory.find("@bob") == Person("U0BOB", "bob")
        assert await directory.find("Carol") == Person("U0CAROL", "carol")
        assert await directory.name_of("U0DAVE") == "dave"
        with pytest.raises(UnknownPerson, match="Nobody in this workspace is called `@nobody`"):
            await directory.find("nobody")
        with pytest.raises(UnknownPerson, match="U0NOBODY"):
            await directory.name_of("U0NOBODY")

    asyncio.run(scenario())
    assert len(sandbox.calls("users.list")) == 1
    # Names came from the directory already read; only the unknown id was asked about.
    assert [c["error"] for c in sandbox.calls("users.info")] == ["user_not_found"]


def test_a_name_behind_an_id_is_asked_once_while_it_is_fresh(sandbox: SandboxClient) -> None:
    clock = Clock()

    async def scenario() -> None:
        directory = Directory(sandbox.async_bot(), clock=clock)
        assert await directory.name_of("U0DAVE") == "dave"
        assert await directory.name_of("U0DAVE") == "dave"
        clock.now += KEEP_FOR
        assert await directory.name_of("U0DAVE") == "dave"

    asyncio.run(scenario())
    assert len(sandbox.calls("users.info")) == 2
    assert sandbox.calls("users.list") == []


def test_someone_who_joined_since_is_found_once_the_copy_is_a_minute_old(
    sandbox: SandboxClient,
) -> None:
    clock = Clock()

    async def scenario() -> None:
        directory = Directory(sandbox.async_bot(), clock=clock)
        await directory.find("bob")
        frank = sandbox.add_user("frank")
        with pytest.raises(UnknownPerson):
            await directory.find("frank")  # the copy is fresh: not read again
        clock.now += REREAD_AFTER
        assert await directory.find("frank") == Person(frank.id, "frank")
        clock.now += KEEP_FOR
        await directory.find("bob")

    asyncio.run(scenario())
    assert len(sandbox.calls("users.list")) == 3
