"""A command hook's program, however it behaves, costs the server bounded memory, and its
attempt ends when it exits (not when a job it left running closes its stderr)."""

from __future__ import annotations

import io
import shlex
import socket
import sys
import tracemalloc
from pathlib import Path

import pytest

from pasv.server.hooks import STDERR_KEPT, HookFailed, run_command
from tests.server.helpers import wait_for
from tests.support.live import start_server
from tests.support.scrape import scrape, value

EVENT = {"event": "upload_complete", "id": "e1", "path": "/$(touch x);`id`\n-rf", "bytes": 1}
# 64 MiB to stderr, then a last line, then failure
NOISY = (
    "import sys; e = sys.stderr.buffer; [e.write(b'x' * 65536) for _ in range(1024)]; "
    "e.write(b'\\nthe last words'); sys.exit(4)"
)


async def test_a_program_flooding_stderr_is_read_with_bounded_memory() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(HookFailed) as failed:
            await run_command((sys.executable, "-c", NOISY), b"{}", EVENT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "exited with status 4" in str(failed.value)
    assert str(failed.value).endswith("the last words")
    assert peak < 16 * STDERR_KEPT + (1 << 20)  # not the 64 MiB the program wrote


async def test_a_large_input_reaches_a_program_that_writes_to_stderr_first() -> None:
    body = b'{"pad": "' + b"p" * (1 << 20) + b'"}'  # larger than a pipe holds
    echo = (
        "import sys; sys.stderr.buffer.write(b'e' * (1 << 20)); sys.stderr.flush(); "
        f"data = sys.stdin.buffer.read(); sys.exit(0 if len(data) == {len(body)} else 5)"
    )
    await run_command((sys.executable, "-c", echo), body, EVENT)


# a hook that exits 0 at once and leaves a job running in the background, which holds the
# hook's stderr until the test lets it finish (it connects to the test, waits for a byte)
JOB = (
    "import pathlib, socket, sys; s = socket.create_connection(('127.0.0.1', int(sys.argv[1])));"
    " s.recv(1); pathlib.Path(sys.argv[2]).write_text('ran to its end')"
)


def test_a_program_that_leaves_a_background_job_is_delivered_at_its_exit(tmp_path: Path) -> None:
    done = tmp_path / "done"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(60)
    port = listener.getsockname()[1]
    script = f'{shlex.quote(sys.executable)} -c "{JOB}" {port} {shlex.quote(str(done))} &'
    hook = {"name": "bg", "command": ["/bin/sh", "-c", script], "timeout": 60, "retries": 0}
    live = start_server(tmp_path / "data", hooks=[hook])
    try:
        ftp = live.login()
        ftp.storbinary("STOR a.bin", io.BytesIO(b"a"))
        assert ftp.quit().startswith("221")
        job, _ = listener.accept()  # the background job runs, holding the hook's stderr
        address = live.server.metrics_address
        assert address is not None
        ok = {"hook": "bg", "result": "ok"}
        wait_for(lambda: value(scrape(*address), "pasv_hook_deliveries_total", **ok) == 1)
        assert value(scrape(*address), "pasv_hook_attempts_failed_total", hook="bg") == 0
        job.sendall(b"x")  # and was not killed: it goes on to its end
        wait_for(done.exists)
        assert done.read_text() == "ran to its end"
        job.close()
    finally:
        listener.close()
        live.stop()
