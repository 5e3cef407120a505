"""Headers every admin answer carries (API JSON, errors, redirects), not only console pages."""

from __future__ import annotations

from typing import Any

# a JSON answer is never a page: no sniffing it into HTML, no scripts, no framing
_DEFAULTS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    # same-origin, not no-referrer: with no-referrer a browser sends its forms with "Origin:
    # null", which the console refuses as cross-site (and the language links need the Referer)
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),  # accounts, sessions, addresses: kept by no cache
)


class SafeHeaders:
    """ASGI middleware: adds each default header an answer does not set itself (a console page
    sets its own Content-Security-Policy, which is kept)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in _DEFAULTS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
