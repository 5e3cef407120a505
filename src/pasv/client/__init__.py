"""pasv's FTP client: async ``FtpClient``, a blocking ``SyncFtpClient``, transfers and mirror."""

from pasv.client.client import FtpClient
from pasv.client.errors import (
    ConnectionFailed,
    DataChannelError,
    DataStalled,
    FtpClientError,
    IntegrityError,
    LoginFailed,
    ReplyError,
)
from pasv.client.options import ClientOptions, tls_context
from pasv.client.retry import RetryPolicy, with_retries
from pasv.client.session import Target, open_client, run_session
from pasv.client.sync import SyncFtpClient
from pasv.client.transfer import TransferResult, get_file, put_file
from pasv.client.url import FtpUrl, parse_url

__all__ = [
    "ClientOptions",
    "ConnectionFailed",
    "DataChannelError",
    "DataStalled",
    "FtpClient",
    "FtpClientError",
    "FtpUrl",
    "IntegrityError",
    "LoginFailed",
    "ReplyError",
    "RetryPolicy",
    "SyncFtpClient",
    "Target",
    "TransferResult",
    "get_file",
    "open_client",
    "parse_url",
    "put_file",
    "run_session",
    "tls_context",
    "with_retries",
]
