"""The lake: one root URI, three zones, the same layout on a laptop and on S3.

    {root}/raw/online_retail/<file as received>
    {root}/transformed/online_retail/invoice_lines/year=YYYY/month=MM/<source>.parquet
    {root}/quarantine/online_retail/invoice_lines/<source>.parquet
    {root}/manifests/online_retail/batch/<source>.json

The root is a local folder by default or `s3://bucket/prefix` in production; pyarrow's
filesystem layer serves both (and honours AWS_ENDPOINT_URL, so moto's server works too).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pyarrow.fs as pafs

RAW_ZONE = "raw/online_retail"
TRANSFORMED_ZONE = "transformed/online_retail/invoice_lines"
QUARANTINE_ZONE = "quarantine/online_retail/invoice_lines"
MANIFEST_ZONE = "manifests/online_retail/batch"

# Parquet that Athena and Redshift Spectrum read: Snappy, microsecond timestamps. Every
# writer of the lake (the batch job, the stream Lambdas) uses these.
PARQUET_OPTIONS = {"compression": "snappy", "coerce_timestamps": "us", "version": "2.6"}


def _filesystem(root: str) -> tuple[pafs.FileSystem, str]:
    if root.startswith("s3://"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        bucket_and_prefix = root.removeprefix("s3://").rstrip("/")
        if endpoint:
            scheme, _, host = endpoint.partition("://")
            filesystem = pafs.S3FileSystem(
                endpoint_override=host,
                scheme=scheme,
                region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            )
            return filesystem, bucket_and_prefix
        filesystem, path = pafs.FileSystem.from_uri(root)
        return filesystem, path.rstrip("/")
    if "://" in root:
        filesystem, path = pafs.FileSystem.from_uri(root)
        return filesystem, path.rstrip("/")
    return pafs.LocalFileSystem(), os.path.abspath(root)


@dataclass
class Lake:
    """One lake root (a folder or s3://bucket/prefix) and the pyarrow filesystem serving it."""

    root: str

    def __post_init__(self) -> None:
        self.filesystem, self.base = _filesystem(self.root)

    def path(self, relative: str) -> str:
        """The filesystem path of a key relative to the lake root."""
        return f"{self.base}/{relative.strip('/')}"

    def uri(self, relative: str) -> str:
        """A URI for people and for engines that read the lake (dbt, DuckDB, Athena)."""
        return f"{self.root.rstrip('/')}/{relative.strip('/')}"

    def ensure_dir(self, relative: str) -> None:
        # Object stores have no folders; pyarrow would write empty marker objects there.
        if not isinstance(self.filesystem, pafs.S3FileSystem):
            self.filesystem.create_dir(self.path(relative), recursive=True)

    def files_under(self, relative: str) -> list[str]:
        """Keys (relative to the root) of every file under a folder, sorted."""
        selector = pafs.FileSelector(self.path(relative), recursive=True, allow_not_found=True)
        infos = self.filesystem.get_file_info(selector)
        prefix = self.base + "/"
        return sorted(i.path.removeprefix(prefix) for i in infos if i.type == pafs.FileType.File)

    def delete(self, relative: str) -> None:
        self.filesystem.delete_file(self.path(relative))

    def write_bytes(self, relative: str, data: bytes) -> None:
        self.ensure_dir(relative.rsplit("/", 1)[0])
        with self.filesystem.open_output_stream(self.path(relative), compression=None) as out:
            out.write(data)

    def read_bytes(self, relative: str) -> bytes:
        with self.filesystem.open_input_stream(self.path(relative), compression=None) as f:
            return f.read()


def output_name(source_file: str) -> str:
    """A deterministic file stem for a source: a re-run writes the same names and so
    replaces its earlier output instead of adding to it."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", source_file.rsplit("/", 1)[-1]).strip("_")


def land_file(local_path: str, lake: Lake) -> str:
    """Copy a file as received into the raw zone; returns its key in the lake."""
    key = f"{RAW_ZONE}/{os.path.basename(local_path)}"
    lake.ensure_dir(RAW_ZONE)
    with (
        open(local_path, "rb") as src,
        lake.filesystem.open_output_stream(lake.path(key), compression=None) as out,
    ):
        while block := src.read(8 * 1024 * 1024):
            out.write(block)
    return key
