"""Virtual hosts: HOST (RFC 7151) picks the banner, the files root, the certificate and who may
log in; SNI picks the certificate for implicit FTPS and AUTH TLS (ftplib on loopback)."""

from __future__ import annotations

import ftplib
import io
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.support.ftps import ReusingFTP_TLS, served_fingerprint
from tests.support.live import LiveServer, start_server

PASSWORD = "vhost-pw-1"


@dataclass
class Sites:
    live: LiveServer
    ca: trustme.CA
    roots: dict[str, Path]
    fingerprints: dict[str, str]  # host name -> SHA-256 hex of its certificate

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


def _issue(ca: trustme.CA, directory: Path, *names: str) -> tuple[Path, str]:
    import hashlib

    cert = ca.issue_cert(*names)
    path = directory / f"{names[0]}.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode("ascii"))
    return path, hashlib.sha256(der).hexdigest()


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[Sites]:
    ca = trustme.CA()
    pki = tmp_path / "pki"
    pki.mkdir()
    default_cert, default_fp = _issue(ca, pki, "127.0.0.1", "localhost")
    a_cert, a_fp = _issue(ca, pki, "a.test", "www.a.test")
    b_cert, b_fp = _issue(ca, pki, "b.test")
    roots = {"a.test": tmp_path / "site-a", "b.test": tmp_path / "site-b"}
    live = start_server(
        tmp_path / "data",
        tls={"certificate": str(default_cert)},
        hosts=[
            {
                "name": "a.test",
                "aliases": ["www.a.test"],
                "banner": "Welcome to site A.",
                "root": str(roots["a.test"]),
                "certificate": str(a_cert),
                "users": ["ann", "carol"],
            },
            {
                "name": "b.test",
                "banner": "Site B here.",
                "root": str(roots["b.test"]),
                "certificate": str(b_cert),
                "users": ["bob", "carol"],
            },
        ],
    )
    for name in ("ann", "bob", "carol"):
        live.add_user(name, PASSWORD)
    for host, root in roots.items():
        root.mkdir()
        (root / "where.txt").write_text(host)
    yield Sites(live, ca, roots, {"": default_fp, "a.test": a_fp, "b.test": b_fp})
    live.stop()


def _refused(ftp: ftplib.FTP, line: str) -> str:
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.sendcmd(line)
    return str(caught.value)


def _read(ftp: ftplib.FTP, name: str) -> bytes:
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {name}", out.write)
    return out.getvalue()


def test_host_picks_the_banner_and_the_root(sites: Sites) -> None:
    for host, user, banner in (
        ("a.test", "ann", "Welcome to site A."),
        ("WWW.A.TEST.", "carol", "Welcome to site A."),
        ("b.test", "bob", "Site B here."),
        ("b.test", "carol", "Site B here."),
    ):
        ftp = sites.live.connect()
        assert ftp.sendcmd(f"HOST {host}") == f"220 {banner}"
        ftp.login(user, PASSWORD)
        expected = "b.test" if host.startswith("b") else "a.test"
        assert _read(ftp, "where.txt") == expected.encode()
        ftp.storbinary("STOR up.txt", io.BytesIO(user.encode()))
        assert (sites.roots[expected] / "up.txt").read_bytes() == user.encode()
        ftp.quit()


def test_a_login_on_the_wrong_host_fails(sites: Sites) -> None:
    ftp = sites.live.connect()
    ftp.sendcmd("HOST b.test")
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.login("ann", PASSWORD)
    assert str(caught.value).startswith("530 ")
    ftp.sendcmd("HOST a.test")  # still before login: another host may be chosen
    ftp.login("ann", PASSWORD)
    assert _read(ftp, "where.txt") == b"a.test"


def test_an_unknown_host_is_504_with_the_reason(sites: Sites) -> None:
    ftp = sites.live.connect()
    assert _refused(ftp, "HOST c.test") == (
        "504 Unknown host c.test: no virtual host of that name is served here."
    )
    ftp.login("ann", PASSWORD)  # without HOST: the server's own site, every account
    assert _refused(ftp, "HOST a.test") == "503 HOST must come before USER."


def test_an_address_names_the_servers_own_site(sites: Sites) -> None:
    ftp = sites.live.connect()
    assert ftp.sendcmd("HOST 127.0.0.1").startswith("220 pasv FTP server ready")
    assert ftp.sendcmd("HOST [::1]").startswith("220 ")
    ftp.login("bob", PASSWORD)
    with pytest.raises(ftplib.error_perm):
        _read(ftp, "where.txt")  # the server's files root, not a host's


def test_rein_forgets_the_host(sites: Sites) -> None:
    ftp = sites.live.connect()
    ftp.sendcmd("HOST a.test")
    ftp.login("ann", PASSWORD)
    assert ftp.sendcmd("REIN").startswith("220 ")
    ftp.login("bob", PASSWORD)  # the server's own site again: bob may log in
    ftp.sendcmd("REIN")
    ftp.sendcmd("HOST a.test")
    with pytest.raises(ftplib.error_perm):
        ftp.login("bob", PASSWORD)


def test_anonymous_is_scoped_like_any_account(tmp_path: Path) -> None:
    live = start_server(
        tmp_path / "data",
        anonymous={"enabled": True},
        hosts=[
            {"name": "pub.test", "users": ["anonymous"], "anonymous_root": str(tmp_path / "pub")},
            {"name": "private.test", "users": ["alice"]},
        ],
    )
    try:
        (tmp_path / "pub" / "readme").write_text("public")
        ftp = live.connect()
        ftp.sendcmd("HOST pub.test")
        ftp.login()
        assert _read(ftp, "readme") == b"public"
        ftp = live.connect()
        ftp.sendcmd("HOST private.test")
        with pytest.raises(ftplib.error_perm) as caught:
            ftp.login()
        assert str(caught.value).startswith("530 ")
    finally:
        live.stop()


def _auth_tls(sites: Sites, host: str | None, sni: str | None) -> ReusingFTP_TLS:
    live = sites.live
    ctx = sites.client_context()
    if sni is None and host is not None:  # no name to check the certificate against but HOST's
        ctx.check_hostname = False
    ftp = ReusingFTP_TLS(context=ctx, timeout=10, encoding="utf-8")
    live.clients.append(ftp)
    ftp.connect(live.host, live.port)
    if host is not None:
        ftp.sendcmd(f"HOST {host}")
    ftp.host = sni or "127.0.0.1"  # ftplib sends self.host as SNI (none for an address)
    ftp.auth()
    return ftp


@pytest.mark.parametrize(
    ("host", "sni", "expected"),
    [
        ("b.test", None, "b.test"),  # HOST before AUTH, no server name: HOST's certificate
        (None, "a.test", "a.test"),  # AUTH TLS with SNI: the named host's certificate
        (None, "www.a.test", "a.test"),
        (None, None, ""),  # neither: the server's own
    ],
)
def test_auth_tls_presents_the_hosts_certificate(
    sites: Sites, host: str | None, sni: str | None, expected: str
) -> None:
    ftp = _auth_tls(sites, host, sni)  # the client checks the chain (and the SNI name)
    assert served_fingerprint(ftp.sock) == sites.fingerprints[expected]  # type: ignore[arg-type]
    if expected:
        user = "bob" if expected == "b.test" else "ann"
        ftp.login(user, PASSWORD)
        ftp.prot_p()
        assert _read(ftp, "where.txt") == expected.encode()  # PROT P data under its name too


def test_after_tls_the_host_cannot_change(sites: Sites) -> None:
    ftp = _auth_tls(sites, None, "a.test")
    assert _refused(ftp, "HOST b.test") == (
        "504 HOST b.test does not match a.test, the host this connection's TLS was set up for; "
        "connect again to use another host."
    )
    assert ftp.sendcmd("HOST a.test") == "220 Welcome to site A."
    with pytest.raises(ftplib.error_perm):
        ftp.login("bob", PASSWORD)  # the SNI host's accounts only


@pytest.mark.parametrize("sni", ["a.test", "b.test", None])
def test_sni_picks_the_certificate_and_host_of_implicit_ftps(sites: Sites, sni: str | None) -> None:
    live = sites.live
    ctx = sites.client_context()
    host, port = live.server.implicit_addresses[0]
    raw = socket.create_connection((host, port), timeout=10)
    ftp = ReusingFTP_TLS(context=ctx, timeout=10, encoding="utf-8")
    live.clients.append(ftp)
    ftp.sock = ctx.wrap_socket(raw, server_hostname=sni or host)
    ftp.af, ftp.host = ftp.sock.family, sni or host
    ftp.file = ftp.sock.makefile("r", encoding=ftp.encoding)
    ftp.welcome = ftp.getresp()
    assert served_fingerprint(ftp.sock) == sites.fingerprints[sni or ""]
    banners = {"a.test": "220 Welcome to site A.", "b.test": "220 Site B here."}
    assert ftp.welcome == banners.get(sni or "", "220 pasv FTP server ready.")
    ftp.login("carol", PASSWORD)
    ftp.prot_p()
    if sni is not None:
        assert _read(ftp, "where.txt") == sni.encode()


def test_the_hosts_banner_in_the_sessions_language(tmp_path: Path) -> None:
    live = start_server(
        tmp_path / "data",
        hosts=[{"name": "a.test", "banner": "Site A.", "banners": {"zh": "A 站点。"}}],
    )
    try:
        ftp = live.connect()
        assert ftp.sendcmd("HOST a.test") == "220 Site A."
        ftp.sendcmd("LANG ZH")
        assert ftp.sendcmd("HOST a.test") == "220 A 站点。"
        assert _refused(ftp, "HOST b.test") == (
            "504 未知主机 b.test:这里没有提供这个名称的虚拟主机。"
        )
    finally:
        live.stop()
