"""The workspace page in real Chromium: declare an incident, open its channel, acknowledge it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser


def require_chromium() -> None:
    """Skip without Debian's Chromium, except under CI where it must be installed."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")


@pytest.fixture
def browser_page() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait as long as actions: the sandbox paces posts at Slack's rate limits, and
    # an incident's opening (channel, invites, topic, card) outlasts the 5 s default on a
    # loaded CI machine.
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_declare_open_channel_and_acknowledge_in_the_page(service, browser_page) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{service.url}/sandbox")
    expect(page.locator("#channel-title")).to_have_text("#incidents")
    page.select_option("#user-switch", "alice")
    expect(page.locator("#user-switch")).to_have_value("alice")

    page.fill("#composer-input", "/incident declare Spot trading errors sev1")
    page.press("#composer-input", "Enter")

    incident = page.locator("#incident-list a", has_text="spot-trading-errors")
    expect(incident).to_be_visible()
    incident.click()
    expect(page.locator("#channel-title")).to_have_text(re.compile(r"#inc-.*spot-trading-errors"))

    card = page.locator("#messages article.message.pinned", has=page.locator(".bk-header"))
    expect(card.locator(".bk-header")).to_have_text("SEV1 · #1 Spot trading errors")
    expect(card.locator(".tag.pin")).to_have_text("📌 Pinned")
    expect(card.locator(".bk-field", has_text="Status")).to_contain_text("🔍 investigating")

    page.select_option("#user-switch", "bob")
    card.get_by_role("button", name="Acknowledge").click()

    messages = page.locator("#messages")
    expect(messages).to_contain_text("acknowledged")
    expect(card.locator(".bk-field", has_text="Commander")).to_contain_text("@bob")
    assert "<" not in page.locator("#messages").inner_text()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_declare_through_the_modal_and_see_it_on_home(service, browser_page) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{service.url}/sandbox/")
    page.select_option("#user-switch", "carol")
    page.fill("#composer-input", "/incident declare")
    page.press("#composer-input", "Enter")

    modal = page.locator("#modal-root .modal")
    expect(modal.locator("h2")).to_have_text("Declare an incident")
    modal.get_by_role("button", name="Declare").click()
    expect(modal.locator(".bk-error").first).not_to_be_empty()

    modal.get_by_label("What is wrong?").fill("Margin <b>trading</b> down")
    modal.get_by_label("Severity").select_option("sev2")
    modal.get_by_role("button", name="Declare").click()
    expect(page.locator("#modal-root")).to_be_hidden()

    expect(page.locator("#incident-list a", has_text="margin")).to_be_visible()
    page.click("#home-link")
    home = page.locator("#messages .home")
    expect(home).to_contain_text("Margin <b>trading</b> down")
    expect(home).to_contain_text("🟠")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_reference_incident_from_the_page(service, browser_page) -> None:
    import httpx
    from playwright.sync_api import expect

    alert = {
        "title": "API error 30030: matching engine upgrade in progress",
        "severity": "critical",
        "labels": {"service": "matching-engine", "alertname": "MatchingEngineErrors"},
        "group": "matching-engine",
    }
    answer = httpx.post(f"{service.url}/alerts/generic", json=alert, headers=service.auth)
    assert answer.status_code == 202

    page = browser_page
    page.goto(f"{service.url}/sandbox/")
    page.select_option("#user-switch", "alice")
    page.locator("#incident-list a", has_text="api-error-30030").click()
    card = page.locator("#messages article.message.pinned", has=page.locator(".bk-header"))
    # The card comes through the outbox once the channel exists, paced by the sandbox's
    # rate limits; under CI's two busy workers that once took over 20 s.
    expect(card.locator(".bk-header")).to_contain_text("SEV1 · #1 API error 30030", timeout=45_000)
    card.get_by_role("button", name="Acknowledge").click()
    expect(card.locator(".bk-field", has_text="Stage")).to_contain_text("Emergency response")

    def say(text: str, expected: str) -> None:
        page.fill("#composer-input", text)
        page.press("#composer-input", "Enter")
        expect(page.locator("#messages")).to_contain_text(expected)

    say("/incident impact API users receive error code 30030", "Impact: API users receive")
    say("/incident update Investigating spot and margin errors", "Status update: Investigating")
    say("Restart of the risk service did not help", "Restart of the risk service")
    plain = page.locator("#messages article.message", has_text="Restart of the risk service")
    plain.hover()
    plain.get_by_role("button", name="React with pushpin").click()
    say("/incident status identified failed internal dependency", "Status changed to")
    expect(card.locator(".bk-field", has_text="Status")).to_contain_text("identified")
    say("/incident cause an internal dependency of the matching engine failed", "Cause:")
    say("/incident mitigate service restored", "Mitigated")

    card.get_by_role("button", name="Resolve").click()
    page.locator(".modal.confirm").get_by_role("button", name="Resolve").click()
    # A resolve posts several messages and an upload, paced by Slack's per-channel rate limit
    # the sandbox enforces: longer than Playwright's 5 s default on a loaded machine.
    drafted = page.locator("#messages")
    expect(drafted).to_contain_text("Postmortem draft for incident #1", timeout=30_000)
    # The draft comes as a file, and beside it the incident's timeline figure.
    files = page.locator("#messages a.file")
    expect(files.filter(has_text="Postmortem draft")).to_have_count(1, timeout=30_000)
    figure = files.filter(has_text="Timeline:")
    expect(figure).to_have_attribute("href", re.compile(r"timeline\.png$"), timeout=30_000)
    # The link opens the figure for the page's user (its url_private wants a token).
    shown = page.request.get(urljoin(page.url, figure.get_attribute("href") or ""))
    assert shown.body().startswith(b"\x89PNG\r\n\x1a\n")

    timeline = httpx.get(f"{service.url}/api/incidents/1/timeline", headers=service.auth)
    kinds = [event["kind"] for event in timeline.json()["events"]]
    for kind in (
        "alert",
        "ack",
        "impact",
        "update",
        "pin",
        "status",
        "cause",
        "mitigated",
        "resolved",
    ):
        assert kind in kinds, kind
    draft = httpx.get(f"{service.url}/api/incidents/1/postmortem", headers=service.auth).text
    assert "Restart of the risk service did not help" in draft


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_page_shows_slacks_own_refusals_of_a_command(service, browser_page) -> None:
    """What Slack's client says, not `dispatch_failed`: an unknown command is "not a valid
    command" from Slackbot (docs.slack.dev/interactivity/implementing-slash-commands), and a
    public channel one only previews has no message box to run commands in."""
    from playwright.sync_api import expect

    service.sandbox.bot().conversations_create(name="inc-elsewhere")
    page = browser_page
    page.goto(f"{service.url}/sandbox/")
    page.select_option("#user-switch", "carol")
    page.locator("#channel-list a", has_text="incidents").click()
    expect(page.locator("#channel-title")).to_have_text("#incidents")

    page.fill("#composer-input", "/incidnet ack")
    page.press("#composer-input", "Enter")
    note = page.locator("#messages article.message.ephemeral", has_text="/incidnet")
    expect(note.locator(".author")).to_have_text("Slackbot")
    expect(note).to_contain_text(
        '/incidnet is not a valid command. In Slack, all messages that start with the "/" '
        "character are interpreted as commands."
    )
    expect(note).to_contain_text("Only visible to you")
    expect(page.locator("#toast")).to_contain_text("/incidnet is not a valid command.")

    page.locator("#incident-list a", has_text="inc-elsewhere").click()
    expect(page.locator("#channel-title")).to_have_text("#inc-elsewhere")
    page.fill("#composer-input", "/incident ack")
    page.press("#composer-input", "Enter")
    expect(page.locator("#toast")).to_have_text(
        "You are viewing #inc-elsewhere. Join the channel to run commands in it."
    )
    assert "U0CAROL" not in service.sandbox.channel("inc-elsewhere")["members"]
    assert "dispatch_failed" not in page.locator("#messages").inner_text()
