"""Logging: readable text or JSON lines, one line per HTTP request, secrets masked everywhere."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import quote, quote_plus

from bot.composition.config import Settings
from bot.web.observe import ObservedRequests

MASK = "[redacted]"
# Slack tokens in any text: bot, user, app-level, config and refresh tokens.
TOKEN_PATTERN = re.compile(r"\b(xox[abepr]|xapp)-[A-Za-z0-9][A-Za-z0-9-]*")
# Credentials in query strings (uvicorn's WebSocket line, httpx's request line): any
# parameter whose name ends like one (`token`, `api_key`, `routing_key`, `sig`...).
QUERY_PATTERN = re.compile(
    r"([?&;][\w.\-]*(?:token|ticket|secret|key|password|passwd|sig|signature|auth)=)"
    r"[^&#\s\"'<>]+",
    re.IGNORECASE,
)
# URLs in any log line: httpx logs every request's ("HTTP Request: POST https://...").
URL_PATTERN = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s\"'<>`]+", re.IGNORECASE)
# A request line's path, as uvicorn's own access log writes it.
REQUEST_LINE = re.compile(r"\b((?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) )(/[^\s\"'<>]*)")
USERINFO = re.compile(r"^([a-z][a-z0-9+.\-]*://)[^/?#@]*@", re.IGNORECASE)
# Where a URL's path is the credential: a Slack incoming webhook keeps it after
# `/services/` (team, bot and secret), PagerDuty's integration URLs after `/integration/`.
TOKEN_PATHS = re.compile(r"(/(?:services|integration|integrations|hooks)/)[^?#\s]+", re.IGNORECASE)
# A long path segment of letters mixed with digits reads as a key, not a name.
RANDOM_SEGMENT = re.compile(r"(?=.*\d)(?=.*[a-z])[\w\-]{16,}", re.IGNORECASE)
# Shorter values would mask ordinary words; the settings refuse shorter secrets at start.
MIN_SECRET = 8
# A secret cut this far or more (an error body capped at 300 characters) is still masked.
MIN_PREFIX = 8
ELLIPSES = ("…", "...")
# Noisy at DEBUG and able to echo whole rows; turned up only on purpose.
QUIET_LOGGERS = ("sqlalchemy.engine", "sqlalchemy.pool", "httpcore", "watchfiles", "websockets")
ACCESS = logging.getLogger("warroom.access")
# Attributes every LogRecord has; anything else was passed as `extra=` and is shown.
# (uvicorn adds `color_message`, a copy of the message with terminal colours.)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class Redactor:
    """Mask Slack tokens by shape, credentials in URLs, and the configured secrets by value,
    in the forms a log line can carry them: raw, JSON-escaped, URL-encoded, or cut short."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        # Any secret form's first MIN_PREFIX characters: a text holding none of them holds
        # no secret, whole or cut, and most lines (every access line) skip the search.
        self._prefixes: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Mask these values too, and their escaped forms."""
        for secret in secrets:
            if not secret or len(secret) < MIN_SECRET:
                continue
            for form in _forms(secret):
                if form not in self._secrets:
                    self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)
        prefixes = dict.fromkeys(re.escape(form[:MIN_PREFIX]) for form in self._secrets)
        self._prefixes = re.compile("|".join(prefixes)) if prefixes else None

    def __call__(self, text: str) -> str:
        # Each step runs only where its pattern could match: a substring test is far
        # cheaper than a regex pass, and every request writes a log line.
        if self._prefixes is not None and self._prefixes.search(text):
            for secret in self._secrets:
                if secret in text:
                    text = text.replace(secret, MASK)
            for secret in self._secrets:
                text = _mask_cut(text, secret)
        if "xox" in text or "xapp-" in text:
            text = TOKEN_PATTERN.sub(lambda m: f"{m.group(1)}-{MASK}", text)
        if "://" in text:
            text = URL_PATTERN.sub(lambda m: redact_url(m.group(0)), text)
        if " /" in text:
            text = REQUEST_LINE.sub(lambda m: m.group(1) + _redact_path(m.group(2)), text)
        if "=" in text:
            text = QUERY_PATTERN.sub(lambda m: m.group(1) + MASK, text)
        return text


def redact_url(url: str) -> str:
    """The URL without its userinfo, path tokens or credential query values."""
    url = USERINFO.sub(r"\1***@", url)
    scheme_end = url.find("://") + 3
    path_start = min(
        (i for i in (url.find(c, scheme_end) for c in "/?#") if i != -1), default=len(url)
    )
    return url[:path_start] + _redact_path(url[path_start:])


@functools.lru_cache(maxsize=1024)
def _redact_path(path: str) -> str:
    # Cached: it depends on the path alone, and a service sees the same paths over and over.
    path_only, mark, rest = _split_query(path)
    path_only = TOKEN_PATHS.sub(lambda m: m.group(1) + MASK, path_only)
    path_only = "/".join(
        MASK if RANDOM_SEGMENT.fullmatch(part) else part for part in path_only.split("/")
    )
    return path_only + mark + QUERY_PATTERN.sub(lambda m: m.group(1) + MASK, rest)


def _split_query(path: str) -> tuple[str, str, str]:
    cut = min((i for i in (path.find("?"), path.find("#")) if i != -1), default=len(path))
    return path[:cut], path[cut : cut + 1], path[cut + 1 :]


def _forms(secret: str) -> list[str]:
    """The secret as a log line may carry it: raw, JSON-escaped, URL-encoded."""
    forms = [
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        secret.encode("unicode_escape").decode("ascii"),
    ]
    return list(dict.fromkeys(forms))


def _mask_cut(text: str, secret: str) -> str:
    """Mask a prefix of the secret (MIN_PREFIX characters or more) where a string was cut:
    at the end of the text or before an ellipsis."""
    start = text.find(secret[:MIN_PREFIX])
    while start != -1:
        length = MIN_PREFIX
        while (
            length < len(secret)
            and start + length < len(text)
            and text[start + length] == secret[length]
        ):
            length += 1
        end = start + length
        if end == len(text) or text.startswith(ELLIPSES, end):
            text = text[:start] + MASK + text[end:]
            end = start + len(MASK)
        start = text.find(secret[:MIN_PREFIX], end)
    return text


class RedactFilter(logging.Filter):
    """Rewrite each record's message, arguments and traceback with its secrets masked."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        attributes = vars(record)
        # The extras only: a set difference is one C call, a loop over every attribute is not.
        for key in attributes.keys() - _STANDARD:
            value = attributes[key]
            if isinstance(value, str):
                attributes[key] = self.redact(value)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`, for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # strftime once per second, not once per line: a storm logs thousands a second.
        second = int(record.created)
        if second != self._second:
            self._stamp = super().formatTime(record, datefmt).rpartition(",")[0]
            self._second = second
        return f"{self._stamp},{int(record.msecs):03d}"

    def formatMessage(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS.name:  # its message already says it all
            return super().formatMessage(record)
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        return super().formatMessage(record) + (f" {extras}" if extras else "")


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold."""
    fields = (
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.alert_token,
        settings.webhook_secret,
        settings.pagerduty_routing_key,
        settings.statuspage_api_key,
        settings.github_token,
        settings.github_webhook_secret,
        settings.jira_token,
        settings.jira_webhook_secret,
        settings.linear_api_key,
        settings.linear_webhook_secret,
    )
    return [field.get_secret_value() for field in fields if field is not None]


def configure_logging(
    settings: Settings, *, level: int | str = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's records through one redacting handler on the root logger."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactFilter(Redactor(secrets_of(settings))))
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old.formatter, JsonFormatter | TextFormatter):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Our access line replaces uvicorn's, which prints query strings.
    logging.getLogger("uvicorn.access").disabled = True
    return handler


def redact_also(*secrets: str | None) -> None:
    """Mask more values in every configured handler (the sandbox's own secrets, say)."""
    for handler in logging.getLogger().handlers:
        for candidate in handler.filters:
            if isinstance(candidate, RedactFilter):
                candidate.redact.add(*secrets)


def log_request(scope: dict[str, Any], status: int, seconds: float) -> None:
    """One line per HTTP request (method, path, status, duration).

    The path only: query strings can carry tokens (`?token=` is how Slack's Web API
    takes one), so they never reach the log.
    """
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    duration = round(seconds * 1000, 1)
    method, path = scope["method"], scope["path"]
    # Built here rather than by `ACCESS.info(...)`: every request writes one, and the
    # logger's own way looks up the caller's frame and checks `extra` key by key.
    record = logging.LogRecord(
        ACCESS.name, logging.INFO, __file__, 0, f"{method} {path} {status} {duration}ms", None, None
    )
    record.method, record.path, record.status, record.duration_ms = method, path, status, duration
    ACCESS.handle(record)


class AccessLog(ObservedRequests):
    """ASGI middleware with the access log as its only observer."""

    def __init__(self, app: Callable[..., Any]) -> None:
        super().__init__(app, [log_request])
