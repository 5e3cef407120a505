"""A command hook's program, however it behaves, costs the server bounded memory."""

from __future__ import annotations

import sys
import tracemalloc

import pytest

from pasv.server.hooks import STDERR_KEPT, HookFailed, run_command

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
