"""One S3 endpoint and bucket: the aiobotocore client, made lazily, and its errors translated."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from pasv.protocol import errors as err
from pasv.protocol.texts import said

log = logging.getLogger("pasv.storage.s3")

# the refusals' texts (in the reply catalogue: server/lang/*.toml, ``replies``)
_NO_BUCKET = "S3 storage failed: bucket {bucket} does not exist."
_CREDENTIALS = "S3 storage refused the server's credentials ({code})."
_FAILED = "S3 storage failed ({operation}: {code})."
_UNREACHABLE = "S3 storage unreachable ({reason})."

MIN_PART = 5 * 1024 * 1024  # S3's smallest part, except the last one
MAX_COPY_PART = 5 * 1024**3  # S3's largest part, also for UploadPartCopy

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where objects live and how to reach them (built from the ``[storage.s3]`` settings)."""

    endpoint: str | None  # None: the AWS endpoint of ``region``
    bucket: str
    region: str = "us-east-1"
    access_key: str | None = None  # None: botocore's own chain (environment, profile, role)
    secret_key: str | None = field(default=None, repr=False)
    path_style: bool = True
    part_size: int = 8 * 1024 * 1024
    rename_limit: int = 1000
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    attempts: int = 2

    @property
    def where(self) -> str:
        """The endpoint and bucket, for identities and messages (no credentials)."""
        return f"{self.endpoint or 'aws:' + self.region}/{self.bucket}"


class S3Connection:
    """The process's client for one location; made on first use inside the running loop, so a
    forked worker makes its own."""

    def __init__(self, location: S3Location) -> None:
        # imported now, while the interpreter's files can be read: a worker started as root
        # switches users before its first request, and Python may sit in a mode-0700 home
        for name in _FIRST_USE:
            importlib.import_module(name)
        self.location = location
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Any:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await self._make()
        return self._client

    async def _make(self) -> Any:
        from aiobotocore.session import get_session  # imported only where S3 is configured
        from botocore.config import Config

        loc = self.location
        config = Config(
            s3={"addressing_style": "path" if loc.path_style else "virtual"},
            connect_timeout=loc.connect_timeout,
            read_timeout=loc.read_timeout,
            retries={"max_attempts": loc.attempts, "mode": "standard"},
            max_pool_connections=64,
            request_checksum_calculation="when_required",  # no CRC of every part in Python
            response_checksum_validation="when_required",
        )
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=loc.endpoint,
                region_name=loc.region,
                aws_access_key_id=loc.access_key,
                aws_secret_access_key=loc.secret_key,
                config=config,
            )
        )
        self._stack = stack
        return client

    async def call(self, operation: str, /, **params: Any) -> Any:
        """One S3 operation on this bucket; only our errors come out."""
        client = await self.client()
        method: Callable[..., Awaitable[Any]] = getattr(client, operation)
        try:
            return await method(Bucket=self.location.bucket, **params)
        except Exception as exc:  # translated where it enters
            translate(exc, self.location, operation)

    async def guarded(self, operation: str, work: Awaitable[T]) -> T:
        """Await ``work`` (e.g. reading a response body) with the same translation."""
        try:
            return await work
        except Exception as exc:
            translate(exc, self.location, operation)

    async def aclose(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()


_FIRST_USE = (
    "aiobotocore.session",
    "aiobotocore.client",
    "aiobotocore.endpoint",
    "aiobotocore.httpsession",
    "aiobotocore.response",
    "botocore.config",
    "botocore.retries.standard",
    "urllib.request",
)
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def translate(exc: BaseException, location: S3Location, operation: str) -> NoReturn:
    """Turn a botocore/aiohttp failure into our refusal: a missing key is 550; anything else
    is the store failing (451, with the reason), never a traceback to the client."""
    if isinstance(exc, err.FtpError):
        raise exc
    code = error_code(exc)
    if code in _NOT_FOUND:
        raise err.PathNotFound() from exc
    if code is not None:
        log.warning("S3 %s on %s failed: %s", operation, location.where, code)
        if code == "PreconditionFailed":
            raise err.FileBusy("The file changed on the storage meanwhile; nothing was changed.")
        if code == "NoSuchBucket":
            raise err.LocalError(
                said("replies", "storage.s3_no_bucket", _NO_BUCKET, bucket=location.bucket)
            )
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
            raise err.LocalError(said("replies", "storage.s3_credentials", _CREDENTIALS, code=code))
        raise err.LocalError(
            said("replies", "storage.s3_failed", _FAILED, operation=operation, code=code)
        ) from exc
    reason = str(exc) or type(exc).__name__
    log.warning("S3 %s on %s failed: %s", operation, location.where, reason)
    raise err.LocalError(
        said("replies", "storage.s3_unreachable", _UNREACHABLE, reason=type(exc).__name__)
    ) from exc
