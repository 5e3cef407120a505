"""Virtual POSIX path normalisation for the session's view of storage (no disk access)."""

from __future__ import annotations

import posixpath

from pasv.protocol.errors import FileUnavailable, OutsideJail

__all__ = ["basename", "join", "parent", "resolve"]


def _parts(path: str, base: list[str]) -> list[str]:
    """Apply the components of ``path`` to the component stack ``base`` (a new list)."""
    stack = [] if path.startswith("/") else list(base)
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                raise OutsideJail()
            stack.pop()
        else:
            stack.append(part)
    return stack


def resolve(cwd: str, arg: str) -> str:
    """Absolute normalised path of ``arg`` seen from ``cwd``; ``..`` above "/" is OutsideJail."""
    if "\x00" in arg or "\x00" in cwd:
        raise FileUnavailable("Path contains a NUL byte.")
    stack = _parts(arg, _parts(cwd, []))
    return "/" + "/".join(stack)


def parent(p: str) -> str:
    """The directory holding ``p`` ("/" for "/" itself)."""
    head = posixpath.dirname(p.rstrip("/"))
    return head.rstrip("/") or "/"


def basename(p: str) -> str:
    """The last component of ``p`` ("" for "/")."""
    return posixpath.basename(p.rstrip("/"))


def join(directory: str, name: str) -> str:
    """``directory`` + "/" + ``name`` without doubling slashes; no normalisation."""
    if not name:
        return directory or "/"
    return directory.rstrip("/") + "/" + name.lstrip("/")
