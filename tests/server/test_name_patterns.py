"""LIST, NLST and STAT with a name pattern (``*``, ``?``, ``[…]``) in the last part of the path,
as the ``mget *.csv`` of command-line clients sends it; MLSD takes none."""

from __future__ import annotations

import ftplib
from pathlib import Path

import pytest

from tests.server.helpers import code_of
from tests.support.live import LiveServer


def _tree(root: Path) -> None:
    for name in ("a.csv", "b.csv", "c.txt", "a*b", ".hidden.csv", "notes.CSV"):
        (root / name).write_bytes(b"x")
    (root / "reports").mkdir()
    for name in ("2026-01.csv", "2026-02.csv", "2025-12.csv", "readme"):
        (root / "reports" / name).write_bytes(b"r")


def _refusal(call: object, *args: object) -> ftplib.Error:
    assert callable(call)
    with pytest.raises(ftplib.error_perm) as caught:
        call(*args)
    return caught.value


def test_nlst_matches_as_a_shell_does(live: LiveServer) -> None:
    _tree(live.files)
    ftp = live.login()
    assert ftp.nlst("*.csv") == ["a.csv", "b.csv"]  # case counts; no dot file by "*"
    assert ftp.nlst(".*.csv") == [".hidden.csv"]
    assert ftp.nlst("?.csv") == ["a.csv", "b.csv"]
    assert ftp.nlst("[bc].*") == ["b.csv", "c.txt"]
    assert ftp.nlst("*") == ["a*b", "a.csv", "b.csv", "c.txt", "notes.CSV", "reports"]
    assert ftp.nlst("a*b") == ["a*b"]  # a name that exists is itself, not a pattern


def test_nlst_keeps_the_directory_so_each_name_can_be_fetched(live: LiveServer) -> None:
    _tree(live.files)
    ftp = live.login()
    assert ftp.nlst("reports/2026-*.csv") == ["reports/2026-01.csv", "reports/2026-02.csv"]
    assert ftp.nlst("/reports/*-12.csv") == ["/reports/2025-12.csv"]
    ftp.cwd("reports")
    assert ftp.nlst("../?.csv") == ["../a.csv", "../b.csv"]
    for name in ftp.nlst("2026-*"):
        assert ftp.size(name) == 1


def test_list_and_stat_show_only_the_matches(live: LiveServer) -> None:
    _tree(live.files)
    ftp = live.login()
    lines: list[str] = []
    ftp.retrlines("LIST -l reports/*.csv", lines.append)
    assert [line.rsplit(" ", 1)[1] for line in lines] == [
        "2025-12.csv",
        "2026-01.csv",
        "2026-02.csv",
    ]
    assert all(line.startswith("-rw") for line in lines)
    status = ftp.sendcmd("STAT *.txt").splitlines()
    assert status[0] == "213-Status of /*.txt:" and status[1].endswith(" c.txt")
    assert len(status) == 3


def test_no_match_is_a_550_that_says_so(live: LiveServer) -> None:
    _tree(live.files)
    ftp = live.login()
    refused = _refusal(ftp.nlst, "*.pdf")
    assert str(refused) == "550 No name in / matches *.pdf."
    assert str(_refusal(ftp.nlst, "nowhere/*.csv")) == "550 No such file or directory."
    assert str(_refusal(ftp.nlst, "c.txt/*")).startswith("550 ")  # not a directory
    assert code_of(_refusal(ftp.nlst, "*/readme")) == 550  # only the last part is a pattern
    assert ftp.sendcmd("NOOP").startswith("200")


def test_mlsd_takes_no_pattern(live: LiveServer) -> None:
    _tree(live.files)
    ftp = live.login()
    assert code_of(_refusal(lambda: list(ftp.mlsd("*.csv")))) == 550


def test_hidden_and_denied_names_stay_out_of_a_match(live: LiveServer) -> None:
    _tree(live.files)
    (live.files / ".htaccess").write_bytes(b"deny")
    (live.files / "private").mkdir()
    (live.files / "private" / "plan.csv").write_bytes(b"p")
    live.policy.set_option("", "hidden_names", ".ht*, private, b.csv")
    live.reload_policy()
    ftp = live.login()
    assert ftp.nlst("*.csv") == ["a.csv"]
    assert ftp.nlst(".*") == [".hidden.csv"]
    assert "private" not in ftp.nlst("*")
    assert code_of(_refusal(ftp.nlst, "private/*")) == 550  # nor is a hidden directory listed
    assert code_of(_refusal(ftp.nlst, "priv*/*")) == 550
