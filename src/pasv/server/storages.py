"""The ``[storage]`` settings as the storage factory's spec (config and storage do not know
each other: they are one layer)."""

from __future__ import annotations

from pasv.config import Settings
from pasv.storage.factory import FolderSpec, StorageFactory, StorageSpec
from pasv.storage.s3client import S3Location


def storage_spec(settings: Settings) -> StorageSpec:
    cfg = settings.storage
    s3 = cfg.s3
    location = None
    if s3.bucket:
        location = S3Location(
            endpoint=s3.endpoint,
            bucket=s3.bucket,
            region=s3.region,
            access_key=s3.access_key,
            secret_key=s3.secret_key.get_secret_value() if s3.secret_key else None,
            path_style=s3.addressing == "path",
            part_size=s3.part_size_mib * 1024 * 1024,
            rename_limit=s3.rename_limit,
            connect_timeout=s3.connect_timeout,
            read_timeout=s3.read_timeout,
        )
    folders = tuple(
        FolderSpec(f.path.strip("/"), f.backend, f.location, f.users) for f in cfg.folders
    )
    return StorageSpec(cfg.backend, location, s3.prefix, folders)


def storage_factory(settings: Settings) -> StorageFactory:
    return StorageFactory(storage_spec(settings), settings.files_root)
