"""Running one client command: credentials, options, retries, and errors as exit codes."""

from __future__ import annotations

import asyncio
import codecs
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from pasv.cli.client.options import Common
from pasv.client import (
    ClientOptions,
    ConnectionFailed,
    DataChannelError,
    FtpClient,
    FtpClientError,
    FtpUrl,
    IntegrityError,
    LoginFailed,
    ReplyError,
    RetryPolicy,
    Target,
    open_client,
    run_session,
    tls_context,
)
from pasv.client.trace import Kind, format_event
from pasv.client.url import ANONYMOUS, UrlError, netrc_credentials, parse_url

__all__ = ["Exit", "Prepared", "err", "execute", "fail", "prepare", "shown", "url_argument"]

T = TypeVar("T")
_CONTROLS = (*range(0x20), 0x7F, *range(0x80, 0xA0))
_ESCAPED = {c: f"\\x{c:02x}" for c in _CONTROLS}  # as repr() writes them
_ESCAPED_BUT_LINES = {c: e for c, e in _ESCAPED.items() if chr(c) not in "\t\n"}


def shown(text: str, lines: bool = False) -> str:
    """Text from the server made safe to print: bytes the encoding could not decode, and
    control characters (an escape sequence in a file name or reply could clear, retitle or
    rewrite the terminal), appear as ``\\xNN``; ``lines`` keeps tabs and line feeds."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text.translate(_ESCAPED_BUT_LINES if lines else _ESCAPED)


err = Console(stderr=True, highlight=False, soft_wrap=True)


class Exit(IntEnum):
    """The client commands' exit codes (documented in docs/client.md)."""

    OK = 0
    REFUSED = 1  # the server refused for good: 550 no such file, 553 bad name, …
    USAGE = 2  # bad arguments, bad URL, no password available
    LOGIN = 3  # the login was refused (530 wrong user or password)
    CONNECTION = 4  # could not connect, TLS failed, or the connection kept breaking
    TEMPORARY = 5  # the server kept answering "try later" (421, 450, 451, busy 530), or banned us
    INTEGRITY = 6  # the transferred file differs from the server's
    INTERRUPTED = 130


def fail(message: str, code: Exit) -> NoReturn:
    err.print(f"[red]Error:[/red] {escape(shown(message, lines=True))}", markup=True)
    raise typer.Exit(int(code))


def url_argument(text: str) -> FtpUrl:
    try:
        return parse_url(text)
    except UrlError as exc:
        fail(str(exc), Exit.USAGE)


def _target(url: FtpUrl, common: Common) -> Target:
    """The account: URL, then PASV_PASSWORD, then ~/.netrc, then a prompt; else anonymous."""
    user, password = url.user, url.password
    if password is None and user is not None and common.password is not None:
        password = common.password
    if password is None:
        found = netrc_credentials(url.host, user, common.netrc_file)
        if found is not None:
            user, password = found
    if user is None:
        user, password = ANONYMOUS, password or "anonymous@"
    if password is None:
        if not sys.stdin.isatty():
            fail(
                f"no password for {user}@{url.host}: put it in ~/.netrc or PASV_PASSWORD",
                Exit.USAGE,
            )
        password = typer.prompt(f"Password for {user}@{url.host}", hide_input=True)
    return Target(url.host, url.port, user, password)


def _options(url: FtpUrl, common: Common) -> ClientOptions:
    tracer = None
    if common.verbose:

        def tracer(kind: Kind, text: str) -> None:
            err.print(format_event(kind, shown(text, lines=True)), markup=False)

    use_tls = common.tls or url.implicit_tls
    return ClientOptions(
        tls=common.tls and not url.implicit_tls,
        implicit_tls=url.implicit_tls,
        ssl_context=tls_context(common.ca, common.insecure) if use_tls else None,
        passive=not common.active,
        encoding=common.encoding,
        timeout=common.timeout,
        trace=tracer,
        compress=common.compress,
        block=common.block,
        trust_pasv_address=common.trust_pasv_address,
    )


def _exit_code(exc: FtpClientError) -> Exit:
    if isinstance(exc, ReplyError) and exc.banned:
        return Exit.TEMPORARY
    if isinstance(exc, LoginFailed) and not exc.transient:
        return Exit.LOGIN
    if isinstance(exc, IntegrityError):
        return Exit.INTEGRITY
    if isinstance(exc, ConnectionFailed | DataChannelError):
        return Exit.CONNECTION
    if isinstance(exc, ReplyError) and exc.transient:
        return Exit.TEMPORARY
    return Exit.REFUSED


@dataclass(frozen=True)
class Prepared:
    """What a command needs to open sessions: the account, the options, the retry policy."""

    target: Target
    options: ClientOptions
    policy: RetryPolicy
    common: Common

    def connect(self) -> Awaitable[FtpClient]:
        """Another logged-in session (mirror -j N)."""
        return open_client(self.target, self.options)

    def on_retry(self, attempt: int, wait: float, exc: FtpClientError) -> None:
        """Say why and when the next try comes (not with --quiet)."""
        if not self.common.quiet:
            retries = self.common.retries
            line = f"{exc}; retry {attempt} of {retries} in {wait:.1f} s"
            err.print(shown(line, lines=True), markup=False)


def _check_encoding(url: FtpUrl, encoding: str) -> None:
    """``--encoding`` names a codec, and the URL's path can be written in it."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        fail(f"unknown encoding {encoding!r} (try utf-8, latin-1, cp1251, cp1252 …)", Exit.USAGE)
    try:
        url.path.encode(encoding)
    except UnicodeEncodeError:
        fail(f"the path {url.path!r} cannot be written in {encoding}", Exit.USAGE)


def prepare(url: FtpUrl, common: Common) -> Prepared:
    _check_encoding(url, common.encoding)
    target = _target(url, common)
    try:
        options = _options(url, common)
    except OSError as exc:
        fail(f"cannot read the CA file {common.ca}: {exc}", Exit.USAGE)
    return Prepared(target, options, RetryPolicy(common.retries + 1, common.retry_delay), common)


def execute(
    url: FtpUrl,
    common: Common,
    operation: Callable[[FtpClient], Awaitable[T]],
    prepared: Prepared | None = None,
) -> T:
    """Run ``operation`` in a session (retried when transient); errors become exit codes."""
    ready = prepared or prepare(url, common)
    try:
        return asyncio.run(
            run_session(
                ready.target, ready.options, operation, ready.policy, on_retry=ready.on_retry
            )
        )
    except FtpClientError as exc:
        fail(str(exc), _exit_code(exc))
    except KeyboardInterrupt:
        fail("interrupted", Exit.INTERRUPTED)
    except OSError as exc:
        fail(f"local file: {exc}", Exit.REFUSED)
