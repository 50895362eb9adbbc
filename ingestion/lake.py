"""The lake: one root URI, three zones, the same layout on a laptop and on S3.

    {root}/raw/online_retail/ingest_date=YYYY-MM-DD/<digest12>-<file name as received>
    {root}/transformed/online_retail/invoice_lines/year=YYYY/month=MM/<arrival>.parquet
    {root}/quarantine/online_retail/invoice_lines/<arrival>.parquet
    {root}/manifests/online_retail/batch/<arrival>.json

Every arrival in the raw zone has its own key: the day it landed and the first 12 hex
digits of the sha256 of its bytes before the name it came with. Two daily drops called
`daily_export.csv` are two arrivals; the same bytes landed again (that day or a later
one) are the arrival already there. The batch job names its outputs `<arrival>` after
the raw key (`output_name`), so each arrival has its own files, and re-running it
replaces them.

The root is a local folder by default or `s3://bucket/prefix` in production; pyarrow's
filesystem layer serves both (and honours AWS_ENDPOINT_URL, so moto's server works too).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

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
    """A deterministic file stem for a raw key, unique per arrival: the key below the raw
    zone with every run of other characters than letters, digits, `_` and `-` as one `_`
    (`ingest_date=2026-11-30/3f2a9c0d1e2b-daily_export.csv` ->
    `ingest_date_2026-11-30_3f2a9c0d1e2b-daily_export_csv`). A re-run of the same
    arrival writes the same names and so replaces its earlier output instead of adding
    to it; another arrival of the same file name writes names of its own."""
    relative = source_file.strip("/").removeprefix(f"{RAW_ZONE}/")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", relative).strip("_")


DIGEST_CHARS = 12  # 48 bits of sha256: a collision between two drops is not a concern
ARRIVAL_FOLDER = "ingest_date="


def file_digest(local_path: str) -> str:
    digest = hashlib.sha256()
    with open(local_path, "rb") as f:
        while block := f.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _landed_before(lake: Lake, leaf: str) -> str | None:
    """The key of an earlier arrival with these bytes and this name, if there is one."""
    selector = pafs.FileSelector(lake.path(RAW_ZONE), recursive=False, allow_not_found=True)
    days = sorted(
        info.base_name
        for info in lake.filesystem.get_file_info(selector)
        if info.type == pafs.FileType.Directory and info.base_name.startswith(ARRIVAL_FOLDER)
    )
    keys = [f"{RAW_ZONE}/{day}/{leaf}" for day in days]
    infos = lake.filesystem.get_file_info([lake.path(key) for key in keys]) if keys else []
    return next((k for k, i in zip(keys, infos, strict=True) if i.type == pafs.FileType.File), None)


def arrival_key(local_path: str, lake: Lake, received_at: datetime | None = None) -> str:
    """The raw-zone key of a file: the earlier arrival of the same bytes and name, or
    raw/online_retail/ingest_date=<day received, UTC>/<digest12>-<name>."""
    leaf = f"{file_digest(local_path)[:DIGEST_CHARS]}-{os.path.basename(local_path)}"
    if earlier := _landed_before(lake, leaf):
        return earlier
    day = (received_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")
    return f"{RAW_ZONE}/{ARRIVAL_FOLDER}{day}/{leaf}"


def land_file(local_path: str, lake: Lake, received_at: datetime | None = None) -> str:
    """Copy a file as received into the raw zone under its own arrival key (see the module
    docstring); returns the key. Landing the same bytes again copies nothing."""
    key = arrival_key(local_path, lake, received_at)
    if lake.filesystem.get_file_info(lake.path(key)).type == pafs.FileType.File:
        return key
    lake.ensure_dir(key.rsplit("/", 1)[0])
    with (
        open(local_path, "rb") as src,
        lake.filesystem.open_output_stream(lake.path(key), compression=None) as out,
    ):
        while block := src.read(8 * 1024 * 1024):
            out.write(block)
    return key
