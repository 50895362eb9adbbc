"""Throughput of the stream handlers' own work on a 500-record batch, per core.

    .venv/bin/python bench/bench_stream_handlers.py              # 500-record batches
    .venv/bin/python bench/bench_stream_handlers.py --repeat 50 --batch 500

What is timed, per batch of real dataset lines in the envelope POST /invoices writes:

- firehose: the Firehose transformation, whole: decode base64, parse the JSON records,
            apply the shared cleaning rules, encode the cleaned JSON lines and base64,
            build the recordId/result/partition-key answer (no quarantine write: the
            batch is clean, as almost every batch is);
- consumer: the Kinesis consumer up to its DynamoDB calls, its own functions: decode
            (KPL split included), clean, build the DynamoDB items of the lines (the
            calls themselves are network, not the handler's work);
- floor:    the bare decoding of the same records one by one, `json.loads` of
            `base64.b64decode` of each record's data and nothing else: what a handler
            that reads records one at a time spends before any work of its own. Measured
            in the same run, so the handlers' ratio to it holds on a loaded machine,
            where the absolute figures do not.

Each is timed as CPU seconds of this process (one core; the work is single-threaded)
and wall-clock seconds, best of `--repeat` runs after one warm-up (the three take
turns, a run each per round, so load elsewhere weighs on them alike), and reported as
records per second, as a ratio to the floor, and beside Kinesis' per-shard ingress
limit of 1,000 records/s. The load average is printed before and after: CPU time is
also inflated on a busy machine (shared caches and cores), so compare within a run.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent

from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.stream.handlers.firehose_transform import transform
from ingestion.stream.handlers.kinesis_consumer import decode
from ingestion.stream.item_store import BatchOutcome, line_writes_of
from ingestion.stream.records import StreamRecord
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
    outcome = BatchOutcome()
    _, batch = decode(event["Records"], outcome)
    writes = line_writes_of(batch, outcome)
    assert len(writes) == len(event["Records"]) and not outcome.rejected
    return len(writes)


def floor_work(event: dict) -> int:
    """Only decoding each record: base64, then JSON (Firehose's event, as the consumer's
    carries the same bytes)."""
    documents = [json.loads(base64.b64decode(r["data"])) for r in event["records"]]
    return len(documents)


def firehose_work(event: dict) -> int:
    response, ok, failed = transform(KinesisFirehoseEvent(event), None)
    assert ok == len(event["records"]) and not failed
    return len(response["records"])


def measure(
    work: dict[str, Callable[[dict], int]], events: dict[str, dict], repeat: int
) -> dict[str, tuple[float, float]]:
    """Best CPU and wall seconds of each work. The works take turns, one run each per
    round, so that a burst of load elsewhere weighs on all of them alike."""
    for name, run in work.items():
        run(events[name])  # warm-up: imports, first Arrow kernels
    best = {name: (float("inf"), float("inf")) for name in work}
    for _ in range(repeat):
        for name, run in work.items():
            cpu, wall = time.process_time(), time.perf_counter()
            run(events[name])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            best[name] = (min(best[name][0], cpu), min(best[name][1], wall))
    return best


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500, help="records per batch")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)

    records = batch_records(args.batch)
    firehose = firehose_event(
        [(f"r{i}", r) for i, r in enumerate(records)], "bench", "online-retail-invoice-lines"
    )
    events = {
        "floor": firehose,  # first: the others' ratio is to it
        "firehose": firehose,
        "consumer": kinesis_event(records, "online-retail-invoice-lines", "bench"),
    }
    work = {"floor": floor_work, "firehose": firehose_work, "consumer": consumer_work}
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, batch of {args.batch} real lines, best of {args.repeat}, "
        f"load average {_load()}"
    )
    print(
        f"  {'handler':<10}{'records/s (CPU)':>17}{'records/s (wall)':>18}"
        f"{'x floor (CPU)':>15}{'x shard limit':>15}"
    )
    best = measure(work, events, args.repeat)
    floor = args.batch / best["floor"][0]
    for name, (cpu, wall) in best.items():
        per_cpu, per_wall = args.batch / cpu, args.batch / wall
        print(
            f"  {name:<10}{per_cpu:>17,.0f}{per_wall:>18,.0f}{per_cpu / floor:>14,.2f}x"
            f"{per_cpu / SHARD_INGRESS_RECORDS_PER_SECOND:>14,.1f}x"
        )
    print(f"  load average after: {_load()}")
    print(f"  (Kinesis ingress limit per shard: {SHARD_INGRESS_RECORDS_PER_SECOND:,} records/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
