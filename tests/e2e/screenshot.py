"""Screenshot the sandbox page with an incident in it: `python -m tests.e2e.screenshot OUT.png`.

Starts warroom in sandbox mode on a throwaway SQLite database, declares and acknowledges an
incident as the page's users would, and saves what Debian's Chromium shows.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bot.composition.app import create_app
from bot.composition.config import Settings
from bot.composition.runtime import build_runtime
from bot.sandbox.client import SandboxClient
from tests.e2e.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS
from tests.support.server import free_port, run_app_in_thread, wait_until


def _incident_channel(client: SandboxClient) -> dict | None:
    return next((c for c in client.info()["channels"] if c["name"].startswith("inc-")), None)


def main(out: str) -> int:
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            DATABASE_URL=f"sqlite:///{Path(folder) / 'warroom.db'}",
            WARROOM_TIMEZONE="Asia/Hong_Kong",
            WARROOM_BROADCAST_CHANNEL="incidents",
        )
        runtime = build_runtime(settings)
        port = free_port()
        app = create_app(runtime, public_url=f"http://127.0.0.1:{port}")
        with run_app_in_thread(app, port=port) as url:
            client = SandboxClient(url)
            client.as_user("alice").command(
                "/incident declare Spot trading errors sev1", "incidents"
            )
            channel = wait_until(lambda: _incident_channel(client), timeout=15)
            wait_until(lambda: any(m.get("pinned_to") for m in client.messages(channel["id"])), 15)
            client.as_user("bob").click(channel["id"], "incident_acknowledge")
            client.as_user("carol").command(
                "/incident note API users get error 30030 (matching engine upgrade)", channel["id"]
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                )
                page = browser.new_page(viewport={"width": 1360, "height": 860})
                page.add_init_script(
                    f"localStorage.setItem('sandbox.user', 'bob');"
                    f"localStorage.setItem('sandbox.channel', '{channel['id']}');"
                )
                page.goto(f"{url}/sandbox/")
                expect(page.locator("#messages .bk-header").first).to_be_visible()
                expect(page.locator("#messages")).to_contain_text("30030")
                page.click("#pins-toggle")
                page.screenshot(path=out)
                browser.close()
            client.close()
        runtime.close()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/sandbox.png"))
