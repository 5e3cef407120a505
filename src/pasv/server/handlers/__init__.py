"""Command handlers by family; each module registers its verbs in HANDLERS."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from pasv.protocol.replies import Reply

if TYPE_CHECKING:
    from pasv.server.session import Session

HandlerResult = Reply | Coroutine[Any, Any, Reply]
Handler = Callable[["Session", str], HandlerResult]

HANDLERS: dict[str, Handler] = {}


def command(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler for one or more verbs."""

    def register(func: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = func
        return func

    return register


from pasv.server.handlers import (  # noqa: E402
    account,
    auth,
    data,
    files,
    info,
    listings,
    modes,
    security,
    transfer,
)

__all__ = [
    "HANDLERS",
    "Handler",
    "HandlerResult",
    "account",
    "auth",
    "command",
    "data",
    "files",
    "info",
    "listings",
    "modes",
    "security",
    "transfer",
]
