"""The sandbox's Web API methods, registered by name in METHODS on import."""

from bot.sandbox.methods import (  # noqa: F401 - imported to register their methods
    chat,
    conversations,
    directory,
    files,
    history,
    items,
    views,
)
from bot.sandbox.methods.registry import METHODS

__all__ = ["METHODS"]
