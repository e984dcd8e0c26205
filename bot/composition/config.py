"""Settings from the environment (and `.env`), validated once at start."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from playbooks.durations import parse_duration

# Shorter shared secrets can be guessed, and could not be told from words in a log line to
# mask them there. Slack's own tokens are masked by their shape (`xoxb-...`) instead.
MIN_SECRET_LENGTH = 16
_SECRETS = (
    "alert_token",
    "slack_signing_secret",
    "webhook_secret",
    "pagerduty_routing_key",
    "statuspage_api_key",
    "github_webhook_secret",
    "jira_webhook_secret",
    "linear_webhook_secret",
)
# owner/name as GitHub spells them: letters, digits and `-` for the owner; `.` and `_` too
# for the repository.
_GITHUB_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
# A Jira project key: an uppercase letter, then uppercase letters, digits or `_`.
_JIRA_PROJECT = re.compile(r"[A-Z][A-Z0-9_]{0,9}")


class Settings(BaseSettings):
    """Everything warroom reads from its environment; see the README's table."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    database_url: str = Field("sqlite:///./warroom.db", validation_alias="DATABASE_URL")
    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://slack.com/api/"), validation_alias="SLACK_API_URL"
    )
    alert_token: SecretStr | None = Field(None, validation_alias="WARROOM_ALERT_TOKEN")
    timezone: str = Field("UTC", validation_alias="WARROOM_TIMEZONE")
    playbooks_dir: str | None = Field(None, validation_alias="WARROOM_PLAYBOOKS")
    templates_dir: str | None = Field(None, validation_alias="WARROOM_TEMPLATES")
    broadcast_channel: str | None = Field(None, validation_alias="WARROOM_BROADCAST_CHANNEL")
    pagerduty_routing_key: SecretStr | None = Field(
        None, validation_alias="WARROOM_PAGERDUTY_ROUTING_KEY"
    )
    pagerduty_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://events.pagerduty.com/v2/enqueue"),
        validation_alias="WARROOM_PAGERDUTY_URL",
    )
    statuspage_api_key: SecretStr | None = Field(
        None, validation_alias="WARROOM_STATUSPAGE_API_KEY"
    )
    statuspage_page_id: str | None = Field(None, validation_alias="WARROOM_STATUSPAGE_PAGE_ID")
    statuspage_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://api.statuspage.io/v1/"), validation_alias="WARROOM_STATUSPAGE_URL"
    )
    webhooks: str | None = Field(None, validation_alias="WARROOM_WEBHOOKS")
    webhook_secret: SecretStr | None = Field(None, validation_alias="WARROOM_WEBHOOK_SECRET")
    # Receivers marked private-ok: they get every event, a private incident's included;
    # those of WARROOM_WEBHOOKS get public incidents' only.
    private_webhooks: str | None = Field(None, validation_alias="WARROOM_PRIVATE_WEBHOOKS")
    # A private incident's opening: announced without its title (true) or not at all.
    announce_private: bool = Field(True, validation_alias="WARROOM_ANNOUNCE_PRIVATE")
    log_format: str = Field("text", validation_alias="WARROOM_LOG_FORMAT")
    # Sandbox mode on a non-loopback address only when asked for (`warroom serve` refuses).
    sandbox_allow_remote: bool = Field(False, validation_alias="WARROOM_SANDBOX_ALLOW_REMOTE")
    # The sandbox refuses calls past Slack's rate limits as Slack does; off for bursts.
    sandbox_rate_limits: bool = Field(True, validation_alias="WARROOM_SANDBOX_RATE_LIMITS")
    # A node-down storm with Alertmanager's `max_alerts: 0` sends one body per group with
    # every alert in it (2,500 alerts are about 1.4 MB); other routes keep their 1 MiB cap.
    max_alert_body: int = Field(16 * 1024 * 1024, gt=0, validation_alias="WARROOM_MAX_ALERT_BODY")
    # Grafana has no default timestamp header; this is the name the README configures.
    grafana_timestamp_header: str = Field(
        "X-Grafana-Alerting-Signature-Timestamp",
        validation_alias="WARROOM_GRAFANA_TIMESTAMP_HEADER",
    )
    # SNS cannot send a token: a verified signature from one of these topics is its
    # authentication on /alerts/cloudwatch. Empty: every SNS message is refused.
    sns_topic_arns: str | None = Field(None, validation_alias="WARROOM_SNS_TOPIC_ARNS")
    # Ticket trackers follow-ups are filed in: one at most (see `_one_tracker`).
    github_token: SecretStr | None = Field(None, validation_alias="WARROOM_GITHUB_TOKEN")
    github_repo: str | None = Field(None, validation_alias="WARROOM_GITHUB_REPO")
    github_api_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://api.github.com"), validation_alias="WARROOM_GITHUB_API_URL"
    )
    github_webhook_secret: SecretStr | None = Field(
        None, validation_alias="WARROOM_GITHUB_WEBHOOK_SECRET"
    )
    jira_url: AnyHttpUrl | None = Field(None, validation_alias="WARROOM_JIRA_URL")
    jira_email: str | None = Field(None, validation_alias="WARROOM_JIRA_EMAIL")
    jira_token: SecretStr | None = Field(None, validation_alias="WARROOM_JIRA_TOKEN")
    jira_project: str | None = Field(None, validation_alias="WARROOM_JIRA_PROJECT")
    jira_webhook_secret: SecretStr | None = Field(
        None, validation_alias="WARROOM_JIRA_WEBHOOK_SECRET"
    )
    linear_api_key: SecretStr | None = Field(None, validation_alias="WARROOM_LINEAR_API_KEY")
    linear_team: str | None = Field(None, validation_alias="WARROOM_LINEAR_TEAM")
    linear_api_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://api.linear.app/graphql"), validation_alias="WARROOM_LINEAR_API_URL"
    )
    linear_webhook_secret: SecretStr | None = Field(
        None, validation_alias="WARROOM_LINEAR_WEBHOOK_SECRET"
    )
    # Where `/incident postmortem publish` writes the final Markdown (created if missing);
    # unset: publishing posts the final version in the channel and writes no file.
    postmortem_dir: str | None = Field(None, validation_alias="WARROOM_POSTMORTEM_DIR")
    # How long after a postmortem is published its channel is archived, as playbooks write
    # durations (`7d`, `12h`); `off`: never.
    archive_after: str = Field("7d", validation_alias="WARROOM_ARCHIVE_AFTER")

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: str) -> str:
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError as error:
            raise ValueError(f"not a database URL: {value!r}") from error
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
        return value

    @field_validator(*_SECRETS, mode="before")
    @classmethod
    def _long_enough(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or raw == "":
            return None  # unset
        if isinstance(raw, str) and len(raw) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"too short ({len(raw)} characters): use at least {MIN_SECRET_LENGTH}, "
                "e.g. from `openssl rand -hex 32`"
            )
        return value

    @field_validator("archive_after")
    @classmethod
    def _valid_archive_after(cls, value: str) -> str:
        if value.strip().lower() == "off":
            return "off"
        parse_duration(value)  # its ValueError names the forms it takes
        return value.strip().lower()

    @property
    def archive_delay(self) -> timedelta | None:
        """How long after publishing a channel is archived; None: never."""
        return None if self.archive_after == "off" else parse_duration(self.archive_after)

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from error
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_in_slash(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        if not str(value).endswith("/"):
            raise ValueError("SLACK_API_URL must end with '/'")
        return value

    @field_validator("templates_dir")
    @classmethod
    def _templates_folder_exists(cls, value: str | None) -> str | None:
        if value and not (Path(value) / "postmortem.md.j2").is_file():
            raise ValueError(f"{value} has no postmortem.md.j2")
        return value

    @field_validator("log_format")
    @classmethod
    def _valid_log_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("WARROOM_LOG_FORMAT must be 'text' or 'json'")
        return value

    @field_validator("grafana_timestamp_header")
    @classmethod
    def _valid_header_name(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", value):
            raise ValueError(f"not an HTTP header name: {value!r}")
        return value

    @field_validator("sns_topic_arns")
    @classmethod
    def _valid_topic_arns(cls, value: str | None) -> str | None:
        for arn in _split(value):
            if not re.fullmatch(
                r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+(\.fifo)?", arn
            ):
                raise ValueError(
                    f"not an SNS topic ARN: {arn!r} "
                    "(expected arn:aws:sns:<region>:<account>:<topic>, comma-separated)"
                )
        return value

    @field_validator("github_repo")
    @classmethod
    def _valid_github_repo(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None and not _GITHUB_REPO.fullmatch(value):
            raise ValueError(f"not a GitHub repository: {value!r} (expected owner/name)")
        return value

    @field_validator("jira_project")
    @classmethod
    def _valid_jira_project(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None and not _JIRA_PROJECT.fullmatch(value):
            raise ValueError(f"not a Jira project key: {value!r} (expected e.g. OPS)")
        return value

    @field_validator("github_token", "jira_token", "linear_api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if raw is None or raw == "" else value

    @model_validator(mode="after")
    def _one_tracker(self) -> Settings:
        partial = {
            "github": [
                name
                for name, value in (
                    ("WARROOM_GITHUB_TOKEN", self.github_token),
                    ("WARROOM_GITHUB_REPO", self.github_repo),
                )
                if value is None
            ],
            "jira": [
                name
                for name, value in (
                    ("WARROOM_JIRA_URL", self.jira_url),
                    ("WARROOM_JIRA_EMAIL", self.jira_email),
                    ("WARROOM_JIRA_TOKEN", self.jira_token),
                    ("WARROOM_JIRA_PROJECT", self.jira_project),
                )
                if value is None
            ],
            "linear": [
                name
                for name, value in (
                    ("WARROOM_LINEAR_API_KEY", self.linear_api_key),
                    ("WARROOM_LINEAR_TEAM", self.linear_team),
                )
                if value is None
            ],
        }
        sizes = {"github": 2, "jira": 4, "linear": 2}
        for tracker, missing in partial.items():
            # Half a tracker's settings is a typo, not a choice: say which are missing.
            if 0 < len(missing) < sizes[tracker]:
                raise ValueError(f"{tracker} tracker: also set {', '.join(missing)}")
        chosen = [tracker for tracker, missing in partial.items() if not missing]
        if len(chosen) > 1:
            raise ValueError(
                f"more than one ticket tracker is configured ({', '.join(chosen)}): "
                "follow-ups are filed in one; unset the others"
            )
        return self

    @property
    def tracker(self) -> str | None:
        """The ticket tracker follow-ups are filed in (github, jira, linear), if any."""
        if self.github_token is not None and self.github_repo:
            return "github"
        if self.jira_token is not None and self.jira_url and self.jira_email and self.jira_project:
            return "jira"
        if self.linear_api_key is not None and self.linear_team:
            return "linear"
        return None

    @model_validator(mode="after")
    def _slack_credentials_together(self) -> Settings:
        if (self.slack_bot_token is None) != (self.slack_signing_secret is None):
            raise ValueError(
                "set both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or neither (sandbox mode)"
            )
        return self

    @property
    def sandbox_mode(self) -> bool:
        """No Slack credentials: use the built-in local Slack sandbox."""
        return self.slack_bot_token is None

    @cached_property
    def tz(self) -> ZoneInfo:
        """The display time zone."""
        return ZoneInfo(self.timezone)

    @property
    def template_dir(self) -> Path | None:
        """The team's postmortem template folder, if it has one."""
        return Path(self.templates_dir) if self.templates_dir else None

    @property
    def webhook_urls(self) -> list[str]:
        """The outgoing webhook URLs, in order."""
        return [url.strip() for url in (self.webhooks or "").split(",") if url.strip()]

    @property
    def private_webhook_urls(self) -> list[str]:
        """The outgoing webhook URLs marked private-ok, in order."""
        return [url.strip() for url in (self.private_webhooks or "").split(",") if url.strip()]

    @property
    def sns_topics(self) -> frozenset[str]:
        """The SNS topic ARNs whose messages `/alerts/cloudwatch` accepts."""
        return frozenset(_split(self.sns_topic_arns))


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def describe_error(error: Exception) -> str:
    """Render a settings validation error as one line naming the variable."""
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        return str(error)
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where.upper()}: {message}" if where != "settings" else message)
    return "invalid configuration: " + "; ".join(parts)
