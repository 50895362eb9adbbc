"""The batch job on AWS Glue Spark (Glue 5.0: Spark 3.5, Python 3.11), or plain pyspark.

The same contract, cleaning rules, lake layout and manifest as the single-process job
(`ingestion.batch.job`), whose own functions it calls: Spark only spreads the work.

1. Plan (driver): one sequential pass over the decompressed file cuts it into the very
   blocks the single-process reader parses (CHUNK_BYTES, cut after the last newline) and
   notes each block's offset, the number of its first line (the header is line 1) and the
   encoding the reader is in when it gets there (UTF-8 until a block that is not). A plain
   CSV is then read in place by offset; a gzip file, which cannot be split, is inflated
   block by block into a staging folder as the plan reads it.
2. Clean (executors, `mapInArrow`, one task per block): a task reads its block's bytes and
   hands them to the reader's own block parser and then to `clean_batch`, so line numbers,
   quoting, malformed lines and every rule are the single job's, written once. Spark never
   splits the text itself, so no line can be numbered or cut differently. Landed rows are
   staged as Parquet per (block, year, month), quarantined rows per block.
3. Merge (executors): a partition's staged files are appended in block order, which is
   file order, to `year=YYYY/month=MM/<source>.parquet`, the name the single job writes;
   the quarantine likewise to `<source>.parquet` in its zone.
4. Manifest (driver): the tasks' counts; rows in = landed + quarantined, or the job fails.

A re-run writes the same names, so it replaces its own output (and the single job's, and
the other way round) and drops a partition the source no longer has. Workbooks (.xlsx,
at most 1,048,576 rows) are for the single-process job.

    spark-submit ingestion/batch/spark_job.py --source raw/online_retail/x.csv.gz --lake-root s3://...
    python -m ingestion.batch.spark_job --source ... --lake-root lake --master 'local[2]'
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.batch.job import (
    LANDED_PARQUET_OPTIONS,
    BatchResult,
    PartitionedWriter,
    clean_chunk,
    partition_key,
    remove_stale_output,
)
from ingestion.batch.sources import CHUNK_BYTES, ReadReport, decode_block, header_map, parse_block
from ingestion.contract.schema import INVOICE_LINE_SCHEMA, QUARANTINE_SCHEMA
from ingestion.errors import OnlineRetailError
from ingestion.lake import MANIFEST_ZONE, PARQUET_OPTIONS, QUARANTINE_ZONE, Lake, output_name

try:  # AWS Glue's runtime; absent under plain pyspark and in the tests
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
except ImportError:
    GlueContext = Job = getResolvedOptions = None

log = logging.getLogger(__name__)

BLOCK_SCHEMA = (
    "number long, root string, key string, offset long, length long, "
    "first_line long, encoding string"
)
STATS_SCHEMA = (
    "number long, records long, landed long, quarantined long, encoding string, "
    "date_formats string, partitions string, reasons string"
)


@dataclass(frozen=True)
class Block:
    """Line-aligned bytes of the decompressed file: where to read them, and their lines."""

    number: int
    root: str  # the lake (a plain CSV read in place) or the staging folder (an inflated gzip)
    key: str
    offset: int
    length: int  # the last block counts the newline the file may lack
    first_line: int
    encoding: str  # the single reader's encoding on reaching this block


@dataclass(frozen=True)
class Plan:
    blocks: list[Block]
    header: list[str]
    positions: list[int]
    compression: str
    encoding: str  # after the last block


@dataclass(frozen=True)
class _Job:
    """What every task needs besides its block (pickled into the task closures)."""

    lake_root: str
    staging_root: str
    name: str
    source_file: str
    ingested_at: datetime
    header: list[str]
    positions: list[int]


def plan_blocks(lake: Lake, source_file: str, staging: Lake, block_bytes: int) -> Plan:
    """Cut the file as `sources._read_csv` does (the same loop), recording, not parsing."""
    if not source_file.lower().endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        raise OnlineRetailError(
            f"{source_file}: the Spark job reads .csv or .csv.gz; "
            "a workbook is for the single-process job (ingestion.batch.job)"
        )
    gzipped = source_file.lower().endswith(".gz")
    report = ReadReport()
    blocks: list[Block] = []
    header: list[str] | None = None
    positions: list[int] = []
    encoding, next_line, position, leftover = "utf-8", 1, 0, b""
    with lake.filesystem.open_input_stream(
        lake.path(source_file), compression="gzip" if gzipped else None
    ) as stream:
        while True:
            block = stream.read(block_bytes)
            data = leftover + block
            if not data:
                break
            if block:  # keep the partial last line for the next block
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    leftover = data
                    continue
                data, leftover = data[:cut], data[cut:]
            else:
                leftover = b""
                data += b"" if data.endswith(b"\n") else b"\n"
            if header is None:
                first, data = data.split(b"\n", 1)
                header_text, encoding = decode_block(first.rstrip(b"\r"), encoding)
                if not header_text.strip():
                    raise OnlineRetailError(f"{source_file}: line 1: blank header")
                header = next(csv.reader([header_text]))
                positions = header_map(header, source_file, report)
                next_line, position = 2, len(first) + 1
                if not data:
                    continue
            number = len(blocks)
            if gzipped:
                key = f"inflated/block-{number:05d}.csv"
                staging.write_bytes(key, data)
                blocks.append(Block(number, staging.root, key, 0, len(data), next_line, encoding))
            else:
                blocks.append(
                    Block(number, lake.root, source_file, position, len(data), next_line, encoding)
                )
            if encoding == "utf-8":  # Latin-1 from the first block that is not UTF-8 on
                encoding = decode_block(data, encoding)[1]
            next_line += data.count(b"\n")
            position += len(data)
    if header is None:
        raise OnlineRetailError(f"{source_file}: empty file, expected a header line")
    return Plan(blocks, header, positions, "gzip" if gzipped else "none", encoding)


def _read_block(block: Block) -> bytes:
    lake = Lake(block.root)
    with lake.filesystem.open_input_file(lake.path(block.key)) as f:
        data = f.read_at(block.length, block.offset)
    return data if data.endswith(b"\n") else data + b"\n"  # the file's unterminated last line


def clean_block(block: Block, job: _Job) -> dict[str, object]:
    """One block through the single job's parser and rules; staged; its counts returned."""
    chunk, encoding = parse_block(
        _read_block(block), block.first_line, job.header, job.positions, block.encoding
    )
    result = clean_chunk(chunk, job.source_file, job.ingested_at)
    quarantined = result.quarantined
    staged = Lake(f"{job.staging_root.rstrip('/')}/block-{block.number:05d}")  # lake layout
    transformed = PartitionedWriter(staged, job.name)
    transformed.write(result.landed)
    transformed.close()
    if quarantined.num_rows:
        sink = pa.BufferOutputStream()
        pq.write_table(quarantined, sink, **PARQUET_OPTIONS)
        staged.write_bytes(f"{QUARANTINE_ZONE}/{job.name}.parquet", sink.getvalue().to_pybytes())
    reasons: dict[str, int] = {}
    for field in quarantined["field"].to_pylist():
        reasons[field] = reasons.get(field, 0) + 1
    return {
        "number": block.number,
        "records": chunk.lines.num_rows + len(chunk.malformed),
        "landed": result.landed.num_rows,
        "quarantined": quarantined.num_rows,
        "encoding": encoding,
        "date_formats": json.dumps(result.date_formats),
        "partitions": json.dumps({f"{y:04d}-{m:02d}": n for (y, m), n in transformed.rows.items()}),
        "reasons": json.dumps(reasons),
    }


def _clean_batches(batches: Iterator[pa.RecordBatch], job: _Job) -> Iterator[pa.RecordBatch]:
    """`mapInArrow`'s function: block specs in, one row of counts per block out."""
    for batch in batches:
        rows = [clean_block(Block(**spec), job) for spec in batch.to_pylist()]
        if rows:
            yield pa.RecordBatch.from_pylist(rows)


def merge_output(target: tuple[str, list[str]], job: _Job) -> tuple[str, int]:
    """Append staged files (keys under the staging root), in order, to one lake file."""
    key, staged_keys = target
    lake, staging = Lake(job.lake_root), Lake(job.staging_root)
    quarantine = key.startswith(QUARANTINE_ZONE)
    schema = QUARANTINE_SCHEMA if quarantine else INVOICE_LINE_SCHEMA
    options = PARQUET_OPTIONS if quarantine else LANDED_PARQUET_OPTIONS  # as the single job's
    lake.ensure_dir(key.rsplit("/", 1)[0])
    rows = 0
    with pq.ParquetWriter(lake.path(key), schema, filesystem=lake.filesystem, **options) as writer:
        for staged_key in staged_keys:
            table = pq.read_table(staging.path(staged_key), filesystem=staging.filesystem)
            writer.write_table(table.cast(schema))
            rows += table.num_rows
    return key, rows


def run_spark_job(
    spark,  # pyspark.sql.SparkSession (untyped: pyspark is imported only where it runs)
    source_file: str,
    lake: Lake,
    *,
    staging_root: str | None = None,
    ingested_at: datetime | None = None,
    block_bytes: int = CHUNK_BYTES,
) -> BatchResult:
    """Clean `source_file` (a key in the lake's raw zone) with Spark; the manifest is
    the single job's. `block_bytes` other than the reader's CHUNK_BYTES is for tests."""
    started_at = datetime.now(UTC)
    ingested_at = ingested_at or started_at
    name = output_name(source_file)
    staging = Lake(f"{(staging_root or lake.uri('tmp/spark_job')).rstrip('/')}/{name}")
    _clear(staging)  # what a failed run may have left
    plan = plan_blocks(lake, source_file, staging, block_bytes)
    job = _Job(lake.root, staging.root, name, source_file, ingested_at, plan.header, plan.positions)
    sc, stats = spark.sparkContext, []
    if plan.blocks:  # one task per block: a block is the unit the reader parses whole
        blocks = [asdict(b) for b in plan.blocks]
        specs = spark.createDataFrame(sc.parallelize(blocks, len(blocks)), BLOCK_SCHEMA)
        counts = specs.mapInArrow(functools.partial(_clean_batches, job=job), STATS_SCHEMA)
        stats = sorted((row.asDict() for row in counts.collect()), key=lambda s: s["number"])
    for row, following in zip(stats, plan.blocks[1:], strict=False):
        if row["encoding"] != following.encoding:  # the plan and the reader disagree
            raise RuntimeError(f"block {row['number']} ends in {row['encoding']}, not as planned")
    encoding = stats[-1]["encoding"] if stats else plan.encoding

    totals: dict[str, dict[str, int]] = {"partitions": {}, "date_formats": {}, "reasons": {}}
    quarantine_key = f"{QUARANTINE_ZONE}/{name}.parquet"
    staged: dict[str, list[str]] = {quarantine_key: []}  # lake file <- staged files, in order
    expected = {quarantine_key: 0}  # lake file -> rows
    for row in stats:
        block_dir = f"block-{row['number']:05d}"
        for counts, total in totals.items():
            for k, n in json.loads(row[counts]).items():
                total[k] = total.get(k, 0) + n
        for month, n in json.loads(row["partitions"]).items():
            key = f"{partition_key(*(int(x) for x in month.split('-')))}/{name}.parquet"
            staged.setdefault(key, []).append(f"{block_dir}/{key}")
            expected[key] = expected.get(key, 0) + n
        if row["quarantined"]:
            staged[quarantine_key].append(f"{block_dir}/{quarantine_key}")
            expected[quarantine_key] += row["quarantined"]
    # Few tasks, not one per file: on a small file a task costs more than its appends.
    targets = sorted(staged.items())
    merge = functools.partial(merge_output, job=job)
    written = sc.parallelize(targets, min(len(targets), sc.defaultParallelism)).map(merge)
    if (rows_written := dict(written.collect())) != expected:
        raise OnlineRetailError(f"{source_file}: rows written {rows_written} != {expected}")
    output_files = sorted(k for k in staged if k != quarantine_key)
    remove_stale_output(lake, name, output_files)
    _clear(staging)

    rows_in = sum(s["records"] for s in stats)
    landed = sum(s["landed"] for s in stats)
    quarantined = sum(s["quarantined"] for s in stats)
    if rows_in != landed + quarantined:
        message = f"read {rows_in} records but landed {landed} and quarantined {quarantined}"
        raise OnlineRetailError(f"{source_file}: {message}")
    result = BatchResult(
        source_file=source_file,
        rows_in=rows_in,
        rows_landed=landed,
        rows_quarantined=quarantined,
        file_format="CSV",
        compression=plan.compression,
        encoding=encoding,
        date_formats=totals["date_formats"],
        partitions=dict(sorted(totals["partitions"].items())),
        quarantine_reasons=totals["reasons"],
        started_at=started_at.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        ingested_at=ingested_at.isoformat(),
        output_files=[*output_files, quarantine_key],
    )
    lake.write_bytes(f"{MANIFEST_ZONE}/{name}.json", result.to_json().encode())
    log.info("%s: %d blocks, %s", source_file, len(plan.blocks), result.to_json())
    return result


def _clear(staging: Lake) -> None:
    staging.filesystem.delete_dir_contents(staging.base, missing_dir_ok=True)


def local_session(master: str | None = None, **conf: str):
    """A SparkSession for a laptop or a test, its Python workers on this interpreter;
    `master` defaults to spark-submit's, else local[*]."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("online-retail-batch")
    if master:
        builder = builder.master(master)
    local = {  # the Python workers do the work: a JVM with C1 only starts much sooner
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    for key, value in {**local, **conf}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _arguments(argv: list[str]) -> dict[str, str | None]:
    if getResolvedOptions is not None and argv is sys.argv:  # on Glue: --JOB_NAME, --TempDir
        wanted = ["JOB_NAME", "source", "lake_root"]
        args = getResolvedOptions(argv, wanted + (["TempDir"] if "--TempDir" in argv else []))
        return {
            "job_name": args["JOB_NAME"],
            "source": args["source"],
            "lake_root": args["lake_root"],
            "temp_dir": args.get("TempDir"),
            "master": None,
        }
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="key of the raw file in the lake")
    parser.add_argument("--lake-root", "--lake_root", "--lake", dest="lake_root", required=True)
    parser.add_argument("--temp-dir", "--TempDir", dest="temp_dir", help="staging (a URI)")
    parser.add_argument("--master", help="e.g. local[2]; default: spark-submit's or local[*]")
    return {**vars(parser.parse_args(argv[1:])), "job_name": None}


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv if argv is None else ["spark_job", *argv])
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    glue_job = None
    if args["job_name"] and GlueContext is not None:
        from pyspark.context import SparkContext

        glue_context = GlueContext(SparkContext.getOrCreate())
        spark = glue_context.spark_session
        glue_job = Job(glue_context)
        glue_job.init(args["job_name"], {"JOB_NAME": args["job_name"]})
    else:
        spark = local_session(args["master"])
    lake_root, temp_dir = str(args["lake_root"]), args["temp_dir"]
    staging = f"{temp_dir.rstrip('/')}/spark_job" if temp_dir else None
    result = run_spark_job(spark, str(args["source"]), Lake(lake_root), staging_root=staging)
    print(result.to_json())
    if glue_job is not None:
        glue_job.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
