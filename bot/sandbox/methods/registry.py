"""The table of Web API methods the sandbox answers."""

from __future__ import annotations

from collections.abc import Callable

from bot.sandbox.base import Method

METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    """Register a function as the Web API method `name`."""

    def register(fn: Method) -> Method:
        METHODS[name] = fn
        return fn

    return register
