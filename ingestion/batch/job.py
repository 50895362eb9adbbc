"""The batch job: a raw file in the lake's raw zone -> cleaned, partitioned Parquet.

Nothing in it is Glue-specific: it runs on a laptop or in any Python 3.11 container
(`python -m ingestion.batch.job --source ... --lake s3://...`). It cannot run as a Glue
Python shell job (that runtime is Python 3.9); on Glue, `ingestion.batch.spark_job` runs
the same rules on Spark. It streams: one chunk of lines in memory at a time, one open
Parquet writer per (year, month) partition.

Every record read is either landed in the transformed zone or quarantined with its
line, field and reason; the manifest written at the end proves the count.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ingestion.batch.sources import RawChunk, ReadReport, read_source
from ingestion.contract.cleaning import CleanResult, Lineage, clean_batch, quarantine_table
from ingestion.contract.scalars import const
from ingestion.contract.schema import INVOICE_LINE_SCHEMA, QUARANTINE_SCHEMA
from ingestion.errors import OnlineRetailError
from ingestion.lake import (
    MANIFEST_ZONE,
    PARQUET_OPTIONS,
    QUARANTINE_ZONE,
    TRANSFORMED_ZONE,
    Lake,
    output_name,
)

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    source_file: str
    rows_in: int
    rows_landed: int
    rows_quarantined: int
    file_format: str
    compression: str
    encoding: str
    date_formats: dict[str, int]
    partitions: dict[str, int]  # "YYYY-MM" -> lines landed
    quarantine_reasons: dict[str, int]  # field -> lines
    started_at: str
    finished_at: str
    ingested_at: str
    output_files: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        # One object on one line: what Athena's JSON SerDe and Redshift Spectrum read.
        return json.dumps(asdict(self), sort_keys=True)


# Event ids and line numbers are unique per line: a Parquet dictionary for them would be
# built only to be dropped, and min/max statistics of event ids prune nothing.
_UNIQUE_PER_LINE = ("event_id", "source_line_number")
LANDED_PARQUET_OPTIONS = {
    **PARQUET_OPTIONS,
    "use_dictionary": [n for n in INVOICE_LINE_SCHEMA.names if n not in _UNIQUE_PER_LINE],
    "write_statistics": [n for n in INVOICE_LINE_SCHEMA.names if n != "event_id"],
}


_HUNDRED = const(100, pa.int64())
MAX_OPEN_PARTITIONS = 8  # open Parquet writers (one per month) at a time


def partition_key(year: int, month: int) -> str:
    return f"{TRANSFORMED_ZONE}/year={year:04d}/month={month:02d}"


class PartitionedWriter:
    """One Parquet file per (year, month), each written as chunks arrive.

    An open Parquet writer holds its unfinished row group (about 0.5 MiB), and a file
    at 100x spans 1,300 months, so at most `max_open` stay open, the least recently
    written closed first. Files come in date order, so a closed month rarely comes
    back; when it does, its file is reopened: its row groups copied into a new writer,
    in order, before the new lines (still one file per month, lines in file order)."""

    def __init__(self, lake: Lake, name: str, max_open: int | None = None) -> None:
        self.lake, self.name = lake, name
        self.max_open = max_open or MAX_OPEN_PARTITIONS
        self.writers: OrderedDict[tuple[int, int], pq.ParquetWriter] = OrderedDict()
        self.closed: set[tuple[int, int]] = set()
        self.rows: dict[tuple[int, int], int] = {}

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        stamps = table["invoiced_at"]
        keys = pc.add(pc.multiply(pc.year(stamps), _HUNDRED), pc.month(stamps))
        distinct = pc.unique(keys)
        for key in distinct:  # Arrow scalars: a Python int here would import pandas
            # Files are mostly in date order: most chunks fall in one partition whole.
            part = table if len(distinct) == 1 else table.filter(pc.equal(keys, key))
            month = divmod(key.as_py(), 100)
            self._writer(month).write_table(part)
            self.rows[month] = self.rows.get(month, 0) + part.num_rows

    def _path(self, month: tuple[int, int]) -> str:
        return self.lake.path(f"{partition_key(*month)}/{self.name}.parquet")

    def _writer(self, month: tuple[int, int]) -> pq.ParquetWriter:
        writer = self.writers.get(month)
        if writer is not None:
            self.writers.move_to_end(month)
            return writer
        while len(self.writers) >= self.max_open:
            oldest, stale = self.writers.popitem(last=False)
            stale.close()
            self.closed.add(oldest)
        fs, path = self.lake.filesystem, self._path(month)
        if month in self.closed:  # back again: carry the file's lines over, then append
            self.closed.remove(month)
            fs.move(path, f"{path}.reopened")
            writer = self._open(path)
            with fs.open_input_file(f"{path}.reopened") as f:
                earlier = pq.ParquetFile(f)
                for group in range(earlier.num_row_groups):
                    writer.write_table(earlier.read_row_group(group))
            fs.delete_file(f"{path}.reopened")
        else:
            self.lake.ensure_dir(partition_key(*month))
            writer = self._open(path)
        self.writers[month] = writer
        return writer

    def _open(self, path: str) -> pq.ParquetWriter:
        return pq.ParquetWriter(
            path, INVOICE_LINE_SCHEMA, filesystem=self.lake.filesystem, **LANDED_PARQUET_OPTIONS
        )

    def close(self) -> list[str]:
        for writer in self.writers.values():
            writer.close()
        months = sorted(self.closed | set(self.writers))
        self.closed |= set(self.writers)
        self.writers.clear()
        return [f"{partition_key(y, m)}/{self.name}.parquet" for y, m in months]


def remove_stale_output(lake: Lake, name: str, written: list[str]) -> None:
    """A re-run overwrites its files in place (same names); this drops the ones it did
    not write again, so a partition the source no longer has keeps no stale lines."""
    for key in lake.files_under(TRANSFORMED_ZONE):
        if key.rsplit("/", 1)[-1] == f"{name}.parquet" and key not in written:
            lake.delete(key)


def clean_chunk(chunk: RawChunk, source_file: str, ingested_at: datetime) -> CleanResult:
    """One chunk of a file through the cleaning rules. Lines the reader could not split
    into fields are quarantined after the rules' rejects, under the field `(line)`."""
    result = clean_batch(chunk.lines, Lineage.of_file(source_file, ingested_at, chunk.line_numbers))
    if not chunk.malformed:
        return result
    malformed = quarantine_table(
        event_ids=[f"{source_file}:{m.line_number}" for m in chunk.malformed],
        source_file=source_file,
        line_numbers=[m.line_number for m in chunk.malformed],
        ingested_at=ingested_at,
        fields=["(line)"] * len(chunk.malformed),
        reasons=[m.reason for m in chunk.malformed],
        raw_records=[json.dumps({"line": m.text}) for m in chunk.malformed],
    )
    return CleanResult(
        result.landed, pa.concat_tables([result.quarantined, malformed]), result.date_formats
    )


def run_batch_job(source_file: str, lake: Lake, ingested_at: datetime | None = None) -> BatchResult:
    """Clean `source_file` (a key in the lake, e.g. raw/online_retail/x.csv.gz)."""
    if lake.filesystem.get_file_info(lake.path(source_file)).type != pafs.FileType.File:
        raise OnlineRetailError(f"no file {source_file} in the lake at {lake.root}")
    started_at = datetime.now(UTC)
    ingested_at = ingested_at or started_at
    name = output_name(source_file)

    report = ReadReport()
    transformed = PartitionedWriter(lake, name)
    lake.ensure_dir(QUARANTINE_ZONE)
    quarantine_key = f"{QUARANTINE_ZONE}/{name}.parquet"
    quarantine = pq.ParquetWriter(
        lake.path(quarantine_key), QUARANTINE_SCHEMA, filesystem=lake.filesystem, **PARQUET_OPTIONS
    )
    date_formats: dict[str, int] = {}
    reasons: dict[str, int] = {}
    landed = quarantined = 0

    def write(result: CleanResult) -> None:
        transformed.write(result.landed)
        if result.quarantined.num_rows:
            quarantine.write_table(result.quarantined)

    # Three stages on three threads, each a chunk or two apart: the reader inflates and
    # parses, this thread cleans, one writer thread encodes Parquet (in order, so every
    # file keeps the source's line order). Arrow releases the GIL in all three.
    pending: deque[Future] = deque()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer") as writer:
            for chunk in read_source(lake.path(source_file), lake.filesystem, report):
                result = clean_chunk(chunk, source_file, ingested_at)
                while len(pending) >= 2:  # memory holds at most two cleaned chunks
                    pending.popleft().result()
                pending.append(writer.submit(write, result))
                for f in result.quarantined["field"].to_pylist():
                    reasons[f] = reasons.get(f, 0) + 1
                landed += result.landed.num_rows
                quarantined += result.quarantined.num_rows
                for k, v in result.date_formats.items():
                    date_formats[k] = date_formats.get(k, 0) + v
            while pending:
                pending.popleft().result()
    finally:
        quarantine.close()  # always written, even empty, so readers of the zone see the run
        output_files = transformed.close()
    remove_stale_output(lake, name, output_files)

    if report.records != landed + quarantined:  # something was lost: never expected
        raise OnlineRetailError(
            f"{source_file}: read {report.records} records but landed {landed} "
            f"and quarantined {quarantined}"
        )
    result = BatchResult(
        source_file=source_file,
        rows_in=report.records,
        rows_landed=landed,
        rows_quarantined=quarantined,
        file_format=report.file_format,
        compression=report.compression,
        encoding=report.encoding,
        date_formats=date_formats,
        partitions={f"{y:04d}-{m:02d}": n for (y, m), n in sorted(transformed.rows.items())},
        quarantine_reasons=reasons,
        started_at=started_at.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        ingested_at=ingested_at.isoformat(),
        output_files=[*output_files, quarantine_key],
    )
    lake.write_bytes(f"{MANIFEST_ZONE}/{name}.json", result.to_json().encode())
    log.debug("read %s: %s", source_file, report.describe())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="key of the raw file in the lake")
    parser.add_argument("--lake", required=True, help="lake root: a folder or s3://bucket/prefix")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run_batch_job(args.source, Lake(args.lake))
    print(result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
