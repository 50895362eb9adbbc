"""Throughput of the stream handlers' own work on a 500-record Kinesis batch, per core.

    .venv/bin/python bench/bench_stream_handlers.py              # 500-record batches
    .venv/bin/python bench/bench_stream_handlers.py --repeat 50 --batch 500

What is timed, per batch of real dataset lines in the envelope POST /invoices writes:

- firehose: the Firehose transformation, whole: decode base64, parse the JSON records,
            apply the shared cleaning rules, encode the cleaned JSON lines and base64,
            build the recordId/result/partition-key answer (no quarantine write: the
            batch is clean, as almost every batch is);
- consumer: the Kinesis consumer up to its DynamoDB calls: decode, clean, group the
            lines into items and serialise them as DynamoDB items (the calls
            themselves are network, not the handler's work).

Each is timed as CPU seconds of this process (one core; the work is single-threaded)
and wall-clock seconds, best of `--repeat` runs after one warm-up, and reported as
records per second beside Kinesis' per-shard ingress limit of 1,000 records/s.
"""

from __future__ import annotations

import argparse
import gzip
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamEvent,
)

from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.stream.handlers.firehose_transform import transform
from ingestion.stream.handlers.kinesis_consumer import stream_name_of
from ingestion.stream.items import line_writes
from ingestion.stream.records import (
    RecordOrigin,
    StreamRecord,
    clean_records,
    decode_record,
)
from local_stack.events import (
    KinesisRecordIn,
    firehose_event,
    kinesis_event,
)

DATASET = Path(__file__).resolve().parents[1] / "data" / "online_retail.csv.gz"
SHARD_INGRESS_RECORDS_PER_SECOND = 1_000


def batch_records(size: int) -> list[KinesisRecordIn]:
    import csv

    with gzip.open(DATASET, "rt", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = [next(reader) for _ in range(size)]
    at = datetime(2011, 12, 9, 12, tzinfo=UTC)
    return [
        KinesisRecordIn(
            data=StreamRecord(
                f"raw/online_retail/online_retail.csv.gz:{i + 2}",
                "raw/online_retail/stream/2011/12/09/bench.csv",
                i + 2,
                "2011-12-09T12:00:00.000000Z",
                {c: row[c] for c in SOURCE_COLUMNS},
            ).encode(),
            partition_key=row["InvoiceNo"],
            sequence_number=str(49_000_000_000 + i),
            arrived_at=at,
            shard_id="shardId-000000000000",
        )
        for i, row in enumerate(rows)
    ]


def consumer_work(event: dict) -> int:
    """The consumer's handler work without its DynamoDB round trips."""
    records = list(KinesisStreamEvent(event).records)
    decoded = []
    for record in records:
        origin = RecordOrigin(
            stream_name_of(record.event_source_arn),
            record.event_id.rsplit(":", 1)[0],
            record.kinesis.sequence_number,
            datetime.fromtimestamp(record.kinesis.approximate_arrival_timestamp, tz=UTC),
        )
        decoded.append(decode_record(record.kinesis.data_as_bytes(), origin))
    cleaned = clean_records(decoded)
    writes = line_writes(cleaned.landed, cleaned.landed_positions)
    items = [w.item for w in writes]
    return len(items)


def firehose_work(event: dict) -> int:
    response, ok, failed = transform(KinesisFirehoseEvent(event), None)
    assert ok == len(event["records"]) and not failed
    return len(response["records"])


def measure(work: Callable[[dict], int], event: dict, repeat: int) -> tuple[float, float]:
    work(event)  # warm-up: imports, first Arrow kernels
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        work(event)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500, help="records per batch")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)

    records = batch_records(args.batch)
    events = {
        "firehose": firehose_event(
            [(f"r{i}", r) for i, r in enumerate(records)], "bench", "online-retail-invoice-lines"
        ),
        "consumer": kinesis_event(records, "online-retail-invoice-lines", "bench"),
    }
    work = {"firehose": firehose_work, "consumer": consumer_work}
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, batch of {args.batch} real lines, best of {args.repeat}"
    )
    print(f"  {'handler':<10}{'records/s (CPU)':>17}{'records/s (wall)':>18}{'x shard limit':>15}")
    for name, event in events.items():
        cpu, wall = measure(work[name], event, args.repeat)
        per_cpu, per_wall = args.batch / cpu, args.batch / wall
        print(
            f"  {name:<10}{per_cpu:>17,.0f}{per_wall:>18,.0f}"
            f"{per_cpu / SHARD_INGRESS_RECORDS_PER_SECOND:>14,.1f}x"
        )
    print(f"  (Kinesis ingress limit per shard: {SHARD_INGRESS_RECORDS_PER_SECOND:,} records/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
