"""The audit log: every change made through the admin API or console, one JSON object a line."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from pasv.admin.history import readable
from pasv.server.xferlog import READ_BACK_FLAGS, ReadBack, open_again, open_read_back

log = logging.getLogger("pasv.admin")
# never written: a password, a token secret, a CSRF token
SECRET_FIELDS = frozenset({"password", "secret", "token", "csrf"})


class AuditLog:
    """``fd``: the log opened before the switch to the serving user (serve() opens it as root,
    then it is read back through it too), else ``path`` is opened now."""

    def __init__(self, path: Path, fd: int | None = None) -> None:
        self.path = path
        self.file = ReadBack(path, open_read_back(path, "audit log") if fd is None else fd)

    def record(
        self, actor: str, address: str, action: str, target: str, detail: dict[str, Any], ok: bool
    ) -> None:
        shown = {k: ("****" if k in SECRET_FIELDS else v) for k, v in detail.items()}
        line = json.dumps(
            {
                "time": round(time.time(), 3),
                "actor": actor,
                "address": address,
                "action": action,
                "target": target,
                "detail": shown,
                "result": "ok" if ok else "refused",
            },
            ensure_ascii=False,
            default=str,
        )
        if self.file.fd is None:  # closed: the API stops
            return
        try:
            os.write(self.file.fd, (line + "\n").encode("utf-8", "replace"))
        except OSError as exc:
            log.error("cannot write the audit log %s: %s", self.path, exc)

    def tail(self, limit: int = 200) -> list[dict[str, Any]]:
        return read_tail(self.file, limit)

    def reopen(self, fd: int | None = None) -> None:
        """Write to a new file from now on (after log rotation, on SIGHUP): ``fd`` opened by
        the privileged parent, or the path opened again."""
        fd = open_again(self.path, fd, "audit log", READ_BACK_FLAGS)
        if fd is not None:
            self.file.swap(fd)

    def close(self) -> None:
        self.file.swap(None)


def read_tail(log: Path | ReadBack, limit: int, window: int = 4 << 20) -> list[dict[str, Any]]:
    """The last ``limit`` JSON lines of a file (reading at most its last ``window`` bytes)."""
    try:
        with readable(log) as fd:
            size = os.fstat(fd).st_size
            start = max(0, size - window)
            data = os.pread(fd, size - start, start)
    except OSError:
        return []
    lines = data.splitlines()
    if len(data) >= window and lines:
        lines = lines[1:]  # the first may be cut
    found = []
    for raw in lines[-limit:]:
        try:
            found.append(json.loads(raw))
        except ValueError:
            continue
    return found
