"""The audit log: every change made through the admin API or console, one JSON object a line."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from pasv.server.xferlog import OPEN_FLAGS, open_again

log = logging.getLogger("pasv.admin")
# never written: a password, a token secret, a CSRF token
SECRET_FIELDS = frozenset({"password", "secret", "token", "csrf"})


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, OPEN_FLAGS, 0o640)

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
        try:
            os.write(self._fd, (line + "\n").encode("utf-8", "replace"))
        except OSError as exc:
            log.error("cannot write the audit log %s: %s", self.path, exc)

    def tail(self, limit: int = 200) -> list[dict[str, Any]]:
        return read_tail(self.path, limit)

    def reopen(self, fd: int | None = None) -> None:
        """Write to a new file from now on (after log rotation, on SIGHUP): ``fd`` opened by
        the privileged parent, or the path opened again."""
        fd = open_again(self.path, fd, "audit log")
        if fd is None:
            return
        os.close(self._fd)
        self._fd = fd

    def close(self) -> None:
        os.close(self._fd)


def read_tail(path: Path, limit: int, window: int = 4 << 20) -> list[dict[str, Any]]:
    """The last ``limit`` JSON lines of a file (reading at most its last ``window`` bytes)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - window))
            data = file.read()
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
