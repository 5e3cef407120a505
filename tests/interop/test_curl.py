"""curl against pasv: EPSV, PASV, EPRT and PORT transfers, resumed transfers and listings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop.helpers import base_url, require, sha256_file, write_random
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

SIZE = 2 * 1024 * 1024 + 123


def curl(live: LiveServer, path: str, *args: str) -> tuple[str, list[str]]:
    """Run curl -v on ftp://host:port/path; return stdout (our -w output) and the commands sent."""
    binary = require("curl")
    command = [
        binary,
        "-sS",
        "-v",
        "--max-time",
        "30",
        "-u",
        f"{USER}:{PASSWORD}",
        *args,
        base_url(live) + path,
    ]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    log = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, f"curl exited {done.returncode}:\n{log}"
    sent = [line[2:] for line in log.splitlines() if line.startswith("> ")]
    return done.stdout.decode("utf-8", "replace"), sent


def verbs(sent: list[str]) -> list[str]:
    return [line.split(" ", 1)[0].upper() for line in sent]


def download_and_upload(live: LiveServer, tmp_path: Path, *args: str) -> list[str]:
    """Download a file and upload another with the same curl options; check both sha256s."""
    source = write_random(live.files / "down.bin", SIZE, seed=1)
    local = tmp_path / "down.bin"
    out, sent_down = curl(live, "down.bin", "-o", str(local), "-w", "%{size_download}", *args)
    assert int(out) == SIZE
    assert sha256_file(local) == source

    upload = write_random(tmp_path / "up.bin", SIZE + 7, seed=2)
    _, sent_up = curl(live, "up.bin", "-T", str(tmp_path / "up.bin"), *args)
    assert "STOR up.bin" in sent_up
    assert sha256_file(live.files / "up.bin") == upload
    return verbs(sent_down) + verbs(sent_up)


def test_curl_epsv_download_and_upload(live_any: LiveServer, tmp_path: Path) -> None:
    used = download_and_upload(live_any, tmp_path)
    assert used.count("EPSV") == 2
    assert "PASV" not in used


def test_curl_pasv_download_and_upload(live: LiveServer, tmp_path: Path) -> None:
    used = download_and_upload(live, tmp_path, "--disable-epsv")
    assert used.count("PASV") == 2
    assert "EPSV" not in used


@pytest.mark.parametrize(
    ("live_any", "verb"),
    [("127.0.0.1", "EPRT"), ("127.0.0.1", "PORT"), ("::1", "EPRT")],
    ids=["ipv4-eprt", "ipv4-port", "ipv6-eprt"],
    indirect=["live_any"],
)
def test_curl_active_download_and_upload(live_any: LiveServer, tmp_path: Path, verb: str) -> None:
    args = ["--ftp-port", live_any.host]
    if verb == "PORT":
        args.append("--disable-eprt")
    used = download_and_upload(live_any, tmp_path, *args)
    assert used.count(verb) == 2
    assert "EPSV" not in used
    assert "PASV" not in used


def test_curl_resume_download(live_any: LiveServer, tmp_path: Path) -> None:
    source = write_random(live_any.files / "big.bin", SIZE, seed=3)
    partial = 700_001
    local = tmp_path / "big.bin"
    local.write_bytes((live_any.files / "big.bin").read_bytes()[:partial])
    out, sent = curl(live_any, "big.bin", "-C", "-", "-o", str(local), "-w", "%{size_download}")
    assert f"REST {partial}" in sent
    assert int(out) == SIZE - partial  # only the missing part went over the wire
    assert sha256_file(local) == source


def test_curl_resume_upload(live_any: LiveServer, tmp_path: Path) -> None:
    local = tmp_path / "big.bin"
    source = write_random(local, SIZE, seed=4)
    partial = 1_000_003
    (live_any.files / "big.bin").write_bytes(local.read_bytes()[:partial])
    out, sent = curl(live_any, "big.bin", "-C", "-", "-T", str(local), "-w", "%{size_upload}")
    assert "SIZE big.bin" in sent
    assert int(out) == SIZE - partial
    assert sha256_file(live_any.files / "big.bin") == source


def test_curl_directory_listing(live_any: LiveServer) -> None:
    names = {"readme.txt", "数据.csv", "café au lait.txt", "-dash.txt"}
    for index, name in enumerate(sorted(names)):
        write_random(live_any.files / name, 100 + index, seed=index)
    (live_any.files / "subdir").mkdir()
    (live_any.files / "subdir" / "inner.txt").write_bytes(b"inner\n")

    listing, sent = curl(live_any, "")
    assert "LIST" in verbs(sent)
    lines = listing.splitlines()
    assert len(lines) == len(names) + 1, listing
    for name in names:
        line = next((line for line in lines if line.endswith(" " + name)), None)
        assert line is not None, f"{name} missing from LIST:\n{listing}"
        assert line.startswith("-"), line
        assert f" {(live_any.files / name).stat().st_size} " in line, line
    assert any(line.startswith("d") and line.endswith(" subdir") for line in lines), listing

    names_only, sent = curl(live_any, "", "--list-only")
    assert "NLST" in verbs(sent)
    assert set(names_only.splitlines()) == names | {"subdir"}

    inner, _ = curl(live_any, "subdir/", "--list-only")
    assert inner.splitlines() == ["inner.txt"]
