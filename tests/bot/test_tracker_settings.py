"""Ticket tracker settings: one tracker at most, each wholly set or not at all, validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.composition.config import Settings, describe_error

GITHUB = {"WARROOM_GITHUB_TOKEN": "github_pat_0123456789abcdef", "WARROOM_GITHUB_REPO": "acme/ops"}
JIRA = {
    "WARROOM_JIRA_URL": "https://acme.atlassian.net",
    "WARROOM_JIRA_EMAIL": "sre@acme.example",
    "WARROOM_JIRA_TOKEN": "jira-token-0123456789",
    "WARROOM_JIRA_PROJECT": "OPS",
}
LINEAR = {"WARROOM_LINEAR_API_KEY": "lin_api_0123456789abcdef", "WARROOM_LINEAR_TEAM": "ENG"}


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def refusal(**env: str) -> str:
    with pytest.raises(ValidationError) as raised:
        settings(**env)
    return describe_error(raised.value)


@pytest.mark.parametrize(
    ("env", "tracker"),
    [({}, None), (GITHUB, "github"), (JIRA, "jira"), (LINEAR, "linear")],
    ids=["none", "github", "jira", "linear"],
)
def test_the_tracker_is_the_one_wholly_configured(env: dict[str, str], tracker: str | None) -> None:
    assert settings(**env).tracker == tracker


def test_defaults_are_the_trackers_own_endpoints() -> None:
    configured = settings(**GITHUB)
    assert str(configured.github_api_url) == "https://api.github.com/"
    assert str(configured.linear_api_url) == "https://api.linear.app/graphql"


def test_two_trackers_are_refused_naming_them() -> None:
    assert refusal(**GITHUB, **JIRA) == (
        "invalid configuration: more than one ticket tracker is configured (github, jira): "
        "follow-ups are filed in one; unset the others"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"WARROOM_GITHUB_TOKEN": "github_pat_0123456789abcdef"},
            "github tracker: also set WARROOM_GITHUB_REPO",
        ),
        (
            {"WARROOM_JIRA_URL": "https://acme.atlassian.net", "WARROOM_JIRA_PROJECT": "OPS"},
            "jira tracker: also set WARROOM_JIRA_EMAIL, WARROOM_JIRA_TOKEN",
        ),
        ({"WARROOM_LINEAR_TEAM": "ENG"}, "linear tracker: also set WARROOM_LINEAR_API_KEY"),
        (
            {**GITHUB, "WARROOM_GITHUB_REPO": "acme"},
            "WARROOM_GITHUB_REPO: not a GitHub repository: 'acme' (expected owner/name)",
        ),
        (
            {**GITHUB, "WARROOM_GITHUB_REPO": "acme/ops/extra"},
            "WARROOM_GITHUB_REPO: not a GitHub repository: 'acme/ops/extra'",
        ),
        (
            {**JIRA, "WARROOM_JIRA_PROJECT": "ops"},
            "WARROOM_JIRA_PROJECT: not a Jira project key: 'ops' (expected e.g. OPS)",
        ),
        (
            {**GITHUB, "WARROOM_GITHUB_WEBHOOK_SECRET": "short"},
            "WARROOM_GITHUB_WEBHOOK_SECRET: too short (5 characters): use at least 16",
        ),
        (
            {**GITHUB, "WARROOM_GITHUB_API_URL": "not a url"},
            "WARROOM_GITHUB_API_URL: ",
        ),
    ],
)
def test_half_set_or_malformed_tracker_settings_are_refused(
    env: dict[str, str], message: str
) -> None:
    assert message in refusal(**env)


def test_blank_values_are_unset() -> None:
    assert settings(WARROOM_GITHUB_TOKEN="", WARROOM_GITHUB_REPO="").tracker is None
