"""URLs and netrc: what the CLI understands, and that a password never shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client.trace import censor, format_event
from pasv.client.url import FtpUrl, UrlError, netrc_credentials, parse_url
from tests.client.fakes import dead_port


def test_parse_full_url() -> None:
    url = parse_url("ftp://bob:s%40cret@example.org:2121/dir/f%C3%BC.txt")
    assert url == FtpUrl("example.org", 2121, "/dir/fü.txt", "bob", "s@cret", False)
    assert url.display == "ftp://bob@example.org:2121/dir/fü.txt"
    assert "s@cret" not in url.display + repr(url.display)


def test_defaults_and_ftps_and_ipv6() -> None:
    assert parse_url("ftp://host").port == 21
    assert parse_url("ftp://host").path == "/"
    implicit = parse_url("ftps://[::1]/x")
    assert (implicit.host, implicit.port, implicit.implicit_tls) == ("::1", 990, True)
    assert implicit.display == "ftps://[::1]:990/x"


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("ftp://h/pub/report?.csv", "/pub/report?.csv"),
        ("ftp://h/notes#1.txt", "/notes#1.txt"),
        ("ftp://h/a?b#c%3Fd", "/a?b#c?d"),
        ("ftp://u:p%3Fw@h:2121/x?", "/x?"),
        ("  ftp://h/lead?ing", "/lead?ing"),  # urlsplit drops the leading spaces
    ],
)
def test_a_question_mark_or_a_hash_is_part_of_the_path(text: str, path: str) -> None:
    """FTP URLs have no query and no fragment; file names have these characters."""
    url = parse_url(text)
    assert url.path == path
    assert url.host == "h"


@pytest.mark.parametrize("text", ["http://host/", "host/path", "ftp:///nohost", "ftp://h:99999/"])
def test_bad_urls(text: str) -> None:
    with pytest.raises(UrlError):
        parse_url(text)


def test_netrc_lookup(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "machine a.example login ann password pw1\ndefault login anonymous password x\n"
    )
    netrc.chmod(0o600)
    assert netrc_credentials("a.example", None, netrc) == ("ann", "pw1")
    assert netrc_credentials("a.example", "ann", netrc) == ("ann", "pw1")
    assert netrc_credentials("a.example", "bob", netrc) is None
    assert netrc_credentials("a.example", None, tmp_path / "missing") is None


def test_censor_hides_pass_only() -> None:
    assert censor("PASS hunter2") == "PASS ****"
    assert censor("pass hunter2") == "pass ****"
    assert censor("USER hunter2") == "USER hunter2"
    assert format_event("Command", censor("PASS x")) == "Command:  PASS ****"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["get", "/a%0Ab"], "line break or NUL"),
        (["rm", "/a%0Dx"], "line break or NUL"),
        (["get", "/a%00b"], "line break or NUL"),
        (["get", "--encoding", "latin-1", "/%E2%82%AC.txt"], "cannot be written in latin-1"),
        (["ls", "--encoding", "nosuch", "/"], "unknown encoding 'nosuch'"),
    ],
)
def test_unusable_paths_and_encodings_are_usage_errors_before_connecting(
    args: list[str], said: str
) -> None:
    with dead_port() as port:  # a connection attempt would be exit code 4
        *options, path = args
        result = CliRunner().invoke(app, [*options, f"ftp://u:p@127.0.0.1:{port}{path}"])
    assert result.exit_code == 2, result.output
    assert said in result.stderr and "Traceback" not in result.stderr
