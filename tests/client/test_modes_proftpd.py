"""pasv's client with --compress against ProFTPD's mod_deflate (unpacked from Debian's
proftpd-core by `make test`): MODE Z downloads, uploads checked; --block falls back to stream."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.client import ClientOptions, FtpClient, IntegrityError, get_file, put_file
from pasv.client.trace import Kind
from tests.client.peers import Peer
from tests.diagnostics.peer_support import UNPACKED, proftpd

pytestmark = pytest.mark.interop

TEXT = b"".join(b"%07d proftpd mod_deflate interop line\n" % i for i in range(30000))
DEFLATE = """\
ModulePath {modules}
LoadModule mod_deflate.c
AllowOverwrite on
<IfModule mod_deflate.c>
DeflateEngine on
</IfModule>
"""


@pytest.fixture
def deflating(tmp_path: Path) -> Iterator[Peer]:
    modules = UNPACKED.parent / "lib/proftpd"
    if not (modules / "mod_deflate.so").exists():
        pytest.skip("ProFTPD's mod_deflate.so is not unpacked (make test does it)")
    with proftpd(DEFLATE.format(modules=modules), tmp_path / "proftpd") as peer:
        yield peer


async def connect(peer: Peer, events: list[tuple[Kind, str]], **options: bool) -> FtpClient:
    client = FtpClient(ClientOptions(timeout=10, trace=lambda k, t: events.append((k, t)),
                                     **options))  # fmt: skip
    await client.connect(peer.host, peer.port)
    await client.login(peer.user, peer.password)
    return client


async def test_compress_download_from_proftpd_mod_deflate(deflating: Peer, tmp_path: Path) -> None:
    name = f"served-{tmp_path.name}.log"
    deflating.put(name, TEXT)
    events: list[tuple[Kind, str]] = []
    client = await connect(deflating, events, compress=True)
    assert client.mode == "Z"
    got = tmp_path / "got.log"
    result = await get_file(client, name, got)
    await client.quit()
    assert ("Command", "MODE Z") in events
    (deflating.root / name).unlink()
    assert hashlib.sha256(got.read_bytes()).digest() == hashlib.sha256(TEXT).digest()
    assert result.verified_by == "size"  # ProFTPD offers no HASH here


async def test_compress_upload_to_proftpd_is_whole_or_reported(
    deflating: Peer, tmp_path: Path
) -> None:
    """ProFTPD 1.3.8's mod_deflate (Debian 12) stores MODE Z uploads altered from the 128 KiB
    point on, for lftp as for pasv (docs/modes.md); the client's check must say so rather
    than report an upload that is not whole."""
    local = tmp_path / "up.log"
    local.write_bytes(TEXT)
    name = f"up-{tmp_path.name}.log"
    client = await connect(deflating, [], compress=True)
    try:
        await put_file(client, local, name)
    except IntegrityError as exc:
        assert "differs" in str(exc) or "bytes" in str(exc)
        assert (deflating.root / name).read_bytes() != TEXT
    else:
        assert (deflating.root / name).read_bytes() == TEXT
    finally:
        await client.quit()
        (deflating.root / name).unlink(missing_ok=True)


async def test_block_mode_refused_by_proftpd_falls_back_to_stream(
    deflating: Peer, tmp_path: Path
) -> None:
    name = f"plain-{tmp_path.name}.log"
    deflating.put(name, TEXT[:5000])
    events: list[tuple[Kind, str]] = []
    client = await connect(deflating, events, block=True)
    assert client.mode == "S"
    assert any(k == "Status" and t.startswith("MODE B refused (504") for k, t in events), events
    got = tmp_path / "plain.log"
    await get_file(client, name, got)
    await client.quit()
    (deflating.root / name).unlink()
    assert got.read_bytes() == TEXT[:5000]
