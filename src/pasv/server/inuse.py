"""Files in use: the names being uploaded, seen by every session and worker of the server.

An upload claims its file and counts itself in the file's directory, in this worker's own table
of the shared counters: the claim ends with the upload (however the session ends), and the
supervisor wipes a dead worker's table, so a crashed worker's claims end with it. Claims are
checked and made under the shared lock, so two workers never both take one name.
"""

from __future__ import annotations

import os

from pasv.server.shared import SharedState, digest

__all__ = ["FilesInUse", "UploadClaim"]


_ANY = digest("uploads running")  # lets downloads skip the check while nothing is uploaded


def _file_key(identity: str) -> int:
    return digest("upload\0" + identity)


def _dir_key(identity: str) -> int:
    return digest("upload-dir\0" + identity)


class UploadClaim:
    """One upload's hold on its file; ``release`` is safe to call more than once."""

    __slots__ = ("_keys", "_shared")

    def __init__(self, shared: SharedState, keys: tuple[int, ...]) -> None:
        self._shared, self._keys = shared, keys

    def release(self) -> None:
        if not self._keys:
            return
        with self._shared.locked():
            for key in self._keys:
                self._shared.mine.add(key, -1)
        self._keys = ()


class FilesInUse:
    """Which files are being uploaded; ``identity`` is the storage's name for an entry."""

    __slots__ = ("_shared",)

    def __init__(self, shared: SharedState) -> None:
        self._shared = shared

    def claim(self, identity: str) -> UploadClaim | None:
        """Take ``identity`` for an upload; None when another upload holds it."""
        keys = (_file_key(identity), _dir_key(os.path.dirname(identity)), _ANY)
        with self._shared.locked():
            if self._shared.sessions(keys[0]) > 0:
                return None
            for key in keys:
                self._shared.mine.add(key, 1)
        return UploadClaim(self._shared, keys)

    def any(self) -> bool:
        """Is anything being uploaded (in any worker)?"""
        return self._shared.sessions(_ANY) > 0

    def uploading(self, identity: str) -> bool:
        """Is ``identity`` being uploaded now?"""
        return self._shared.sessions(_file_key(identity)) > 0

    def uploading_into(self, identity: str) -> bool:
        """Is a file directly in the directory ``identity`` being uploaded now?"""
        return self._shared.sessions(_dir_key(identity)) > 0
