"""The pasv client and `pasv doctor` send HOST when the URL names a host (not an address) and the
server's FEAT lists it: against pasv with a virtual host named localhost, whose certificate
only that name covers (so a verified TLS session proves SNI chose it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client.addressing import names_a_host
from tests.diagnostics.doctor_support import doctor
from tests.support.live import LiveServer, start_server

runner = CliRunner()
PASSWORD = "vhost-client-pw"


@dataclass
class Site:
    live: LiveServer
    ca_file: Path
    root: Path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    default_cert, local_cert = tmp_path / "default.pem", tmp_path / "local.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(default_cert))
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(local_cert))
    root = tmp_path / "local-site"
    live = start_server(
        tmp_path / "data",
        tls={"certificate": str(default_cert)},
        hosts=[
            {
                "name": "localhost",
                "banner": "The local site.",
                "root": str(root),
                "certificate": str(local_cert),
                "users": ["ann"],
            }
        ],
    )
    for name in ("ann", "bob"):
        live.add_user(name, PASSWORD)
    root.mkdir()
    (root / "site.txt").write_text("local site")
    (live.files / "site.txt").write_text("default site")
    yield Site(live, ca_file, root)
    live.stop()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--retries", "0"], catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def _url(site: Site, host: str, user: str = "ann", scheme: str = "ftp", path: str = "/") -> str:
    port = site.live.port
    if scheme == "ftps":
        port = site.live.server.implicit_addresses[0][1]
    return f"{scheme}://{user}:{PASSWORD}@{host}:{port}{path}"


@pytest.mark.parametrize(
    ("host", "expected"), [("localhost", True), ("LocalHost.", True), ("127.0.0.1", False),
                           ("::1", False), ("[::1]", False), ("", False)]
)  # fmt: skip
def test_only_names_are_sent_as_host(host: str, expected: bool) -> None:
    assert names_a_host(host) is expected


def test_a_name_is_sent_as_host_and_an_address_is_not(site: Site, tmp_path: Path) -> None:
    got = tmp_path / "got.txt"
    code, text = cli("get", _url(site, "localhost", path="/site.txt"), str(got), "-v")
    assert code == 0, text
    assert got.read_text() == "local site"
    assert "Command:  HOST localhost" in text and "220 The local site." in text
    other = tmp_path / "other.txt"
    code, text = cli("get", _url(site, "127.0.0.1", user="bob", path="/site.txt"), str(other), "-v")
    assert code == 0, text
    assert other.read_text() == "default site"
    assert "Command:  HOST" not in text


def test_a_user_of_another_host_cannot_log_in(site: Site) -> None:
    code, text = cli("ls", _url(site, "localhost", user="bob"))
    assert code == 3, text  # the login failed
    code, text = cli("ls", _url(site, "127.0.0.1", user="bob"))
    assert code == 0, text


@pytest.mark.parametrize("scheme", ["ftp", "ftps"])
def test_tls_presents_the_hosts_certificate(site: Site, scheme: str, tmp_path: Path) -> None:
    extra = ["--tls"] if scheme == "ftp" else []
    got = tmp_path / "got.txt"
    url = _url(site, "localhost", scheme=scheme, path="/site.txt")
    code, text = cli("get", url, str(got), *extra, "--ca", str(site.ca_file), "-v")
    assert code == 0, text  # the certificate verified for "localhost": only the host's covers it
    assert got.read_text() == "local site"
    assert "Command:  HOST localhost" in text


def test_an_unknown_host_fails_with_the_servers_reason(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", hosts=[{"name": "elsewhere.test"}])
    try:
        live.add_user("ann", PASSWORD)
        url = f"ftp://ann:{PASSWORD}@localhost:{live.port}/"
        code, text = cli("ls", url)
        assert code != 0
        assert "504 Unknown host localhost" in text
        report = doctor(url)
        assert report.exit_code == 4  # a connection stage failed
        stage = report.stage("host")
        assert (stage["status"], stage["kind"]) == ("fail", "unknown_host")
        assert "login" not in report.statuses()
    finally:
        live.stop()


def test_doctor_names_the_host(site: Site) -> None:
    report = doctor(_url(site, "localhost"))
    assert report.exit_code == 0, report.result.output
    stage = report.stage("host")
    assert stage["status"] == "ok"
    assert "220 The local site." in stage["summary"]
    assert report.stage("login")["status"] == "ok"
    by_address = doctor(_url(site, "127.0.0.1", user="bob"))
    assert "host" not in by_address.statuses()
    assert by_address.exit_code == 0
