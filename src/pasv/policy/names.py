"""Forbidden and hidden file-name patterns (case-insensitive shell globs)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence

__all__ = ["NamePatterns"]

_Match = Callable[[str], object]


def _compile(pattern: str) -> _Match:
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE).match


def _base(name: str) -> str:
    return name.rstrip("/").rpartition("/")[2]


class _Patterns:
    """Patterns split into base-name patterns and whole-path patterns (those containing "/")."""

    __slots__ = ("names", "paths")

    def __init__(self, patterns: Sequence[str]) -> None:
        cleaned = [p.strip() for p in patterns if p.strip()]
        self.names = tuple((p, _compile(p)) for p in cleaned if "/" not in p)
        self.paths = tuple((p, _compile(p)) for p in cleaned if "/" in p)

    def match_name(self, name: str) -> str | None:
        for pattern, match in self.names:
            if match(name):
                return pattern
        return None

    def match_path(self, path: str) -> str | None:
        for pattern, match in self.paths:
            if match(path):
                return pattern
        return None


class NamePatterns:
    """``forbidden`` names may not be created; ``hidden`` ones are neither listed nor reachable."""

    __slots__ = ("_forbidden", "_hidden", "empty")

    def __init__(self, forbidden: Sequence[str] = (), hidden: Sequence[str] = ()) -> None:
        self._forbidden = _Patterns(forbidden)
        self._hidden = _Patterns(hidden)
        self.empty = not (
            self._forbidden.names
            or self._forbidden.paths
            or self._hidden.names
            or self._hidden.paths
        )

    def forbidden(self, name: str) -> str | None:
        """The pattern forbidding ``name`` (a base name or a virtual path), or None."""
        found = self._forbidden.match_name(_base(name))
        if found is None and "/" in name:
            found = self._forbidden.match_path(name.rstrip("/") or "/")
        return found

    def may_forbid_below(self, directory: str) -> str | None:
        """A whole-path forbidden pattern that could match something below ``directory`` (its
        literal start, before any glob, is consistent with ``directory/``), or None."""
        inside = directory.rstrip("/").lower() + "/"
        for pattern, _ in self._forbidden.paths:
            literal = re.split(r"[*?\[]", pattern, maxsplit=1)[0].lower()
            if inside.startswith(literal) or literal.startswith(inside):
                return pattern
        return None

    def hidden(self, name: str) -> bool:
        """True when the base name ``name`` is hidden."""
        return self._hidden.match_name(name) is not None

    def hidden_path(self, path: str) -> bool:
        """True when any segment of the virtual path ``path`` (or the path up to it) is hidden."""
        if not (self._hidden.names or self._hidden.paths):
            return False
        prefix = ""
        for segment in path.split("/"):
            if not segment:
                continue
            prefix += "/" + segment
            if self._hidden.match_name(segment) is not None:
                return True
            if self._hidden.match_path(prefix) is not None:
                return True
        return False
