"""CloudWatch alarms delivered by Amazon SNS over HTTPS.

The body is an SNS envelope (see `bot.alerts.sns`; its signature and topic are checked
by the web adapter before this runs). A `Notification`'s `Message` is the alarm as a
JSON string:

- `ALARM` fires, `OK` resolves; both keyed by the alarm's ARN, which is also the group,
  so one alarm is one incident;
- `INSUFFICIENT_DATA` gives no alert: missing data says neither that the problem is over
  nor that one began (an alarm that should fire on missing data says so with
  `TreatMissingData: breaching`, and then goes to ALARM);
- subscription and unsubscribe confirmations give no alert either (the web adapter
  confirms and acknowledges them).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.alerts.errors import AlertPayloadError, describe_validation_error
from bot.alerts.fields import Timestamp, to_text
from bot.alerts.severity import severity_from_labels
from bot.alerts.sns import SnsMessage, read_envelope
from bot.incidents.alerts import NormalizedAlert
from bot.incidents.untrusted import clean_json

SOURCE = "cloudwatch"

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Dimension(_Model):
    """One metric dimension of the alarm's trigger."""

    name: str
    value: str


class Trigger(_Model):
    """The metric an alarm watches (absent for composite alarms)."""

    metric_name: str | None = Field(default=None, alias="MetricName")
    namespace: str | None = Field(default=None, alias="Namespace")
    dimensions: list[Dimension] = Field(default_factory=list, alias="Dimensions")


class CloudWatchAlarm(_Model):
    """The alarm state change CloudWatch publishes to an SNS topic."""

    alarm_name: str = Field(alias="AlarmName", min_length=1)
    alarm_description: str | None = Field(default=None, alias="AlarmDescription")
    account: str | None = Field(default=None, alias="AWSAccountId")
    new_state: Literal["ALARM", "OK", "INSUFFICIENT_DATA"] = Field(alias="NewStateValue")
    old_state: str | None = Field(default=None, alias="OldStateValue")
    reason: str | None = Field(default=None, alias="NewStateReason")
    changed_at: Timestamp = Field(alias="StateChangeTime")
    region: str | None = Field(default=None, alias="Region")
    alarm_arn: str | None = Field(default=None, alias="AlarmArn", min_length=1)
    trigger: Trigger | None = Field(default=None, alias="Trigger")


def console_url(alarm_arn: str | None, name: str) -> str | None:
    """The alarm's page in the CloudWatch console, when its ARN names a region."""
    parts = (alarm_arn or "").split(":")
    if len(parts) < 4 or not _REGION.fullmatch(parts[3]):
        return None
    region = parts[3]
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{quote(name, safe='')}"
    )


def to_alert(alarm: CloudWatchAlarm, envelope: SnsMessage) -> NormalizedAlert:
    """Turn an ALARM or OK state change into a normalized alert keyed by the alarm."""
    identity = alarm.alarm_arn or f"{envelope.topic_arn}:{alarm.alarm_name}"
    labels = {"alarm_name": alarm.alarm_name}
    if alarm.account:
        labels["aws_account"] = alarm.account
    if alarm.trigger is not None:
        if alarm.trigger.namespace:
            labels["namespace"] = alarm.trigger.namespace
        if alarm.trigger.metric_name:
            labels["metric"] = alarm.trigger.metric_name
        for dimension in alarm.trigger.dimensions:
            labels.setdefault(dimension.name, dimension.value)
    annotations = {"alarm_arn": identity, "sns_topic_arn": envelope.topic_arn}
    for key, value in (
        ("description", alarm.alarm_description),
        ("reason", alarm.reason),
        ("region", alarm.region),
        ("old_state", alarm.old_state),
        ("new_state", alarm.new_state),
    ):
        if value:
            annotations[key] = value
    resolved = alarm.new_state == "OK"
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=identity,
        title=alarm.alarm_name,
        status="resolved" if resolved else "firing",
        labels=labels,
        annotations=annotations,
        starts_at=None if resolved else alarm.changed_at,
        ends_at=alarm.changed_at if resolved else None,
        group_key=identity,
        # Alarms carry no severity; a dimension named severity is the only statement.
        severity=severity_from_labels(labels),
        url=console_url(alarm.alarm_arn, alarm.alarm_name),
    )


def read_alarm(envelope: SnsMessage) -> CloudWatchAlarm:
    """Decode and validate the alarm a Notification carries (AlertPayloadError 422 if not)."""
    try:
        # The alarm is a second JSON document: its escapes can hold what the body's
        # cleaning never saw (a NUL, half an emoji).
        decoded = clean_json(json.loads(envelope.message))
    except (json.JSONDecodeError, RecursionError, ValueError):
        raise AlertPayloadError(
            422,
            "the SNS Message is not a CloudWatch alarm: it is not JSON "
            f"(it starts {to_text(envelope.message[:40])!r})",
        ) from None
    try:
        return CloudWatchAlarm.model_validate(decoded)
    except ValidationError as exc:
        details = [f"Message.{line}" for line in describe_validation_error(exc)]
        raise AlertPayloadError(422, "the SNS Message is not a CloudWatch alarm", details) from None


def normalize(payload: Any) -> list[NormalizedAlert]:
    """Validate an SNS body and turn a CloudWatch alarm notification into its alert."""
    envelope = read_envelope(payload)
    if envelope.type != "Notification":
        return []
    alarm = read_alarm(envelope)
    if alarm.new_state == "INSUFFICIENT_DATA":
        return []
    return [to_alert(alarm, envelope)]


def delivery_id(payload: Any) -> str:
    """SNS's MessageId: signed, and the same on every retry of one message."""
    return str(payload["MessageId"])
