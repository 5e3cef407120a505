"""The session log: logins, refused logins and connections, kicks; one JSON object a line."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Protocol

from pasv.server.xferlog import OPEN_FLAGS, open_again

log = logging.getLogger("pasv.server")
_quoted = json.encoder.encode_basestring  # a JSON string, as json.dumps(ensure_ascii=False)


class Reopening(Protocol):
    """A log SIGHUP opens again (the admin API's audit log: FtpServer.auditlog)."""

    def reopen(self, fd: int | None = None) -> None: ...


class SessionLog:
    """Appends events; every worker appends to the same file (one write per line)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, OPEN_FLAGS, 0o640)

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    def record(self, event: str, ip: str, user: str, code: int, text: str) -> None:
        if self._fd is None:
            return
        line = (  # json.dumps of the same dict, without building an encoder for each line
            f'{{"time": {round(time.time(), 3)!r}, "event": {_quoted(event)}, '
            f'"ip": {_quoted(ip)}, "user": {_quoted(user)}, "code": {int(code)}, '
            f'"text": {_quoted(text)}}}'
        )
        try:
            os.write(self._fd, (line + "\n").encode("utf-8", "replace"))
        except OSError as exc:
            log.error("cannot write the session log %s: %s", self.path, exc)

    def reopen(self, fd: int | None = None) -> None:
        """Write to a new file from now on (after log rotation): ``fd`` opened by a privileged
        parent, or the path opened again."""
        if self.path is None or self._fd is None:
            if fd is not None:
                os.close(fd)
            return
        fd = open_again(self.path, fd, "session log")
        if fd is None:
            return
        os.close(self._fd)
        self._fd = fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
