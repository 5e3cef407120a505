"""pasv ls, get, put, cat, rm, mkdir, rmdir, mv."""

from __future__ import annotations

import os
import posixpath
import stat
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pasv.cli.client.options import Common, client_command
from pasv.cli.client.progress import progress_bar
from pasv.cli.client.run import Exit, err, execute, fail, shown, url_argument
from pasv.client import FtpClient, FtpClientError, ReplyError, TransferResult, get_file, put_file
from pasv.client.lookup import list_path
from pasv.client.url import FtpUrl
from pasv.protocol.listing import FileFacts
from pasv.protocol.patterns import is_pattern, name_matcher

__all__ = ["register"]

out = Console(highlight=False, soft_wrap=True)
UrlArg = Annotated[str, typer.Argument(help="ftp://user@host[:port]/path or ftps://…")]
NoResume = Annotated[
    bool, typer.Option("--no-resume", help="Start again from byte 0 instead of resuming.")
]


def _summary(common: Common, verb: str, what: str, result: TransferResult) -> None:
    if common.quiet:
        return
    resumed = f", resumed at byte {result.resumed_from}" if result.resumed_from else ""
    checked = "" if result.verified_by == "none" else f", verified by {result.verified_by}"
    err.print(shown(f"{verb} {what}: {result.size} bytes{resumed}{checked}."), markup=False)


def _row(facts: FileFacts) -> tuple[str, str, str, str]:
    kind = {"dir": "d", "link": "l"}.get(facts.kind, "-")
    mode = kind + (stat.filemode(facts.mode)[1:] if facts.mode else "?????????")
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(facts.mtime)) if facts.mtime else ""
    size = "" if facts.kind == "dir" else str(facts.size)
    return mode, size, when, shown(facts.name) + ("/" if facts.kind == "dir" else "")


def _matching(entries: list[FileFacts], pattern: str) -> list[FileFacts]:
    """The entries ``pattern`` names, by name; an entry named like the pattern is itself."""
    literal = [e for e in entries if e.name == pattern]
    matches = name_matcher(pattern)
    return literal or sorted((e for e in entries if matches(e.name)), key=lambda e: e.name)


def _get_matching(
    common: Common, source: FtpUrl, directory: str, pattern: str, local: Path | None, fresh: bool
) -> None:
    """``get`` of a pattern: each matching file of ``directory`` into the local directory."""
    into = local or Path(".")
    if not into.is_dir():
        fail(f"{into} is not a directory; a pattern downloads into one", Exit.USAGE)

    async def run(client: FtpClient) -> list[tuple[str, Path, TransferResult]]:
        listed = await client.listdir(directory)
        # a symbolic link is fetched like a file: the server sends what it points to, or
        # refuses (a link to a directory), and then it is skipped and said
        chosen = _matching([e for e in listed if e.kind in ("file", "link")], pattern)
        done = []
        for entry in chosen:  # a retry starts again here; finished files are only verified
            remote, dest = posixpath.join(directory, entry.name), into / entry.name
            try:
                with progress_bar(entry.name, entry.size, common.quiet) as advance:
                    result = await get_file(
                        client,
                        remote,
                        dest,
                        resume=not fresh,
                        progress=advance,
                        markers=common.block,
                    )
            except ReplyError as exc:
                if entry.kind != "link" or exc.reply.code != 550:
                    raise
                why = f"a symbolic link the server does not send as a file ({exc})"
                err.print(shown(f"Skipped {remote}: {why}", lines=True), markup=False)
                continue
            done.append((remote, dest, result))
        return done

    done = execute(source, common, run)
    if not done:
        fail(f"no file in {directory} matches {pattern}", Exit.REFUSED)
    for remote, dest, result in done:
        _summary(common, "Downloaded", f"{remote} to {dest}", result)
    if not common.quiet:
        total = sum(result.size for _, _, result in done)
        err.print(f"Downloaded {len(done)} files matching {pattern}: {total} bytes.", markup=False)


def register(app: typer.Typer) -> None:
    """Add the file commands to ``app``."""

    @client_command(app, "ls")
    def ls(
        common: Common,
        url: UrlArg,
        long: Annotated[bool, typer.Option("--long", "-l", help="A table with details.")] = False,
    ) -> None:
        """List a directory (or show one file) on an FTP server; a pattern in the last part of
        the path (``*.csv``) lists the entries it matches."""
        target = url_argument(url)
        directory, pattern = posixpath.split(target.path)
        if is_pattern(pattern):
            entries = _matching(execute(target, common, lambda c: c.listdir(directory)), pattern)
            if not entries:
                fail(f"no name in {directory} matches {pattern}", Exit.REFUSED)
        else:
            entries = execute(target, common, lambda c: list_path(c, target.path))
        entries.sort(key=lambda f: (f.kind != "dir", f.name))
        if not long:
            for facts in entries:
                out.print(shown(facts.name), markup=False)
            return
        table = Table("mode", "size", "modified (UTC)", "name", box=None, pad_edge=False)
        table.columns[1].justify = "right"
        for facts in entries:
            table.add_row(*_row(facts))
        out.print(table, markup=False)

    @client_command(app, "get")
    def get(
        common: Common,
        url: UrlArg,
        local: Annotated[
            str | None, typer.Argument(help="File, or directory (made when it ends in /).")
        ] = None,
        no_resume: NoResume = False,
    ) -> None:
        """Download a file (resuming a partial one), then verify it; a pattern in the last part
        of the path (``*.csv``) downloads every file it matches into a directory."""
        source = url_argument(url)
        if local is not None and local.endswith(("/", os.sep)):  # a directory, as wget -P
            try:
                Path(local).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                fail(f"cannot make the directory {local}: {exc.strerror or exc}", Exit.REFUSED)
        into = Path(local) if local is not None else None
        directory, pattern = posixpath.split(source.path)
        if is_pattern(pattern):
            _get_matching(common, source, directory, pattern, into, no_resume)
            return
        name = posixpath.basename(source.path.rstrip("/")) or "download"
        dest = into or Path(name)
        if dest.is_dir():
            dest = dest / name

        async def run(client: FtpClient) -> TransferResult:
            size = await client.size(source.path)
            with progress_bar(name, size, common.quiet) as advance:
                return await get_file(
                    client,
                    source.path,
                    dest,
                    resume=not no_resume,
                    progress=advance,
                    markers=common.block,
                )

        _summary(common, "Downloaded", f"{source.path} to {dest}", execute(source, common, run))

    @client_command(app, "put")
    def put(
        common: Common,
        local: Annotated[list[Path], typer.Argument(help="Local file(s) to upload.", exists=True)],
        url: UrlArg,
        no_resume: NoResume = False,
    ) -> None:
        """Upload a file (resuming after what the server already has), then verify it; several
        files go into the directory the URL names (ending in /)."""
        target = url_argument(url)
        for path in local:
            if not path.is_file():
                fail(f"{path} is not a file", Exit.USAGE)
        if len(local) > 1 and not target.path.endswith("/"):
            fail(f"several files go into a directory: end the URL with / ({url}/)", Exit.USAGE)

        def remote_of(path: Path) -> str:
            return target.path + path.name if target.path.endswith("/") else target.path

        seen: dict[str, Path] = {}
        for path in local:
            other = seen.setdefault(remote_of(path), path)
            if other != path:
                fail(f"{other} and {path} would both be uploaded to {remote_of(path)}; "
                     "upload them one at a time to different names", Exit.USAGE)  # fmt: skip

        async def run(client: FtpClient) -> list[TransferResult]:
            done = []
            for path in local:  # a retry starts again here; complete files are only verified
                with progress_bar(path.name, path.stat().st_size, common.quiet) as advance:
                    done.append(
                        await put_file(
                            client,
                            path,
                            remote_of(path),
                            resume=not no_resume,
                            progress=advance,
                            markers=common.block,
                        )
                    )
            return done

        for path, result in zip(local, execute(target, common, run), strict=True):
            _summary(common, "Uploaded", f"{path} to {remote_of(path)}", result)

    @client_command(app, "cat")
    def cat(common: Common, url: UrlArg) -> None:
        """Print a remote file to standard output."""
        source = url_argument(url)
        sink = sys.stdout.buffer
        written = 0

        def write(data: bytes) -> None:
            nonlocal written
            sink.write(data)
            written += len(data)

        async def run(client: FtpClient) -> int:
            try:  # a retry goes on after the bytes already written (REST), never repeats them
                return await client.download(source.path, write, offset=written)
            except ReplyError as exc:
                if exc.command != "REST":
                    raise
                raise FtpClientError(
                    f"{source.path}: the transfer broke after {written} bytes and the server "
                    f"cannot resume it ({exc}); the output is incomplete"
                ) from None

        try:
            execute(source, common, run)
        finally:
            sink.flush()

    @client_command(app, "rm")
    def rm(common: Common, url: UrlArg) -> None:
        """Delete a remote file."""
        target = url_argument(url)
        execute(target, common, lambda c: c.delete(target.path))

    @client_command(app, "mkdir")
    def mkdir(common: Common, url: UrlArg) -> None:
        """Create a remote directory."""
        target = url_argument(url)
        execute(target, common, lambda c: c.mkdir(target.path))

    @client_command(app, "rmdir")
    def rmdir(common: Common, url: UrlArg) -> None:
        """Remove an empty remote directory."""
        target = url_argument(url)
        execute(target, common, lambda c: c.rmdir(target.path))

    @client_command(app, "mv")
    def mv(
        common: Common,
        url: UrlArg,
        new_path: Annotated[str, typer.Argument(help="New path (relative to the old one's).")],
    ) -> None:
        """Rename or move a remote file or directory."""
        target = url_argument(url)
        new = posixpath.join(posixpath.dirname(target.path.rstrip("/")), new_path)
        execute(target, common, lambda c: c.rename(target.path, new))
