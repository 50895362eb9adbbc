"""The whole stream path on moto's server with 4,000 real lines, against the batch path.

One replay feeds every test of the module: the first 4,000 lines of the dataset (with
cancellations, lines without a customer and the data's own invalid lines) plus
malformed lines injected here, sent through POST /invoices as CSV bodies, consumed by
the Kinesis -> DynamoDB Lambda and delivered by Firehose (the local runner) to S3.
The batch job cleans the same lines into a second lake; dbt builds both.
"""

from __future__ import annotations

import csv
import gzip
import io
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support import DBT, dbt_env

from ingestion.batch.job import run_batch_job
from ingestion.lake import QUARANTINE_ZONE, TRANSFORMED_ZONE, Lake, land_file
from ingestion.stream import settings
from local_stack.csv_bodies import send_lines
from local_stack.dbt_build import fact_rows_for, mart_tables
from local_stack.fixtures import put_direct
from local_stack.hops import count_hops
from local_stack.lake_mirror import mirror
from local_stack.stack import LocalStack

pytestmark = pytest.mark.pipeline

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Enough lines for several Firehose processor buffers (1 MiB), many invoices and shards;
# tests/faults runs the same path under each injected AWS fault on a smaller day.
LINES = 4_000
DATASET_KEY = "raw/online_retail/online_retail.csv.gz"
# Injected through the API: each fails one rule (or is not a CSV record at all).
INJECTED = [
    "536999,22086,PAPER CHAIN KIT,six,12/1/2010 9:00,2.55,17850,United Kingdom",
    "536999,22086,PAPER CHAIN KIT,6,13/45/2010 9:00,2.55,17850,United Kingdom",
    "536999,,PAPER CHAIN KIT,6,12/1/2010 9:00,2.55,17850,United Kingdom",
    "536999,22086,PAPER CHAIN KIT,6,12/1/2010 9:00",
    "5369X9,22086,PAPER CHAIN KIT,6,12/1/2010 9:00,2.55,17850,United Kingdom",
    "536999,22086,PAPER CHAIN KIT,6,12/1/2010 9:00,2.5555,17850,United Kingdom",
    "536999,22086,PAPER CHAIN KIT,6,12/1/2010 9:00,2.55,17850.5,United Kingdom",
    "536999,22086,PAPER CHAIN KIT,6,12/1/2010 9:00,2.55,17850,",
] * 5


def dbt_build(lake: Path, warehouse: Path, work: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(DBT), "build", "--quiet"],
        cwd=PROJECT_DIR,
        env=dbt_env(work, lake, warehouse),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait(*builds: subprocess.Popen) -> None:
    for build in builds:
        output, _ = build.communicate()
        assert build.returncode == 0, output


def marts(warehouse: Path) -> dict[str, list[tuple]]:
    return mart_tables(str(warehouse))


def parquet_zone(lake: Lake, zone: str):
    return [pq.read_table(io.BytesIO(lake.read_bytes(k))) for k in lake.files_under(zone)]


@pytest.fixture(scope="module")
def moto_process() -> Iterator[str]:
    """moto's server in a process of its own (`moto_server`, the standalone server), so it
    works on the second core while the handlers work on the first."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    # a loaded machine can take far longer than 10 s to import and start moto's server
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"moto_server did not start on {endpoint} within 120 s")
            time.sleep(0.05)
    yield endpoint
    server.kill()  # werkzeug's server waits for idle keep-alive connections on SIGTERM
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def run(moto_process, dataset_lines, tmp_path_factory):
    work = tmp_path_factory.mktemp("stream_path")
    header, lines = dataset_lines[0], dataset_lines[1 : LINES + 1]
    event_ids = [f"{DATASET_KEY}:{n}" for n in range(2, LINES + 2)]  # header = line 1
    bad_ids = [f"injected:{i}" for i in range(len(INJECTED))]
    # interleave the injected lines through the real ones, as a client would send them
    sent = list(zip(lines, event_ids, strict=True))
    for i, pair in enumerate(zip(INJECTED, bad_ids, strict=True)):
        sent.insert(i * (LINES // len(INJECTED)) + 7, pair)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            mp.setenv(key, value)
        with LocalStack(moto_process, name=f"path{uuid.uuid4().hex[:8]}") as stack:
            tally = send_lines(stack, header, [s for s, _ in sent], [e for _, e in sent])
            stack.drain()
            hops = count_hops(stack, tally)
            s3_lake = stack.lake
            result = {
                "tally": tally,
                "hops": hops,
                "transformed": parquet_zone(s3_lake, TRANSFORMED_ZONE),
                "quarantined": parquet_zone(s3_lake, QUARANTINE_ZONE),
                "objects": s3_lake.files_under(TRANSFORMED_ZONE),
                "dynamodb": {
                    table: [
                        item
                        for page in settings.dynamodb()
                        .get_paginator("scan")
                        .paginate(TableName=table)
                        for item in page["Items"]
                    ]
                    for table in (stack.settings.invoice_table, stack.settings.customer_table)
                },
            }
            stream_lake = Lake(str(work / "stream_lake"))
            mirror(s3_lake, stream_lake)

            # The batch path over the same lines, as a file (same name, same line numbers).
            source = work / "online_retail.csv.gz"
            source.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode()))
            batch_lake = Lake(str(work / "batch_lake"))
            result["batch"] = run_batch_job(land_file(str(source), batch_lake), batch_lake)

            stream_wh, batch_wh = work / "stream.duckdb", work / "batch.duckdb"
            wait(
                dbt_build(work / "stream_lake", stream_wh, work / "s"),
                dbt_build(work / "batch_lake", batch_wh, work / "b"),
            )
            result["stream_marts"], result["batch_marts"] = marts(stream_wh), marts(batch_wh)
            result["fact_rows"] = fact_rows_for(str(stream_wh), event_ids)

            # Replay 1,000 of the same lines (a client retrying a day): new objects in S3,
            # then an incremental dbt build of the same warehouse, no full refresh.
            again = send_lines(stack, header, lines[1000:2000], event_ids[1000:2000])
            stack.drain()
            result["replay_tally"] = again
            result["objects_after_replay"] = s3_lake.files_under(TRANSFORMED_ZONE)
            mirror(s3_lake, stream_lake)
            wait(dbt_build(work / "stream_lake", stream_wh, work / "s"))
            result["replayed_marts"] = marts(stream_wh)
            result["fact_rows_after_replay"] = fact_rows_for(str(stream_wh), event_ids)
    result.update(lines=lines, event_ids=event_ids, bad_ids=bad_ids, header=header)
    return result


def test_every_line_ends_exactly_once_in_the_transformed_or_quarantine_zone(run):
    landed = [i for t in run["transformed"] for i in t["event_id"].to_pylist()]
    quarantined = [i for t in run["quarantined"] for i in t["event_id"].to_pylist()]
    assert len(landed) == len(set(landed))  # no line twice
    assert len(quarantined) == len(set(quarantined))
    assert not set(landed) & set(quarantined)
    assert set(landed) | set(quarantined) == set(run["event_ids"]) | set(run["bad_ids"])
    assert set(run["bad_ids"]) <= set(quarantined)
    # The batch job, another reader of the same lines, lands exactly the same lines.
    batch = run["batch"]
    assert len(landed) == batch.rows_landed
    assert len(quarantined) == batch.rows_quarantined + len(run["bad_ids"])
    assert run["tally"].sent == LINES + len(INJECTED)


def test_the_lines_landed_are_the_real_lines_to_the_penny(run):
    rows = list(csv.DictReader([run["header"], *run["lines"]]))
    cancellations = sum(r["InvoiceNo"].startswith("C") for r in rows)
    guests = sum(not r["CustomerID"].strip() for r in rows)
    assert cancellations >= 30 and guests > 1000  # what the prototype could not store
    table = [t.to_pylist() for t in run["transformed"]]
    landed = {r["event_id"]: r for part in table for r in part}
    expected = Decimal(0)
    for n, r in enumerate(rows, start=2):
        if f"{DATASET_KEY}:{n}" in landed:
            expected += Decimal(r["Quantity"]) * Decimal(r["UnitPrice"])
    assert sum(r["quantity"] * r["unit_price"] for r in landed.values()) == expected
    assert sum(r["invoice_no"].startswith("C") for r in landed.values()) == cancellations
    assert sum(r["customer_id"] is None for r in landed.values()) == guests
    # Firehose's object names and Hive partitions, which the dbt source reads
    for key in run["objects"]:
        folder, name = key.rsplit("/", 1)
        assert folder.split("/")[-2].startswith("year=") and folder.split("/")[-1][:6] == "month="
        assert name.endswith(".parquet") and name.count("-") >= 9


def test_dynamodb_holds_every_landed_line_once_in_each_table(run):
    landed = [
        (i, Decimal(q) * Decimal(str(p)))
        for t in run["transformed"]
        for i, q, p in zip(
            t["event_id"].to_pylist(),
            t["quantity"].to_pylist(),
            t["unit_price"].to_pylist(),
            strict=True,
        )
    ]
    landed_ids = {i for i, _ in landed}
    invoice_items, customer_items = run["dynamodb"].values()
    ids = [item["LineId"]["S"] for item in invoice_items]  # one item per line
    assert len(ids) == len(set(ids)) and set(ids) == landed_ids
    # the invoice summaries count every line once and add up to the same money
    assert sum(int(item["LineCount"]["N"]) for item in customer_items) == len(landed_ids)
    amounts = dict(landed)
    assert sum(Decimal(item["Amount"]["N"]) for item in customer_items) == sum(amounts.values())
    for items in run["dynamodb"].values():
        keys = [k for item in items for k in ("InvoiceNo", "LineId", "CustomerKey") if k in item]
        assert all(set(item[k]) == {"S"} for item in items for k in keys if k in item)


def test_lines_in_equal_lines_landed_plus_quarantined_at_every_hop(run):
    hops = run["hops"]
    assert hops.reconciles() == []
    assert hops.in_kinesis == hops.accepted == hops.in_parquet
    assert hops.sent == LINES + len(INJECTED)
    assert run["fact_rows"] == hops.in_parquet_ids


def test_the_marts_built_from_the_stream_equal_those_from_the_batch_job(run):
    stream, batch = run["stream_marts"], run["batch_marts"]
    assert {"fct_sales_lines", "rpt_revenue_monthly"} <= set(stream)
    assert set(stream) == set(batch)
    for name in sorted(stream):
        assert stream[name] == batch[name], name


def test_a_replay_of_the_same_lines_adds_nothing(run):
    assert run["replay_tally"].accepted == 1000
    assert len(run["objects_after_replay"]) > len(run["objects"])  # new files were delivered
    assert run["fact_rows_after_replay"] == run["fact_rows"]
    assert run["replayed_marts"] == run["stream_marts"]


def test_records_put_on_the_stream_directly_are_quarantined_not_stored(moto_endpoint, aws_env):
    junk = [b'{"hello": "world"}', b"\xff\xfe\xfd", b'{"InvoiceNo": "536365"}', b"[1, 2]"]
    with LocalStack(moto_endpoint, name=f"junk{uuid.uuid4().hex[:8]}") as stack:
        put_direct(stack, junk)
        stack.drain()
        # quarantined with field and reason, so Dropped: the error prefix stays empty
        assert stack.firehose.stats.dropped == len(junk)
        assert stack.firehose.stats.processing_failed == 0
        assert stack.firehose.stats.error_objects == []
        (table,) = parquet_zone(stack.lake, QUARANTINE_ZONE)
        assert table.num_rows == len(junk)
        assert stack.mapping.stats.reported_failures == 0
        assert settings.dynamodb().scan(TableName=stack.settings.invoice_table)["Count"] == 0
