"""A resume continues only what cannot be stale: pasv's own part of an unchanged file."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from pasv.client import ClientOptions, FtpClient, ReplyError, get_file, put_file
from pasv.client.checkpoint import part_sidecar
from tests.client.scripted import FileServer, Session

OLD = b"date,value\n2026-01-01,1\n"
NEW = b"date,value\n2026-01-01,999\n2026-01-02,7\n"


@asynccontextmanager
async def _client(server: FileServer, said: list[str] | None = None) -> AsyncIterator[FtpClient]:
    def trace(kind: str, text: str) -> None:
        if said is not None and kind == "Status":
            said.append(text)

    async with FtpClient(ClientOptions(timeout=10, trace=trace)) as client:
        await client.connect("127.0.0.1", server.port)
        await client.login("u", "p")
        yield client


def _cut_first_retr(session: Session, arg: str) -> bool:
    """The first RETR sends 10 bytes, then 426."""
    if session.server.count("RETR") > 1:
        return False
    session.send("150 Here it comes.")
    with session.data() as sock:
        sock.sendall(session.server.files[session.path(arg)][:10])
    session.send("426 Transfer aborted.")
    return True


async def test_a_shorter_local_file_pasv_did_not_leave_is_downloaded_again(
    tmp_path: Path,
) -> None:
    local = tmp_path / "report.csv"
    local.write_bytes(OLD)  # yesterday's copy, from somewhere else
    said: list[str] = []
    with FileServer({"/report.csv": NEW}) as server:
        async with _client(server, said) as client:
            result = await get_file(client, "/report.csv", local)
    assert (result.resumed_from, local.read_bytes()) == (0, NEW)
    assert not any(line.startswith("REST") for line in server.commands)
    assert any("downloading it from the start" in line for line in said)


async def test_a_finished_download_whose_server_file_changed_is_fetched_again(
    tmp_path: Path,
) -> None:
    local = tmp_path / "report.csv"
    with FileServer({"/report.csv": OLD}) as server:
        async with _client(server) as client:
            await get_file(client, "/report.csv", local)
            assert local.stat().st_mtime == 1704164645  # the server's MDTM 20240102030405
            server.files["/report.csv"] = NEW
            server.mtimes["/report.csv"] = "20240103000000"
            result = await get_file(client, "/report.csv", local)
    assert (result.resumed_from, local.read_bytes()) == (0, NEW)


async def test_an_interrupted_download_resumes_unless_the_file_changed(tmp_path: Path) -> None:
    local = tmp_path / "report.csv"
    said: list[str] = []
    with FileServer({"/report.csv": NEW}, hooks={"RETR": _cut_first_retr}) as server:
        async with _client(server, said) as client:
            with suppress(ReplyError):
                await get_file(client, "/report.csv", local)
            assert local.read_bytes() == NEW[:10] and part_sidecar(local).exists()
            result = await get_file(client, "/report.csv", local)
            assert (result.resumed_from, local.read_bytes()) == (10, NEW)
            assert not part_sidecar(local).exists()

            local.write_bytes(NEW[:10])  # cut again, then the server's file changes
            server.files["/report.csv"] = NEW + b"2026-01-03,8\n"
            server.commands.clear()
            with suppress(ReplyError):  # the first RETR of this round is cut too
                await get_file(client, "/report.csv", local)
            server.mtimes["/report.csv"] = "20240105000000"
            said.clear()
            result = await get_file(client, "/report.csv", local)
    assert (result.resumed_from, local.read_bytes()) == (0, NEW + b"2026-01-03,8\n")
    assert any("changed on the server since the interrupted download" in s for s in said)


async def test_put_starts_again_when_the_local_file_is_newer_than_the_servers(
    tmp_path: Path,
) -> None:
    local = tmp_path / "up.csv"
    local.write_bytes(NEW)  # changed today; the server's shorter copy is from 2024
    with FileServer({"/up.csv": OLD}) as server:
        async with _client(server) as client:
            result = await put_file(client, local, "/up.csv")
    assert (result.resumed_from, server.files["/up.csv"]) == (0, NEW)


async def test_put_resumes_a_remote_part_written_after_the_local_file(tmp_path: Path) -> None:
    local = tmp_path / "up.csv"
    local.write_bytes(NEW)
    os.utime(local, (1704000000, 1704000000))  # before the server's part (20240102030405)
    with FileServer({"/up.csv": NEW[:10]}) as server:
        async with _client(server) as client:
            result = await put_file(client, local, "/up.csv")
    assert (result.resumed_from, server.files["/up.csv"]) == (10, NEW)
