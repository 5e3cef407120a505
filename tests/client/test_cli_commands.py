"""Every client command, run as a person runs it, against pasv, pyftpdlib and vsftpd."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.peers import Peer

runner = CliRunner()


def pasv_cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--retries", "0"], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_every_command(peer: Peer, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    local = tmp_path / "a.bin"
    local.write_bytes(data)

    assert pasv_cli("mkdir", peer.url("/d"))[0] == 0
    assert (peer.root / "d").is_dir()
    code, _, err = pasv_cli("put", str(local), peer.url("/d/"))
    assert code == 0, err
    assert (peer.root / "d" / "a.bin").read_bytes() == data
    assert "verified by" in err

    code, out, _ = pasv_cli("ls", peer.url("/d"))
    assert (code, out.split()) == (0, ["a.bin"])
    code, out, _ = pasv_cli("ls", "-l", peer.url("/d"))
    assert code == 0
    assert "300000" in out and "a.bin" in out and out.lstrip().startswith("mode")

    shown = runner.invoke(app, ["cat", peer.url("/d/a.bin")])
    assert (shown.exit_code, shown.stdout_bytes) == (0, data)

    fetched = tmp_path / "fetched.bin"
    code, _, err = pasv_cli("get", peer.url("/d/a.bin"), str(fetched))
    assert code == 0, err
    assert fetched.read_bytes() == data

    assert pasv_cli("mv", peer.url("/d/a.bin"), "b.bin")[0] == 0
    assert sorted(p.name for p in (peer.root / "d").iterdir()) == ["b.bin"]
    assert pasv_cli("rm", peer.url("/d/b.bin"))[0] == 0
    assert not (peer.root / "d" / "b.bin").exists()
    assert pasv_cli("rmdir", peer.url("/d"))[0] == 0
    assert not (peer.root / "d").exists()


def test_cat_writes_the_bytes_to_stdout(peer: Peer) -> None:
    text = "línea uno\nzwei\n"
    peer.put("notes.txt", text.encode())
    result = runner.invoke(app, ["cat", peer.url("/notes.txt")])
    assert result.exit_code == 0
    assert result.stdout_bytes == text.encode()


@pytest.mark.parametrize("mode", ["--active", "--passive-default"])
def test_get_in_both_data_modes(peer: Peer, tmp_path: Path, mode: str) -> None:
    data = os.urandom(100_000)
    peer.put("m.bin", data)
    args = ["get", peer.url("/m.bin"), str(tmp_path / "m.bin"), "-v"]
    if mode == "--active":
        args.append("--active")
    code, _, err = pasv_cli(*args)
    assert code == 0, err
    assert (tmp_path / "m.bin").read_bytes() == data
    assert ("Command:  PORT" in err) == (mode == "--active")


def test_get_of_a_missing_file_leaves_nothing_behind(peer: Peer, tmp_path: Path) -> None:
    target = tmp_path / "missing.bin"
    code, _, err = pasv_cli("get", peer.url("/missing.bin"), str(target))
    assert code == 1
    assert "550" in err
    assert not target.exists()


def test_ls_of_a_file_shows_its_one_entry(peer: Peer) -> None:
    peer.put("dir/one.txt", b"12345")
    peer.put("dir/other.txt", b"not shown")
    code, out, err = pasv_cli("ls", peer.url("/dir/one.txt"), "-v")
    assert (code, out.split()) == (0, ["one.txt"]), err
    if peer.name != "vsftpd":  # MLSD of a file is an error there; MLST answers instead
        assert "Command:  MLST /dir/one.txt" in err
    code, out, _ = pasv_cli("ls", "-l", peer.url("/dir/one.txt"))
    row = out.splitlines()[-1].split()
    assert code == 0
    assert (row[0][0], row[1], row[-1]) == ("-", "5", "one.txt")
    if peer.name != "vsftpd":  # vsftpd lists nothing (226) for a missing path
        code, out, err = pasv_cli("ls", peer.url("/dir/missing.txt"))
        assert (code, out) == (1, ""), err


def test_get_of_a_pattern_downloads_every_match(peer: Peer, tmp_path: Path) -> None:
    """Matched by the client in the directory's listing, so on any server."""
    sent = {name: os.urandom(1000 + i) for i, name in enumerate(["a.csv", "b.csv", "c.txt"])}
    for name, data in sent.items():
        peer.put(f"r/{name}", data)
    peer.put("r/.hidden.csv", b"dot")
    into = tmp_path / "into"
    into.mkdir()
    code, _, err = pasv_cli("get", peer.url("/r/*.csv"), str(into))
    assert code == 0, err
    assert {p.name: p.read_bytes() for p in into.iterdir()} == {
        "a.csv": sent["a.csv"],
        "b.csv": sent["b.csv"],
    }
    assert "Downloaded 2 files matching *.csv: 2001 bytes." in err
    code, _, err = pasv_cli("get", peer.url("/r/?.txt"), str(into))  # a raw "?" is the path's
    assert code == 0, err
    assert (into / "c.txt").read_bytes() == sent["c.txt"]
    code, out, _ = pasv_cli("ls", peer.url("/r/[ab].*"))
    assert (code, out.split()) == (0, ["a.csv", "b.csv"])
    code, _, err = pasv_cli("get", peer.url("/r/*.pdf"), str(into))
    assert code == 1 and "no file in /r matches *.pdf" in err
    code, _, err = pasv_cli("get", peer.url("/r/*.csv"), str(into / "a.csv"))
    assert code == 2 and "is not a directory" in err


def test_put_of_several_files_into_a_directory(peer: Peer, tmp_path: Path) -> None:
    """As a shell expands ``pasv put *.csv ftp://host/in/``: each file, resumed and verified."""
    files = []
    for i, name in enumerate(["a.csv", "b.csv", "c.csv"]):
        files.append(tmp_path / name)
        files[-1].write_bytes(os.urandom(5000 + i))
    peer.put("in/b.csv", files[1].read_bytes()[:1234])  # a partial upload to resume
    code, _, err = pasv_cli("put", *map(str, files), peer.url("/in/"))
    assert code == 0, err
    assert {p.name: p.read_bytes() for p in (peer.root / "in").iterdir()} == {
        p.name: p.read_bytes() for p in files
    }
    assert "resumed at byte 1234" in err
    code, _, err = pasv_cli("put", *map(str, files[:2]), peer.url("/in"))
    assert code == 2 and "end the URL with /" in err
