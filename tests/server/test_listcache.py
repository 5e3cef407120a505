"""The listing cache: repeated listings are served from memory, and never outlive a change."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.protocol.listing import FileFacts
from pasv.server.listcache import ChangeCounter, ListingCache, signature
from tests.server.helpers import wait_for
from tests.support.live import LiveServer, start_server


def _sizes(live: LiveServer, ftp_lines: list[str]) -> dict[str, int]:
    return {line.split()[-1]: int(line.split()[4]) for line in ftp_lines}


def _list(ftp: object) -> dict[str, int]:
    lines: list[str] = []
    ftp.retrlines("LIST", lines.append)  # type: ignore[attr-defined]
    return {line.split()[-1]: int(line.split()[4]) for line in lines}


@pytest.fixture
def cached(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", server={"listing_cache_ttl": 0.3})
    yield server
    server.stop()


def test_repeated_list_is_served_from_the_cache(cached: LiveServer) -> None:
    (cached.files / "a.txt").write_bytes(b"1")
    ftp = cached.login()
    assert _list(ftp) == {"a.txt": 1}
    assert len(cached.server.listings._entries) == 1
    key = next(iter(cached.server.listings._entries))
    first = cached.server.listings._entries[key]
    assert _list(ftp) == {"a.txt": 1}
    assert cached.server.listings._entries[key][2] == first[2]  # same entry, not rebuilt


@pytest.mark.parametrize("action", ["stor", "appe", "dele", "rename", "mkd", "rmd"])
def test_writes_from_another_session_invalidate_at_once(cached: LiveServer, action: str) -> None:
    (cached.files / "a.txt").write_bytes(b"1")
    (cached.files / "d").mkdir()
    lister, writer = cached.login(), cached.login()
    before = _list(lister)
    if action == "stor":
        writer.storbinary("STOR a.txt", io.BytesIO(b"12345"))
    elif action == "appe":
        writer.storbinary("APPE a.txt", io.BytesIO(b"2345"))
    elif action == "dele":
        writer.delete("a.txt")
    elif action == "rename":
        writer.rename("a.txt", "b.txt")
    elif action == "mkd":
        writer.mkd("e")
    else:
        writer.rmd("d")
    after = _list(lister)
    assert after != before
    expected = {
        "stor": {"a.txt": 5, "d": after.get("d", -1)},
        "appe": {"a.txt": 5, "d": after.get("d", -1)},
        "dele": {"d": after.get("d", -1)},
        "rename": {"b.txt": 1, "d": after.get("d", -1)},
        "mkd": {"a.txt": 1, "d": after.get("d", -1), "e": after.get("e", -1)},
        "rmd": {"a.txt": 1},
    }[action]
    assert after == expected


def test_files_created_by_another_program_show_at_once(cached: LiveServer) -> None:
    ftp = cached.login()
    assert _list(ftp) == {}
    (cached.files / "new.txt").write_bytes(b"abc")  # changes the directory's own mtime
    assert _list(ftp) == {"new.txt": 3}


def test_in_place_edits_by_another_program_show_within_the_ttl(cached: LiveServer) -> None:
    target = cached.files / "a.txt"
    target.write_bytes(b"1")
    ftp = cached.login()
    assert _list(ftp) == {"a.txt": 1}
    with open(target, "ab") as handle:  # the directory's signature stays the same
        handle.write(b"23")
    wait_for(lambda: _list(ftp) == {"a.txt": 3}, timeout=5)


def test_ttl_zero_turns_the_cache_off(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", server={"listing_cache_ttl": 0})
    try:
        target = live.files / "a.txt"
        target.write_bytes(b"1")
        ftp = live.login()
        assert _list(ftp) == {"a.txt": 1}
        with open(target, "ab") as handle:
            handle.write(b"23")
        assert _list(ftp) == {"a.txt": 3}
        assert not live.server.listings._entries
    finally:
        live.stop()


def test_listing_is_not_cached_while_an_upload_runs(cached: LiveServer) -> None:
    ftp, uploader = cached.login(), cached.login()
    conn = uploader.transfercmd("STOR growing.bin")
    try:
        conn.sendall(b"x" * 1000)
        wait_for(lambda: _list(ftp).get("growing.bin") == 1000)
        conn.sendall(b"y" * 500)
        wait_for(lambda: _list(ftp).get("growing.bin") == 1500)
    finally:
        conn.close()
        uploader.voidresp()
    assert _list(ftp) == {"growing.bin": 1500}


def _facts(mtime: float) -> FileFacts:
    return FileFacts("d", "dir", 4096, mtime, 0o755, 2, unique="1g2")


def test_cache_checks_signature_counter_and_age() -> None:
    changes = ChangeCounter()
    cache = ListingCache(changes, ttl=60)
    sig = signature(_facts(1.0))
    cache.put("k", sig, changes.value, b"listing")
    assert cache.get("k", sig) == b"listing"
    assert cache.get("k", signature(_facts(2.0))) is None  # directory changed
    cache.put("k", sig, changes.value, b"listing")
    changes.bump()
    assert cache.get("k", sig) is None  # a write went through pasv
    stale = changes.value - 1
    cache.put("k", sig, stale, b"old")  # made before the last write: never served
    assert cache.get("k", sig) is None


def test_cache_stays_within_its_byte_budget() -> None:
    changes = ChangeCounter()
    cache = ListingCache(changes, ttl=60, max_bytes=4000)
    sig = signature(_facts(1.0))
    for index in range(10):
        cache.put(index, sig, changes.value, b"x" * 900)
    assert cache._bytes <= 4000
    assert cache.get(9, sig) is not None
    assert cache.get(0, sig) is None  # the oldest were evicted


def test_change_counter_is_shared_with_forked_workers() -> None:
    changes = ChangeCounter()
    before = changes.value
    pid = os.fork()
    if pid == 0:  # the child: a worker that writes
        changes.bump()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert changes.value == before + 1
