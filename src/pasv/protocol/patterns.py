"""Name patterns (``*``, ``?``, ``[…]``) matched as a shell matches them: the server's LIST,
NLST and STAT of a pattern, and ``pasv get`` of one."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

__all__ = ["MAX_PATTERN", "is_pattern", "name_matcher"]

MAX_PATTERN = 255  # a name is at most 255 bytes on the usual file systems
_WILDCARD = re.compile(r"[*?\[]")


def is_pattern(name: str) -> bool:
    """Whether ``name`` holds a wildcard (and is short enough to be a name's pattern)."""
    return len(name) <= MAX_PATTERN and _WILDCARD.search(name) is not None


def name_matcher(pattern: str) -> Callable[[str], bool]:
    """Whether a name matches ``pattern``; a leading dot only by a pattern that starts with
    one. Compiled for each call: fnmatch's own cache would keep every pattern clients send."""
    match = re.compile(fnmatch.translate(pattern)).match
    dotted = pattern.startswith(".")

    def matches(name: str) -> bool:
        return (dotted or not name.startswith(".")) and match(name) is not None

    return matches
