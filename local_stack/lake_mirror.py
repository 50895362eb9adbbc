"""The local lake dbt reads after a replay: the S3 lake's zones mirrored to a folder,
and (until the dbt sources tolerate empty zones) a header-only batch run for a lake
fed only by the stream."""

from __future__ import annotations

from collections.abc import Sequence

from ingestion.batch.job import run_batch_job
from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.lake import MANIFEST_ZONE, QUARANTINE_ZONE, RAW_ZONE, TRANSFORMED_ZONE, Lake


def mirror(
    source: Lake,
    target: Lake,
    zones: Sequence[str] = (TRANSFORMED_ZONE, QUARANTINE_ZONE),
) -> int:
    """Copy the zones dbt reads from the S3 lake to a local one (`aws s3 sync`, in
    effect): DuckDB reads S3 through its httpfs extension, which a laptop without a
    network cannot install. Returns the number of objects copied."""
    copied = 0
    for zone in zones:
        for key in source.files_under(zone):
            target.write_bytes(key, source.read_bytes(key))
            copied += 1
    return copied


def ensure_batch_manifest(lake: Lake) -> str | None:
    """Run the batch job over an empty file if the lake has no batch manifest yet.

    The dbt sources read the manifests and quarantine zones with globs that fail when
    they match no file, and a lake fed only by the stream has no batch manifest. An
    empty day's file through the batch job is a real run (0 lines in, 0 landed, 0
    quarantined) that gives both zones a file. Returns the file's key, if it ran."""
    if any(k.endswith(".json") for k in lake.files_under(MANIFEST_ZONE)):
        return None
    key = f"{RAW_ZONE}/empty-header-only.csv"
    lake.write_bytes(key, (",".join(SOURCE_COLUMNS) + "\n").encode())
    run_batch_job(key, lake)
    return key
