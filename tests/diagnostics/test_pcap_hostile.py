"""Captures made to hurt the reader: names that collide with folders or the checksum file, names
too long for a file system, offsets and sequence jumps far beyond what the capture holds."""

from __future__ import annotations

from pathlib import Path

from pasv.diagnostics.pcap.files import rebuild_files
from pasv.diagnostics.pcap.report import Analysis, extract
from pasv.diagnostics.pcap.sessions import Session, Transfer
from pasv.diagnostics.pcap.tcp import Connection, Stream
from pasv.protocol.replies import Reply

DONE = Reply(226, ("Transfer complete.",))


def stream(data: bytes) -> Stream:
    return Stream(data, (), True, False, (0,), (0.0,))


def stored(*names: str) -> Analysis:
    """One session that STORed each name, with the name's bytes as content."""
    transfers = [
        Transfer(float(i), "STOR", name, name, "I", 0, None, [DONE], stream(name.encode()))
        for i, name in enumerate(names, 1)
    ]
    conn = Connection(
        ("127.0.0.1", 5000), ("127.0.0.1", 21), 0.0, 9.0, True, stream(b""), stream(b"")
    )
    sessions = [Session(conn, [], transfers=transfers)]
    return Analysis(sessions, rebuild_files(sessions), [])


def written(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "SHA256SUMS"
    }


def test_a_file_and_a_folder_of_one_name_are_both_written(tmp_path: Path) -> None:
    extract(stored("/a", "/a/b", "/c/d", "/c"), tmp_path)
    files = written(tmp_path)
    assert files == {"a": b"/a", "a_b": b"/a/b", "c/d": b"/c/d", "c~2": b"/c"}
    listed = (tmp_path / "SHA256SUMS").read_text(encoding="utf-8").split()
    assert sorted(listed[1::2]) == sorted(files)


def test_a_file_named_like_the_checksum_list_does_not_replace_it(tmp_path: Path) -> None:
    extract(stored("/SHA256SUMS", "/x"), tmp_path)
    assert written(tmp_path) == {"SHA256SUMS~2": b"/SHA256SUMS", "x": b"/x"}
    sums = (tmp_path / "SHA256SUMS").read_text(encoding="utf-8")
    assert sums.count("\n") == 2 and "SHA256SUMS~2" in sums


def test_a_name_longer_than_a_file_system_allows_is_shortened(tmp_path: Path) -> None:
    long = "/" + "x" * 300 + "/" + "名" * 200
    extract(stored(long, "/../../escape"), tmp_path)
    files = written(tmp_path)
    assert files["escape"] == b"/../../escape"
    [(name, content)] = [(n, c) for n, c in files.items() if n != "escape"]
    assert content == long.encode()
    assert all(len(part.encode()) <= 255 for part in Path(name).parts)
    assert not (tmp_path.parent / "escape").exists()
