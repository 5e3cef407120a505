"""What the server logged a transfer mode (MODE Z, MODE B) moved, read back from the test's log."""

from __future__ import annotations

import re

import pytest

_MEASURED = re.compile(r"(RETR|STOR) (\S+): (\d+) file bytes, (\d+) on the data connection")


def measured(caplog: pytest.LogCaptureFixture) -> dict[tuple[str, str], tuple[int, int]]:
    """(verb, path) -> (file bytes, bytes on the data connection) as the server logged them."""
    found = {}
    for record in caplog.records:
        match = _MEASURED.search(record.getMessage())
        if match:
            found[(match[1], match[2])] = (int(match[3]), int(match[4]))
    return found
