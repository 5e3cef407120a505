"""ftplib behind a pretend load balancer: each connection starts with a PROXY header we send."""

from __future__ import annotations

import ftplib
import socket
import ssl
from typing import Any

from pasv.protocol.proxyheader import encode_v1, encode_v2
from tests.support.ftps import ReusingFTP_TLS


def header(version: int, client: tuple[str, int] | None, server: tuple[str, int]) -> bytes:
    """A v1 or v2 header naming ``client`` (None: v2 LOCAL, the balancer's own connection)."""
    if client is not None and ":" in client[0] and ":" not in server[0]:
        server = (f"::ffff:{server[0]}", server[1])  # one family for both, as a balancer sends
    if version == 1:
        assert client is not None
        return encode_v1(client, server)
    return encode_v2(client, server, tlvs=b"\x04\x00\x03abc")  # a NOOP TLV, to be skipped


class _Proxying(ftplib.FTP):
    """What both clients share: the header before the greeting and on passive data connections."""

    client: tuple[str, int] | None
    version: int
    data_client: tuple[str, int] | None

    def _proxy(
        self,
        client: tuple[str, int] | None,
        version: int,
        data_client: tuple[str, int] | None,
        source: str | None,
    ) -> None:
        self.client, self.version, self.data_client = client, version, data_client
        self.source_address = (source, 0) if source else None

    def connect(self, host: str = "", port: int = 0, *args: Any, **kwargs: Any) -> str:
        self.host, self.port = host, port
        self.sock = socket.create_connection(
            (host, port), self.timeout, source_address=self.source_address
        )
        self.af = self.sock.family
        self.sock.sendall(header(self.version, self.client, (host, port)))
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def _data_connection(self, cmd: str, rest: int | str | None) -> tuple[socket.socket, int]:
        """Passive only: connect, send the data header, then the transfer command."""
        host, port = self.makepasv()
        conn = socket.create_connection(
            (host, port), self.timeout, source_address=self.source_address
        )
        try:
            if self.data_client is not None:
                conn.sendall(header(self.version, self.data_client, (host, port)))
            if rest is not None:
                self.sendcmd(f"REST {rest}")
            resp = self.sendcmd(cmd)
            if resp[0] == "2":
                resp = self.getresp()
            if resp[0] != "1":
                raise ftplib.error_reply(resp)
        except BaseException:
            conn.close()
            raise
        size = ftplib.parse150(resp) if resp[:3] == "150" else None
        return conn, size or 0


class ProxiedFTP(_Proxying):
    """An ftplib client whose control connection (and, with ``data_client``, each passive data
    connection) starts with a PROXY header, as HAProxy's ``send-proxy`` would send it."""

    def __init__(
        self,
        client: tuple[str, int] | None,
        *,
        version: int = 1,
        data_client: tuple[str, int] | None = None,
        source: str | None = None,
        timeout: float = 10,
    ) -> None:
        super().__init__(timeout=timeout, encoding="utf-8")
        self._proxy(client, version, data_client, source)

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int]:
        return self._data_connection(cmd, rest)


class ProxiedFTPS(_Proxying, ReusingFTP_TLS):
    """The same for explicit FTPS: the header in clear, then AUTH TLS; on data connections the
    header, then the TLS handshake (resuming the control connection's session)."""

    def __init__(
        self,
        client: tuple[str, int],
        context: ssl.SSLContext,
        *,
        version: int = 2,
        timeout: float = 10,
    ) -> None:
        ReusingFTP_TLS.__init__(self, context=context, timeout=timeout, encoding="utf-8")
        self._proxy(client, version, client, None)

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int]:
        conn, size = self._data_connection(cmd, rest)
        return self.protect(conn), size
