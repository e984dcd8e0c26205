"""The README: its sections in order, the Alertmanager example valid and shown verbatim."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from bot.composition.config import Settings

ROOT = Path(__file__).parents[1]
ALERTMANAGER = ROOT / "docs" / "alertmanager.yml"
README = ROOT / "README.md"
# The order a new team reads it in (issue 11).
SECTIONS = [
    "What you see",
    "Connect to real Slack",
    "Send alerts",
    "Write a playbook",
    "Drive an incident",
    "Configuration",
    "Running on PostgreSQL with several replicas",
    "Metrics and logs",
    "Docker",
    "Guarantees",
    "Development",
]


def _prose(text: str) -> str:
    """The README without its fenced examples (a Markdown excerpt has headings of its own)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def test_alertmanager_example_has_the_fields_alertmanager_expects() -> None:
    config = YAML(typ="safe").load(ALERTMANAGER.read_text())
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    (receiver,) = receivers.values()
    (webhook,) = receiver["webhook_configs"]
    assert webhook["url"].startswith("https://")
    assert webhook["url"].endswith("/alerts/alertmanager")
    assert webhook["send_resolved"] is True
    authorization = webhook["http_config"]["authorization"]
    assert authorization["type"] == "Bearer"
    assert authorization.get("credentials") or authorization.get("credentials_file")
    # Alertmanager refuses both in one http_config, and basic_auth beside authorization.
    assert not {"credentials", "credentials_file"} <= set(authorization)
    assert "basic_auth" not in webhook["http_config"]
    assert isinstance(config["route"]["group_by"], list)


def test_the_readme_opens_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks[:2] == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/warroom serve\n",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest\n",
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci, ".ci/run must call the README's test command"


def test_the_readme_section_embeds_exactly_that_file() -> None:
    text = README.read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert ALERTMANAGER.read_text() in blocks


def test_sections_in_order_and_links_resolve() -> None:
    text = README.read_text()
    headings = re.findall(r"^## (.+)$", _prose(text), flags=re.MULTILINE)
    assert headings == SECTIONS
    for target in re.findall(r"\]\(((?!https?:|#)[^)]+)\)", text):
        assert (ROOT / target).exists(), f"broken link: {target}"


def test_every_variable_named_exists() -> None:
    known = {field.validation_alias for field in Settings.model_fields.values()}
    known.add("WARROOM_TEST_POSTGRES_URL")  # the test suite's, not the service's
    named = set(re.findall(r"\b((?:SLACK|WARROOM)_[A-Z_]+|DATABASE_URL)\b", README.read_text()))
    assert named, "the docs name the settings they use"
    assert named <= known, f"not settings: {sorted(named - known)}"
