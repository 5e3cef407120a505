"""pasv mirror: a tree down (URL LOCALDIR) or up (LOCALDIR URL), only what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pasv.cli.client.options import Common, client_command
from pasv.cli.client.progress import progress_bar
from pasv.cli.client.run import Exit, err, execute, fail, prepare, shown, url_argument
from pasv.client import FtpClient, FtpClientError
from pasv.client.mirror import MirrorPlan, local_tree, plan, remote_tree
from pasv.client.mirror_hash import NO_HASH, compare_hashes
from pasv.client.mirror_run import run_plan

__all__ = ["register"]


def _is_url(text: str) -> bool:
    return text.lower().startswith(("ftp://", "ftps://"))


def _describe(the_plan: MirrorPlan) -> list[str]:
    verb = "put" if the_plan.direction == "upload" else "get"
    lines = ["mkdir (root)"] if the_plan.create_root else []
    lines += [f"delete {rel}" for rel, _ in the_plan.deletes]
    lines += [f"mkdir {rel}" for rel in the_plan.mkdirs]
    lines += [f"{verb} {rel} ({entry.size} bytes)" for rel, entry in the_plan.copies]
    return lines


def register(app: typer.Typer) -> None:
    """Add ``mirror`` to ``app``."""

    @client_command(app, "mirror")
    def mirror(
        common: Common,
        source: Annotated[str, typer.Argument(help="URL to download, or local directory.")],
        dest: Annotated[str, typer.Argument(help="Local directory, or URL to upload to.")],
        delete: Annotated[
            bool, typer.Option("--delete", help="Delete what the source does not have.")
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", "-n", help="Only say what would be done.")
        ] = False,
        jobs: Annotated[
            int, typer.Option("--jobs", "-j", min=1, max=16, help="Parallel connections.")
        ] = 1,
        checksum: Annotated[
            bool,
            typer.Option(
                "--checksum", "-c", help="Compare files of the same size by hash, not by time."
            ),
        ] = False,
    ) -> None:
        """Mirror a tree: `mirror URL LOCALDIR` downloads, `mirror LOCALDIR URL` uploads."""
        if _is_url(source) == _is_url(dest):
            fail("give one ftp:// URL and one local directory", Exit.USAGE)
        upload = _is_url(dest)
        url = url_argument(dest if upload else source)
        local = Path(source if upload else dest)
        if upload and not local.is_dir():
            fail(f"{local} is not a directory", Exit.USAGE)
        prepared = prepare(url, common)

        def note(text: str) -> None:
            if not common.quiet:
                err.print(f"Mirror: {shown(text, lines=True)}", markup=False)

        async def run(client: FtpClient) -> MirrorPlan:
            remote = await remote_tree(client, url.path, note)
            here = local_tree(local)
            if remote is None and not upload:
                raise FtpClientError(f"{url.path}: no such directory on the server")
            source, target = (here, remote or {}) if upload else (remote or {}, here)
            same_hash = None
            if checksum:
                same_hash = await compare_hashes(client, url.path, local, source, target)
                if same_hash is None and not common.quiet:
                    err.print(f"Mirror: {NO_HASH}", markup=False)
            the_plan = plan(
                "upload" if upload else "download", source, target, delete=delete,
                tolerance=2.0 if client.uses_mlsd else 60.0, same_hash=same_hash,
            )  # fmt: skip
            the_plan.create_root = upload and remote is None
            if dry_run:
                return the_plan
            with progress_bar("mirror", the_plan.bytes, common.quiet) as advance:
                await run_plan(
                    the_plan, url.path, local, client, prepared.connect, jobs=jobs,
                    progress=advance, policy=prepared.policy, on_retry=prepared.on_retry,
                    note=note,
                )  # fmt: skip
            return the_plan

        done = execute(url, common, run, prepared)
        if dry_run:
            for line in _describe(done):
                typer.echo(line)
        if not common.quiet:
            _summary(done, dry_run)
        if done.failed:  # each was said as it happened; the run as a whole did not succeed
            fail(
                f"{len(done.failed)} of {len(done.copies)} files could not be copied"
                f" (the first: {done.failed[0][0]}: {done.failed[0][1]})",
                Exit.CONNECTION if done.stalled else Exit.REFUSED,
            )


def _summary(done: MirrorPlan, dry_run: bool) -> None:
    if done.empty:
        err.print("Mirror: nothing to do; the trees are the same.", markup=False)
        return
    would = "would copy" if dry_run else "copied"
    left = {*done.skipped, *(rel for rel, _ in done.failed)}
    copied = [entry.size for rel, entry in done.copies if rel not in left]
    err.print(
        f"Mirror: {would} {len(copied)} files ({sum(copied)} bytes), "
        f"{len(done.mkdirs)} directories, {len(done.deletes)} deletions.",
        markup=False,
    )
