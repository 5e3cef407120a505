"""A blocking facade over FtpClient for scripts: the same methods, without ``await``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from pasv.client.client import FtpClient
from pasv.client.options import ClientOptions
from pasv.client.transfer import TransferResult, get_file, put_file
from pasv.protocol.listing import FileFacts

__all__ = ["SyncFtpClient"]

T = TypeVar("T")


class SyncFtpClient:
    """``with SyncFtpClient() as ftp: ftp.connect(host, port); ftp.login(user, pw); ...``."""

    def __init__(self, options: ClientOptions | None = None) -> None:
        self._runner = asyncio.Runner()
        self.client = FtpClient(options)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def connect(self, host: str, port: int = 21) -> str:
        return self._run(self.client.connect(host, port)).text

    def login(self, user: str, password: str) -> None:
        self._run(self.client.login(user, password))

    def pwd(self) -> str:
        return self._run(self.client.pwd())

    def cwd(self, path: str) -> None:
        self._run(self.client.cwd(path))

    def mkdir(self, path: str) -> None:
        self._run(self.client.mkdir(path))

    def rmdir(self, path: str) -> None:
        self._run(self.client.rmdir(path))

    def delete(self, path: str) -> None:
        self._run(self.client.delete(path))

    def rename(self, source: str, target: str) -> None:
        self._run(self.client.rename(source, target))

    def size(self, path: str) -> int | None:
        return self._run(self.client.size(path))

    def listdir(self, path: str = "") -> list[FileFacts]:
        return self._run(self.client.listdir(path))

    def download(self, path: str, write: Callable[[bytes], object], offset: int = 0) -> int:
        return self._run(self.client.download(path, write, offset=offset))

    def get(self, remote: str, local: Path, resume: bool = True) -> TransferResult:
        return self._run(get_file(self.client, remote, local, resume=resume))

    def put(self, local: Path, remote: str, resume: bool = True) -> TransferResult:
        return self._run(put_file(self.client, local, remote, resume=resume))

    def quit(self) -> None:
        self._run(self.client.quit())

    def close(self) -> None:
        self._run(self.client.close())
        self._runner.close()

    def __enter__(self) -> SyncFtpClient:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if t is None:
            self.quit()
        self.close()
