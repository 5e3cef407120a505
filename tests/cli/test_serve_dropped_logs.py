"""Logs set outside the data directory (logging.xferlog, admin.audit_log), started as root
without --allow-root: root opens them before the switch and they stay root's; the workers
write, and the admin API reads them back, through those descriptors; a SIGHUP after a rotation
opens them again the same way."""

from __future__ import annotations

import os
import pwd
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
from tests.admin.support import token
from tests.cli.support import Pasv, _free_port, _read_until, _serve, needs_root, stop, system_user
from tests.cli.test_serve_dropped import _closed_checkout, _session

__all__ = ["stop", "system_user"]  # fixtures


@needs_root
def test_logs_set_elsewhere_stay_roots_and_are_read_back(
    tmp_path: Path, stop: list[subprocess.Popen[str]], system_user: pwd.struct_passwd
) -> None:
    """Before, the admin API's worker opened admin.audit_log as the serving user and could not
    start (Permission denied), and the transfer history of a root-owned xferlog was empty."""
    home, env = _closed_checkout(tmp_path)
    logs = tmp_path / "log"  # root's, as /var/log: the serving user may not even walk to it
    logs.mkdir(mode=0o700)
    audit, xferlog = logs / "audit.log", logs / "xferlog"
    audit.write_text("kept\n")  # an existing file of root's stays as it is (not JSON: unread)
    audit.chmod(0o600)
    config = tmp_path / "pasv.toml"
    config.write_text(f'[logging]\nxferlog = "{xferlog}"\n[admin]\naudit_log = "{audit}"\n')
    data = home / "pasv-data"
    store = Pasv(data)
    store.ok("user", "add", "alice", "--password", "pw")
    secret = token(store, "ops", "read,write")
    port = _free_port()
    argv = ["--user", system_user.pw_name, "--workers", "2", "--admin", "--admin-port", "0"]
    proc = _serve(data, port, *argv, "--config", str(config), env=env)
    stop.append(proc)
    lines = _read_until(proc, r"admin console on http://|Cannot start")
    found = re.search(r"(http://[\d.]+:\d+)/console/", lines[-1])
    assert found is not None, lines
    api = httpx.Client(base_url=f"{found[1]}/api/v1", headers={"Authorization": f"Bearer {secret}"})

    def ban(number: int) -> None:
        asked = {"address": f"192.0.2.{number}", "minutes": 5, "reason": "test"}
        made = api.post("/bans", json=asked)
        assert made.status_code == 201, made.text

    def audited() -> list[object]:
        return [entry["target"] for entry in api.get("/audit").json()]

    def transfers() -> list[object]:
        return [entry["path"] for entry in api.get("/transfers").json()]

    _session(port, "before.bin")
    ban(0)
    assert transfers() == ["/before.bin"]
    assert audited() == ["192.0.2.0"]
    assert audit.read_text().startswith("kept\n")
    for made in (audit, xferlog):
        assert made.stat().st_uid == 0, made
    assert audit.stat().st_mode & 0o777 == 0o600

    for name in (audit, xferlog):
        name.rename(f"{name}.1")  # as logrotate would
    os.kill(proc.pid, signal.SIGHUP)
    deadline, tries = time.monotonic() + 15, 0
    while not (xferlog.exists() and xferlog.stat().st_size and audit.exists()):
        assert time.monotonic() < deadline, "the logs were never reopened"
        tries += 1  # what came before a worker reopened them went to the old files
        _session(port, f"after{tries}.bin")
        ban(tries)
    for made in (audit, xferlog):
        assert made.stat().st_uid == 0, made
    assert transfers()[0] == f"/after{tries}.bin" and "/before.bin" not in transfers()
    # the logs are reopened by different workers (the audit log by worker 0), each at its own
    # moment: bans made after the rotation may be in the new audit log before the last one
    after = audited()
    assert after[0] == f"192.0.2.{tries}", after
    assert set(after) <= {f"192.0.2.{n}" for n in range(1, tries + 1)}, after
    assert proc.poll() is None
    api.close()
