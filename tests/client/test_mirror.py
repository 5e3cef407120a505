"""mirror: a 300-file tree with UTF-8 names goes up and comes back; a second run copies nothing."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client.mirror import Entry, plan
from tests.client.fakes import HostileListing
from tests.client.peers import Peer

runner = CliRunner()
DIRS = ["", "données", "données/été", "日本語", "日本語/子", "with space", "Ωmega", "a/b/c"]


def make_tree(root: Path, count: int = 300) -> None:
    for i in range(count):
        folder = root / DIRS[i % len(DIRS)]
        folder.mkdir(parents=True, exist_ok=True)
        name = f"fïle-{i:03d}-{'ü' * (i % 3)}名.txt" if i % 5 else f"plain {i}.bin"
        (folder / name).write_bytes(os.urandom(i * 37 % 5000))  # i = 0 makes an empty file


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def mirror(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["mirror", *args, "--retries", "0"], catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_tree_round_trip_and_second_runs_copy_nothing(peer: Peer, tmp_path: Path) -> None:
    source = tmp_path / "source"
    make_tree(source)
    original = snapshot(source)
    assert len(original) == 300

    code, text = mirror(str(source), peer.url("/tree"), "-j", "4")
    assert code == 0, text
    assert "copied 300 files" in text
    assert snapshot(peer.root / "tree") == original
    code, text = mirror(str(source), peer.url("/tree"), "-j", "4")
    assert (code, "nothing to do" in text) == (0, True), text

    back = tmp_path / "back"
    code, text = mirror(peer.url("/tree"), str(back), "-j", "3")
    assert code == 0, text
    assert snapshot(back) == original
    code, text = mirror(peer.url("/tree"), str(back))
    assert (code, "nothing to do" in text) == (0, True), text


def test_dry_run_changes_nothing_and_delete_removes_extras(pasv: Peer, tmp_path: Path) -> None:
    source = tmp_path / "source"
    make_tree(source, count=12)
    assert mirror(str(source), pasv.url("/t"))[0] == 0
    (source / "données" / "fïle-001-ü名.txt").unlink()
    (source / "new.txt").write_bytes(b"new")

    code, text = mirror(str(source), pasv.url("/t"), "--delete", "--dry-run")
    assert code == 0
    assert "delete données/fïle-001-ü名.txt" in text and "put new.txt (3 bytes)" in text
    assert (pasv.root / "t" / "données" / "fïle-001-ü名.txt").exists()
    assert not (pasv.root / "t" / "new.txt").exists()

    code, text = mirror(str(source), pasv.url("/t"), "--delete")
    assert code == 0, text
    assert snapshot(pasv.root / "t") == snapshot(source)


def test_plan_compares_size_and_newer_time() -> None:
    source = {"d": Entry("dir"), "d/a": Entry("file", 5, 1000.0), "b": Entry("file", 3, 1000.0)}
    same = {"d": Entry("dir"), "d/a": Entry("file", 5, 1000.0), "b": Entry("file", 3, 1000.0)}
    assert plan("download", source, same).empty
    older_copy = {**same, "b": Entry("file", 3, 900.0)}
    assert [rel for rel, _ in plan("download", source, older_copy).copies] == ["b"]
    within_tolerance = {**same, "b": Entry("file", 3, 990.0)}
    assert plan("download", source, within_tolerance, tolerance=60).empty
    other_size = {**same, "d/a": Entry("file", 6, 2000.0)}
    assert [rel for rel, _ in plan("upload", source, other_size).copies] == ["d/a"]
    extra = {**same, "x": Entry("dir"), "x/y": Entry("file", 1, 1.0)}
    assert [rel for rel, _ in plan("upload", source, extra, delete=True).deletes] == ["x/y", "x"]
    assert plan("upload", source, extra).deletes == []


def _same_size_and_time(path: Path, data: bytes) -> None:
    """New content of the same length, with the modification time it had."""
    stamp = path.stat().st_mtime
    assert len(data) == path.stat().st_size
    path.write_bytes(data)
    os.utime(path, (stamp, stamp))


def test_checksum_finds_changes_that_size_and_time_miss(pasv: Peer, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "same.txt").write_bytes(b"version one")
    (source / "other.txt").write_bytes(b"untouched")
    assert mirror(str(source), pasv.url("/c"))[0] == 0
    _same_size_and_time(source / "same.txt", b"version two")
    code, text = mirror(str(source), pasv.url("/c"))
    assert (code, "nothing to do" in text) == (0, True), text  # size and time agree: missed

    code, text = mirror(str(source), pasv.url("/c"), "--checksum", "-v")
    assert code == 0, text
    assert "copied 1 files" in text and "Command:  HASH /c/same.txt" in text
    assert (pasv.root / "c" / "same.txt").read_bytes() == b"version two"
    code, text = mirror(str(source), pasv.url("/c"), "--checksum")
    assert (code, "nothing to do" in text) == (0, True), text

    back = tmp_path / "back"
    assert mirror(pasv.url("/c"), str(back))[0] == 0
    _same_size_and_time(pasv.root / "c" / "other.txt", b"touched!!")
    assert "nothing to do" in mirror(pasv.url("/c"), str(back))[1]
    code, text = mirror(pasv.url("/c"), str(back), "--checksum")
    assert (code, "copied 1 files" in text) == (0, True), text
    assert (back / "other.txt").read_bytes() == b"touched!!"


def test_checksum_without_server_hashes_falls_back_to_size_and_time(
    pyftpd: Peer, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    make_tree(source, count=6)
    code, text = mirror(str(source), pyftpd.url("/t"), "--checksum")
    assert (code, "copied 6 files" in text) == (0, True), text
    code, text = mirror(str(source), pyftpd.url("/t"), "--checksum")
    assert code == 0
    assert "offers no HASH, XSHA256 or XMD5; comparing by size and modification time" in text
    assert "nothing to do" in text


def test_plan_by_hash_ignores_times() -> None:
    source = {"a": Entry("file", 3, 1000.0), "b": Entry("file", 3, 5000.0), "c": Entry("file", 4)}
    target = {"a": Entry("file", 3, 1000.0), "b": Entry("file", 3, 1.0), "c": Entry("file", 5)}
    copies = plan("upload", source, target, same_hash={"a": False, "b": True}).copies
    assert [rel for rel, _ in copies] == ["a", "c"]  # a: other hash; b: same hash, newer


def test_names_that_are_paths_never_leave_the_target(tmp_path: Path) -> None:
    """A server listing ``../x`` or ``/abs/x`` gets neither written: each is skipped, said in
    the session log, and the plain names around them are mirrored."""
    outside = tmp_path / "outside.txt"
    absolute = tmp_path / "abs" / "planted.txt"
    absolute.parent.mkdir()
    names = ("ok.txt", "../outside.txt", str(absolute), "sub/../../outside.txt", "..", "fine.txt")
    target = tmp_path / "target" / "deep"
    target.mkdir(parents=True)
    with HostileListing(names) as server:
        url = f"ftp://u:p@127.0.0.1:{server.port}/pub"
        code, text = mirror(url, str(target), "-v")
        assert code == 0, text
        assert sorted(server.retrieved) == ["/pub/fine.txt", "/pub/ok.txt"], text
    assert sorted(p.name for p in target.iterdir()) == ["fine.txt", "ok.txt"]
    assert not outside.exists() and not (tmp_path / "target" / "outside.txt").exists()
    assert not absolute.exists()
    assert "Skipped an entry whose name is a path: '../outside.txt'" in text
    assert f"Skipped an entry whose name is a path: {str(absolute)[:80]!r}" in text


def test_a_name_with_a_carriage_return_is_skipped_not_a_traceback(tmp_path: Path) -> None:
    """No command can name ``bad\rname.txt`` (the CR would end it): the entry is skipped and
    said, and the other files are mirrored."""
    target = tmp_path / "target"
    with HostileListing(("ok.txt", "bad\rname.txt", "fine.txt")) as server:
        url = f"ftp://u:p@127.0.0.1:{server.port}/pub"
        code, text = mirror(url, str(target), "-v")
        assert code == 0, text
        assert sorted(server.retrieved) == ["/pub/fine.txt", "/pub/ok.txt"], text
    assert sorted(p.name for p in target.iterdir()) == ["fine.txt", "ok.txt"]
    assert "Skipped an entry whose name has a line break: 'bad\\rname.txt'" in text


def test_a_name_with_a_line_feed_is_skipped_not_fetched_by_its_first_part(
    tmp_path: Path,
) -> None:
    """``a\nb`` reads as an entry ``a`` and a line ``b``: mirror neither asks for ``a`` (a
    550 that ended the whole mirror) nor writes it, and copies the rest."""
    target = tmp_path / "target"
    with HostileListing(("ok.txt", "a\nb", "fine.txt")) as server:
        url = f"ftp://u:p@127.0.0.1:{server.port}/pub"
        code, text = mirror(url, str(target), "-v")
        assert code == 0, text
        assert sorted(server.retrieved) == ["/pub/fine.txt", "/pub/ok.txt"], text
    assert sorted(p.name for p in target.iterdir()) == ["fine.txt", "ok.txt"]
    assert "Skipped an entry whose name has a line break: 'a\\nb'" in text
