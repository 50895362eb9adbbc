"""Parquet objects of the stream path, written whole (one PUT per object on S3)."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.batch_job import PARQUET_OPTIONS
from ingestion.lake import Lake


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **PARQUET_OPTIONS)
    return buffer.getvalue()


def write_parquet(lake: Lake, key: str, table: pa.Table) -> None:
    lake.write_bytes(key, parquet_bytes(table))
