"""The local lake dbt reads after a replay: the S3 lake's zones mirrored to a folder.

A lake fed only by the stream has no batch manifest and may have no quarantine file;
the dbt sources read missing zones as empty (macros/lake_source.sql), so nothing is
faked here."""

from __future__ import annotations

from collections.abc import Sequence

from ingestion.lake import QUARANTINE_ZONE, TRANSFORMED_ZONE, Lake


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
