"""pasv installed without its extras (no psycopg, no aiobotocore): the CLI and a server on the
embedded defaults work; the extras are imported only where PostgreSQL or S3 is configured."""

from __future__ import annotations

import ftplib
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.support import _free_port
from tests.support.live import passive_range

# Each blocked module raises ImportError on import, as if it were not installed.
_BLOCKED = ("psycopg", "psycopg_pool", "aiobotocore", "botocore")
_RUN = (
    "import sys\n"
    f"for name in {_BLOCKED!r}:\n"
    "    sys.modules[name] = None\n"
    "sys.argv = ['pasv', *sys.argv[1:]]\n"
    "from pasv.cli.main import app\n"
    "app()\n"
)


def _pasv(*args: str) -> list[str]:
    return [sys.executable, "-c", _RUN, *args]


def _login_when_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")
        try:
            with ftplib.FTP() as ftp:
                ftp.connect("127.0.0.1", port, timeout=5)
                return ftp.login("bob", "secret-pw-1")
        except ConnectionRefusedError:
            time.sleep(0.05)  # polling for the listener of a process starting up
    raise AssertionError("the server did not come up")


def test_cli_and_server_run_without_the_extras(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = subprocess.run(
        _pasv("user", "add", "bob", "--password", "secret-pw-1", "--data-dir", str(data)),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr.decode(errors="replace")
    assert b"Added user 'bob'" in added.stdout
    port = _free_port()
    serve = [
        "serve", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port),
        "--passive-ports", passive_range(), "--implicit-port", str(_free_port()),
        "--metrics-listen", "127.0.0.1:0", "--no-admin", "--workers", "1",
        "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(_pasv(*serve), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert _login_when_up(port, proc).startswith("230")
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode(errors="replace")
    assert "ModuleNotFoundError" not in output and "Traceback" not in output, output
