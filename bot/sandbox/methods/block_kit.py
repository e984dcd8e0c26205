"""Block Kit checked as Slack checks it: what Slack refuses, the sandbox refuses.

slack_sdk's own models (`Block.parse`, `BlockElement.parse`, `TextObject.parse`, `View`,
`Option`, `ConfirmObject`) and their validators hold most of Slack's rules; this module walks
a payload, runs each object's validators on its own and words what they find as Slack does,
with a JSON pointer: "must be less than 151 characters [json-pointer:/blocks/0/text/text]".
The rules the models miss are written here, each with the page it comes from:
- docs.slack.dev/reference/block-kit/blocks: 50 blocks in a message, unknown types refused,
  `block_id` unique in a message or view;
- .../composition-objects/text-object: every text 1 to 3,000 characters;
- .../blocks/section-block: each field at most 2,000 characters;
- .../blocks/header-block, .../block-elements/button-element, .../blocks/input-block,
  docs.slack.dev/reference/views: header, button, label, hint, placeholder, title, submit and
  close are `plain_text`; a modal with an input block needs `submit`.
Required fields are read from the models' constructors (keyword arguments with no default).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import (
    Block,
    BlockElement,
    ConfirmObject,
    DividerBlock,
    Option,
    TextObject,
)
from slack_sdk.models.views import View

MESSAGE_BLOCKS_MAX = 50
TEXT_MAX = 3000  # any text object
FIELD_MAX = 2000  # each of a section's fields
TEXT_TYPES = ("plain_text", "mrkdwn")
PLAIN_ONLY = {
    "header": ("text",),
    "button": ("text",),
    "input": ("label", "hint"),
    "modal": ("title", "submit", "close"),
}
VIEW_TYPES = ("modal", "home")

_TOO_LONG = re.compile(r"^(\w+)(?: attribute)? cannot exceed (\d+) (characters|items|elements)$")
_BETWEEN = re.compile(r"^(\w+) must be between 1 and (\d+) characters$")
_VIEW_BLOCKS = re.compile(r"^views must contain between 1 and (\d+) blocks$")
_REQUIRED = re.compile(r"^(\w+) attribute must be specified$")
_MODEL_FAILURES = (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError)


def block_errors(blocks: Any) -> list[str]:
    """Slack's `errors` for a message's blocks: every rule they break (empty when none)."""
    check = _Check()
    check.blocks(blocks, "/blocks", MESSAGE_BLOCKS_MAX)
    return check.found()


def view_errors(view: Any, kind: str | None = None) -> list[str]:
    """Slack's `response_metadata.messages` for a view (`[ERROR] ...`; empty when valid).

    `kind` is the view type the method takes (views.publish: home; views.open: modal).
    """
    check = _Check()
    check.view(view, kind)
    return [f"[ERROR] {message}" for message in check.found()]


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _by_type(base: type) -> dict[str, type]:
    known: dict[str, type] = {}
    for cls in _subclasses(base):
        kind = cls.__dict__.get("type")
        if isinstance(kind, str):
            known.setdefault(kind, cls)
    return known


_BLOCKS = _by_type(Block)
_ELEMENTS = _by_type(BlockElement)


def _required(cls: type) -> list[str]:
    """The fields a model cannot be built without: its keyword arguments with no default."""
    parameters = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    return [
        p.name
        for p in parameters
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name != "type"
    ]


class _Check:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: set[str] = set()

    def found(self) -> list[str]:
        return list(dict.fromkeys(self.errors))  # one rule can be met twice: say it once

    def add(self, message: str, at: str) -> None:
        self.errors.append(f"{message} [json-pointer:{at}]")

    # -- views ---------------------------------------------------------------------------

    def view(self, view: Any, kind: str | None) -> None:
        if not isinstance(view, dict):
            self.add("must provide an object", "/view")
            return
        if view.get("type") not in VIEW_TYPES or (kind and view.get("type") != kind):
            self.add("must be a valid enum value", "/view/type")
            return
        if not isinstance(view.get("blocks"), list):
            self.add("missing required field: blocks", "/view")
            return
        if view["type"] == "modal":
            if not isinstance(view.get("title"), dict):
                self.add("missing required field: title", "/view")
            if "submit" not in view and any(
                isinstance(b, dict) and b.get("type") == "input" for b in view["blocks"]
            ):
                self.add("missing required field: submit", "/view")
        for name in PLAIN_ONLY.get(view["type"], ()):
            self.plain(view.get(name), f"/view/{name}")
        # The blocks are checked one by one below; the view's own rules need only their count.
        counted = {**view, "blocks": [DividerBlock()] * len(view["blocks"])}
        self.run(lambda: View(**counted), view, "/view")
        for name in ("title", "submit", "close"):
            if isinstance(view.get(name), dict):
                self.text(view[name], f"/view/{name}")
        self.blocks(view["blocks"], "/view/blocks", None)

    # -- blocks --------------------------------------------------------------------------

    def blocks(self, blocks: Any, at: str, most: int | None) -> None:
        if not isinstance(blocks, list):
            self.add("must provide an array", at)
            return
        if most is not None and len(blocks) > most:
            self.add(f"no more than {most} items allowed", at)
        for n, block in enumerate(blocks):
            self.block(block, f"{at}/{n}")

    def block(self, raw: Any, at: str) -> None:
        cls = self.known(raw, at, _BLOCKS)
        if cls is None:
            return
        block_id = raw.get("block_id")
        if isinstance(block_id, str):
            if block_id in self.block_ids:
                self.add(f"duplicate block_id: {block_id}", f"{at}/block_id")
            self.block_ids.add(block_id)
        for name in PLAIN_ONLY.get(raw["type"], ()):
            self.plain(raw.get(name), f"{at}/{name}")
        if not self.modelled(lambda: Block.parse(raw), raw, at, cls):
            return
        if raw["type"] == "section" and isinstance(raw.get("fields"), list):
            for i, field in enumerate(raw["fields"]):
                text = field.get("text") if isinstance(field, dict) else None
                if isinstance(text, str) and len(text) > FIELD_MAX:
                    self.add(
                        f"must be less than {FIELD_MAX + 1} characters", f"{at}/fields/{i}/text"
                    )
        self.children(raw, at)

    def modelled(
        self, build: Callable[[], JsonObject | None], raw: dict[str, Any], at: str, cls: type
    ) -> bool:
        """Run a block's or element's model; False when it lacks a field or cannot be built.

        A model is built with its children: when one of them breaks it, the walk below
        names the child; the object itself is named only when no child is to blame.
        """
        built = self.run(build, raw, at, cls, quiet=True)
        if built is None:
            return False
        if not built:
            before = len(self.errors)
            self.children(raw, at)
            if len(self.errors) == before:
                self.add("must provide a valid object", at)
            return False
        return True

    def element(self, raw: dict[str, Any], at: str) -> None:
        if raw.get("type") in TEXT_TYPES:
            self.text(raw, at)
            return
        cls = self.known(raw, at, _ELEMENTS)
        if cls is None:
            return
        for name in PLAIN_ONLY.get(raw["type"], ()):
            self.plain(raw.get(name), f"{at}/{name}")
        self.plain(raw.get("placeholder"), f"{at}/placeholder")
        if self.modelled(lambda: BlockElement.parse(raw), raw, at, cls):
            self.children(raw, at)

    def children(self, raw: dict[str, Any], at: str) -> None:
        """The elements and text objects inside a block or element, and its options."""
        for key, value in raw.items():
            if key == "confirm" and isinstance(value, dict) and "type" not in value:
                # A button's confirmation dialog (in the dialog, `confirm` is its label).
                self.confirm(value, f"{at}/confirm")
            elif key in ("options", "initial_options") and isinstance(value, list):
                for i, option in enumerate(value):
                    self.option(option, f"{at}/{key}/{i}")
            elif key == "initial_option":
                self.option(value, f"{at}/{key}")
            elif isinstance(value, dict) and "type" in value:
                self.element(value, f"{at}/{key}")
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict) and "type" in item:
                        self.element(item, f"{at}/{key}/{i}")

    def confirm(self, raw: dict[str, Any], at: str) -> None:
        if self.run(lambda: ConfirmObject(**raw), raw, at, ConfirmObject):
            self.children(raw, at)

    def option(self, raw: Any, at: str) -> None:
        if not isinstance(raw, dict):
            self.add("must provide an object", at)
            return
        if self.run(lambda: Option(**raw), raw, at, Option):
            self.children(raw, at)

    def text(self, raw: dict[str, Any], at: str) -> None:
        if raw.get("type") not in TEXT_TYPES:
            self.add(f"unsupported type: {raw.get('type')}", f"{at}/type")
            return
        text = raw.get("text")
        if not isinstance(text, str):
            self.add("missing required field: text", at)
        elif not text:
            self.add("must be more than 0 characters", f"{at}/text")
        elif len(text) > TEXT_MAX:
            self.add(f"must be less than {TEXT_MAX + 1} characters", f"{at}/text")
        else:
            self.run(lambda: TextObject.parse(raw), raw, at)

    def plain(self, raw: Any, at: str) -> None:
        if isinstance(raw, dict) and raw.get("type") != "plain_text":
            self.add("must be a valid enum value", f"{at}/type")

    # -- slack_sdk's models --------------------------------------------------------------

    def known(self, raw: Any, at: str, types: dict[str, type]) -> type | None:
        """The model of a block or element, or None (and the error) when it has none."""
        if not isinstance(raw, dict):
            self.add("must provide an object", at)
            return None
        kind = raw.get("type")
        if not isinstance(kind, str) or not kind:
            self.add("missing required field: type", at)
            return None
        if kind not in types:
            self.add(f"unsupported type: {kind}", f"{at}/type")
            return None
        return types[kind]

    def run(
        self,
        build: Callable[[], JsonObject | None],
        raw: dict[str, Any],
        at: str,
        cls: type | None = None,
        *,
        quiet: bool = False,
    ) -> bool | None:
        """Build the model and run each of its validators: True when built, False when it
        cannot be (said unless `quiet`), None when a required field is missing."""
        missing = [name for name in _required(cls) if name not in raw] if cls else []
        for name in missing:
            self.add(f"missing required field: {name}", at)
        if missing:
            return None
        try:
            model = build()
        except _MODEL_FAILURES:
            if not quiet:
                self.add("must provide a valid object", at)
            return False
        if model is None:
            return True
        for name in sorted(dir(type(model))):
            validator = getattr(type(model), name, None)
            if not (callable(validator) and getattr(validator, "validator", False)):
                continue
            try:
                getattr(model, name)()
            except SlackObjectFormationError as broken:
                self.add(*_worded(str(broken), raw, at))
            except (TypeError, ValueError, AttributeError):
                self.add("must provide a valid object", at)
        return True


def _worded(message: str, raw: dict[str, Any], at: str) -> tuple[str, str]:
    """A slack_sdk validator's message as Slack words it, with the field's JSON pointer."""
    if found := _VIEW_BLOCKS.match(message):
        return f"no more than {found[1]} items allowed", f"{at}/blocks"
    if found := _REQUIRED.match(message):
        return f"missing required field: {found[1]}", at
    if message == "text or fields attribute must be specified":
        return "missing required field: text", at
    found = _TOO_LONG.match(message) or _BETWEEN.match(message)
    if not found:
        return message, at
    name, limit = found[1], int(found[2])
    value = raw.get(name)
    pointer = f"{at}/{name}"
    if found.re is _TOO_LONG and found[3] != "characters":
        return f"no more than {limit} items allowed", pointer
    if isinstance(value, dict):
        value, pointer = value.get("text"), f"{pointer}/text"
    if isinstance(value, str) and not value:
        return "must be more than 0 characters", pointer
    return f"must be less than {limit + 1} characters", pointer
