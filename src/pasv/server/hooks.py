"""Event hooks: a command (event as JSON on stdin, PASV_EVENT_* variables) or a signed webhook.

Each hook has its own bounded queue and one worker task: a session only puts the event in the
queue (a full queue drops it, counted), so a slow or hanging hook never holds up FTP. A failed
attempt is retried ``retries`` times with doubling waits, then given up on (logged, counted).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import hashlib
import hmac
import json
import logging
import os
import select
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import h11

from pasv.config import HookSection

log = logging.getLogger("pasv.hooks")

SIGNATURE_HEADER = "X-Pasv-Signature"
STDERR_KEPT = 4096  # bytes of a failed program's stderr kept for its log line (the last ones)
_MAX_BACKOFF = 300.0
_DROP_WARNING_EVERY = 10.0  # seconds between warnings about a full queue
Counted = Callable[[str, str], None]  # (hook name, result)


class HookFailed(Exception):
    """One attempt did not deliver the event."""


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def environment(event: dict[str, Any]) -> dict[str, str]:
    """PASV_EVENT=kind and PASV_EVENT_<FIELD>=value for each plain field; PATH for the program."""
    env = {"PATH": os.defpath, "PASV_EVENT": str(event["event"])}
    for key, value in event.items():
        if key != "event" and isinstance(value, str | int | float | bool):
            env[f"PASV_EVENT_{key.upper()}"] = str(value).replace("\0", "")
    return env


class Hook:
    """One configured hook: its queue and the task that delivers from it."""

    def __init__(
        self, config: HookSection, name: str, counted: Counted, failed: Callable[[str], None]
    ) -> None:
        self.config = config
        self.name = name
        self.events = frozenset(config.events)
        self._counted = counted
        self._failed_attempt = failed
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(config.queue)
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0  # since the last warning
        self._warn_at = 0.0
        self._tls: ssl.SSLContext | None = None  # made once, for an https url
        # a command hook's own thread: a hanging program never holds one the server needs
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        if config.command:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, f"pasv-hook-{name}")
        if config.url.startswith("https://"):
            ca = str(config.ca_file) if config.ca_file is not None else None
            self._tls = ssl.create_default_context(cafile=ca)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)  # its program was killed with the task

    def offer(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self._counted(self.name, "dropped")
            self._dropped += 1
            now = time.monotonic()
            if now >= self._warn_at:  # one line per interval, not one per event
                self._warn_at = now + _DROP_WARNING_EVERY
                log.warning(
                    "hook %s: queue full (%d waiting); %d event(s) dropped, the last %s",
                    self.name,
                    self.config.queue,
                    self._dropped,
                    event["event"],
                )
                self._dropped = 0

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self._deliver(event)
            except Exception:  # a bug must not end the hook: later events still go out
                log.exception("hook %s: delivering %s failed", self.name, event["event"])
                self._counted(self.name, "failed")

    async def _deliver(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":")).encode()
        cfg = self.config
        wait = cfg.backoff
        for attempt in range(cfg.retries + 1):
            try:
                async with asyncio.timeout(cfg.timeout):
                    if cfg.url:
                        await post(cfg.url, body, event, cfg.secret, self._tls)
                    else:
                        await run_command(cfg.command, body, event, self._executor)
            except (HookFailed, OSError, TimeoutError, h11.ProtocolError, ssl.SSLError) as exc:
                reason = str(exc) or type(exc).__name__
                self._failed_attempt(self.name)
                last = attempt == cfg.retries
                log.log(
                    logging.WARNING if last else logging.INFO,
                    "hook %s: %s %s failed (attempt %d of %d): %s%s",
                    self.name,
                    event["event"],
                    event["id"],
                    attempt + 1,
                    cfg.retries + 1,
                    reason,
                    "; given up" if last else "",
                )
                if last:
                    self._counted(self.name, "failed")
                    return
                await asyncio.sleep(wait)
                wait = min(wait * 2, _MAX_BACKOFF)
            else:
                self._counted(self.name, "ok")
                return


async def run_command(
    argv: tuple[str, ...],
    body: bytes,
    event: dict[str, Any],
    executor: concurrent.futures.Executor | None = None,
) -> None:
    """Run the program with the event on stdin; a non-zero exit fails the attempt. A timeout
    (the caller's) or a cancellation kills its process group.

    The program is started and waited for in ``executor``'s thread with ``subprocess``, which
    uses vfork on Linux: uvloop's spawn forks the whole server (measured in a process with
    80 MiB resident: 12 ms of CPU per program started, against 1.5 ms), and its stdin
    transport raises when a program exits without reading it."""
    env = environment(event)
    started: list[subprocess.Popen[bytes]] = []
    gave_up = False

    def work() -> tuple[int, bytes]:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        started.append(proc)
        if gave_up:  # cancelled while it was being started
            _kill(proc)
        return _fed(proc, body)

    try:
        code, err = await asyncio.get_running_loop().run_in_executor(executor, work)
    except BaseException:
        gave_up = True
        for proc in started:
            _kill(proc)
        raise
    if code != 0:
        tail = err.decode("utf-8", "replace").strip()[-200:]
        raise HookFailed(f"{argv[0]} exited with status {code}: {tail}".rstrip(": "))


def _fed(proc: subprocess.Popen[bytes], body: bytes) -> tuple[int, bytes]:
    """Give the program its input and wait for it; its exit status and the last bytes it wrote
    to stderr. Not ``communicate()``: that keeps all of stderr in the server's memory, and a
    program may write gigabytes there before its timeout."""
    assert proc.stdin is not None and proc.stderr is not None
    stdin = proc.stdin

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError, OSError):  # it need not read its input
            stdin.write(body)
        with contextlib.suppress(BrokenPipeError, OSError):
            stdin.close()

    # the input from a thread of its own: a program that writes to stderr before it reads a
    # large input must never wait on this one
    feeder = threading.Thread(target=feed, name="pasv-hook-stdin", daemon=True)
    feeder.start()
    tail = _stderr_until_exit(proc.pid, proc.stderr.fileno())
    proc.stderr.close()
    code = proc.wait()
    feeder.join()
    return code, tail


def _stderr_until_exit(pid: int, fd: int) -> bytes:
    """The last bytes the program wrote to stderr, read until it exits. Not until the pipe's
    end: a job the program left running in the background (``scan "$PASV_EVENT_PATH" &``)
    holds the pipe open, and waiting for it made a program that exited 0 at once a timed-out
    attempt, with its job killed. The process's pidfd says when it exits (Linux 5.3)."""
    try:
        exited = os.pidfd_open(pid)
    except (AttributeError, OSError):  # another system: until the pipe's end
        tail = b""
        while chunk := os.read(fd, 65536):
            tail = (tail + chunk)[-STDERR_KEPT:]
        return tail
    try:
        return _read_until(fd, exited)
    finally:
        os.close(exited)


def _read_until(fd: int, exited: int) -> bytes:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(exited, select.POLLIN)
    tail = b""
    while True:
        ready = {ready_fd for ready_fd, _ in poller.poll()}
        if exited in ready:  # what it wrote is in the pipe now: read that much, no more
            os.set_blocking(fd, False)
            with contextlib.suppress(BlockingIOError):
                for _ in range(16):  # a job in the background may go on writing
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    tail = (tail + chunk)[-STDERR_KEPT:]
            return tail
        chunk = os.read(fd, 65536)
        if not chunk:
            return tail
        tail = (tail + chunk)[-STDERR_KEPT:]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """The program and whatever it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def post(
    url: str, body: bytes, event: dict[str, Any], secret: str, tls: ssl.SSLContext | None = None
) -> None:
    """POST the body; a 2xx answer delivers it. HTTP/1.1 through h11; for https, TLS with
    ``tls`` (the certificate and the host name checked)."""
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    netloc = parts.netloc.rpartition("@")[2]  # host:port, without the user part
    headers = [
        ("Host", netloc),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("User-Agent", "pasv-hooks"),
        ("X-Pasv-Event", str(event["event"])),
        ("X-Pasv-Delivery", str(event["id"])),
        ("Connection", "close"),
    ]
    if parts.username is not None:  # https://user:password@host/...: HTTP basic auth, as curl
        pair = (
            f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        )
        headers.append(("Authorization", "Basic " + base64.b64encode(pair.encode()).decode()))
    if secret:
        headers.append((SIGNATURE_HEADER, sign(secret, body)))
    shown = f"{parts.scheme}://{netloc}"  # what a log line names: not the password, path, query
    context = (tls or ssl.create_default_context()) if secure else None
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        conn = h11.Connection(h11.CLIENT)
        writer.write(conn.send(h11.Request(method="POST", target=target, headers=headers)))
        writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        while True:
            answer = conn.next_event()
            if answer is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
                continue
            if isinstance(answer, h11.Response):
                status = answer.status_code
                if 300 <= status < 400:
                    raise HookFailed(
                        f"{shown} answered {status}: redirects are not followed; "
                        "set the hook's url to the address it redirects to"
                    )
                if not 200 <= status < 300:
                    raise HookFailed(f"{shown} answered {status}")
                return
            if isinstance(answer, h11.ConnectionClosed):
                raise HookFailed(f"{shown} closed the connection without an answer")
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


class Hooks:
    """All configured hooks of one process."""

    def __init__(
        self, configs: tuple[HookSection, ...], counted: Counted, failed: Callable[[str], None]
    ) -> None:
        self.hooks = [
            Hook(cfg, cfg.name or f"hook-{index + 1}", counted, failed)
            for index, cfg in enumerate(configs)
        ]
        self.wanted = frozenset(kind for hook in self.hooks for kind in hook.events)

    def start(self) -> None:
        for hook in self.hooks:
            hook.start()

    async def close(self) -> None:
        for hook in self.hooks:
            await hook.close()

    def offer(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        for hook in self.hooks:
            if kind in hook.events:
                hook.offer(event)
