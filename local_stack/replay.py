"""Replay dataset lines through the whole stream path on a laptop, and count every hop.

`LocalStack` starts moto's server (or uses a given endpoint), points boto3 and pyarrow
at it through AWS_ENDPOINT_URL, creates the bucket, stream and tables, and wires the
handlers to the local runner. API Gateway is not emulated: a request "through POST
/invoices" is an API Gateway proxy event of the exact AWS shape passed to the API's
Lambda handler, as API Gateway would.

Lines are sent as CSV bodies whose first column is the client's event id, the line's
identity in the dataset (`raw/online_retail/<file>:<line>`, the batch job's own ids),
so a replay of the same lines, or the batch job over the same file, collapses to the
same rows downstream.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.lake import MANIFEST_ZONE, QUARANTINE_ZONE, RAW_ZONE, TRANSFORMED_ZONE, Lake
from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.stream import settings
from local_stack.events import context, http_api_event, rest_api_event
from ingestion.stream.items import LINES
from local_stack.firehose import (
    DESTINATION_BUFFER,
    PROCESSOR_BUFFER,
    Buffering,
    EventSourceMapping,
    FirehoseDelivery,
    create_stack,
    shard_readers,
)


@dataclass
class Tally:
    requests: int = 0
    sent: int = 0  # lines in the requests
    accepted: int = 0
    rejected: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class HopCounts:
    """Lines at each hop; `*_ids` count distinct event ids (a retry is one line)."""

    sent: int
    accepted: int
    rejected_at_api: int
    in_kinesis: int
    in_kinesis_ids: int
    in_parquet: int
    in_parquet_ids: int
    quarantined_api: int
    quarantined_stream: int
    in_dynamodb_invoice_ids: int
    in_dynamodb_customer_ids: int
    in_fact_table: int | None = None

    def reconciles(self) -> list[str]:
        """The identities that must hold; the ones that do not, as text."""
        checks = {
            "sent = accepted + rejected at the API": self.sent
            == self.accepted + self.rejected_at_api,
            "rejected at the API = quarantined by the API": self.rejected_at_api
            == self.quarantined_api,
            "in Kinesis = in Parquet + quarantined on the stream (event ids)": self.in_kinesis_ids
            == self.in_parquet_ids + self.quarantined_stream,
            "in DynamoDB (invoice table) = in Parquet (event ids)": self.in_dynamodb_invoice_ids
            == self.in_parquet_ids,
            "in DynamoDB (customer table) = in Parquet (event ids)": self.in_dynamodb_customer_ids
            == self.in_parquet_ids,
        }
        if self.in_fact_table is not None:
            checks["in the fact table = in Parquet (event ids)"] = (
                self.in_fact_table == self.in_parquet_ids
            )
        return [name for name, ok in checks.items() if not ok]


class LocalStack:
    """moto's server plus the local runner, with the handlers of the stream path."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        name: str = "online-retail",
        shards: int = 2,
        processor_buffer: Buffering = PROCESSOR_BUFFER,
        destination_buffer: Buffering = DESTINATION_BUFFER,
        batch_size: int = 500,
    ) -> None:
        self.endpoint, self.name, self.shards = endpoint, name, shards
        self.processor_buffer, self.destination_buffer = processor_buffer, destination_buffer
        self.batch_size = batch_size
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}

    def environment(self, endpoint: str) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
            "AWS_DEFAULT_REGION": "us-east-1",
            "LAKE_ROOT": f"s3://{self.name}-lake",
            "STREAM_NAME": f"{self.name}-invoice-lines",
            "DELIVERY_STREAM_NAME": f"{self.name}-invoice-lines",
            "CUSTOMER_TABLE": f"{self.name}-customers",
            "INVOICE_TABLE": f"{self.name}-invoices",
            # Local runs are quiet: warnings only, and no EMF metric lines on stdout.
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        }

    def __enter__(self) -> LocalStack:
        endpoint = self.endpoint
        if endpoint is None:
            import logging

            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
        for key, value in self.environment(endpoint).items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        settings.cold_start()
        # Imported here, as the Lambda runtime imports a handler: in its environment
        # (Powertools reads its log level when a module creates its Logger).
        from ingestion.stream.handlers import api, firehose_transform, kinesis_consumer

        self.api = api
        self.settings = settings.current()
        create_stack(self.settings, self.shards)
        self.lake = settings.lake()
        self.mapping = EventSourceMapping(
            kinesis_consumer.handler,
            "online-retail-kinesis-consumer",
            self.settings.stream_name,
            batch_size=self.batch_size,
        )
        self.firehose = FirehoseDelivery(
            firehose_transform.handler,
            delivery_stream=self.settings.delivery_stream_name,
            stream_name=self.settings.stream_name,
            lake=self.lake,
            processor_buffer=self.processor_buffer,
            destination_buffer=self.destination_buffer,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings.cold_start()
        if self._server is not None:
            self._server.stop()

    def post(
        self,
        body: bytes,
        *,
        content_type: str = "text/csv",
        idempotency_key: str | None = None,
        http_api: bool = False,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """POST /invoices through the API handler; the API Gateway proxy response."""
        headers = {"Content-Type": content_type}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if http_api:
            event = http_api_event(
                "POST", "/invoices", body=body, headers=headers, request_id=request_id
            )
            return self.api.http_handler(event, context("online-retail-api"))
        event = rest_api_event(
            "POST", "/invoices", body=body, headers=headers, request_id=request_id
        )
        return self.api.rest_handler(event, context("online-retail-api"))

    def pump(self) -> int:
        """One poll of both consumers; records they read."""
        return self.mapping.poll() + self.firehose.poll()

    def drain(self) -> None:
        """Run the consumers until the stream has nothing new, then flush Firehose."""
        while self.pump():
            pass
        self.firehose.flush()


def csv_bodies(
    header: str, lines: Sequence[str], event_ids: Sequence[str], per_request: int
) -> Iterator[tuple[bytes, int]]:
    """CSV bodies of at most `per_request` lines, each line prefixed by its event id."""
    for start in range(0, len(lines), per_request):
        part = range(start, min(start + per_request, len(lines)))
        text = "\n".join([f"event_id,{header}", *(f"{event_ids[i]},{lines[i]}" for i in part)])
        yield (text + "\n").encode("utf-8"), len(part)


def send_lines(
    stack: LocalStack,
    header: str,
    lines: Sequence[str],
    event_ids: Sequence[str],
    *,
    per_request: int = 500,
    rate: float = 0.0,
) -> Tally:
    """Send lines through POST /invoices at `rate` lines per second (0: as fast as the
    handler goes), letting the consumers poll between requests as they would."""
    tally = Tally()
    started = time.monotonic()
    for body, count in csv_bodies(header, lines, event_ids, per_request):
        response = stack.post(body)
        answer = json.loads(response["body"])
        tally.requests += 1
        tally.sent += count
        tally.accepted += answer.get("accepted", 0)
        tally.rejected += answer.get("rejected", 0)
        tally.statuses[response["statusCode"]] = tally.statuses.get(response["statusCode"], 0) + 1
        stack.pump()
        if rate > 0:
            ahead = tally.sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    tally.seconds = time.monotonic() - started
    return tally


def _event_ids_in_stream(stack: LocalStack) -> tuple[int, set[str]]:
    records, ids = 0, set()
    for reader in shard_readers(settings.kinesis(), stack.settings.stream_name):
        while batch := reader.read(10_000):
            records += len(batch)
            for r in batch:
                try:
                    ids.add(json.loads(r.data)["event_id"])
                except (ValueError, KeyError, TypeError):
                    ids.add(f"{r.shard_id}:{r.sequence_number}")  # not from the API
    return records, ids


def _parquet_under(lake: Lake, zone: str) -> dict[str, pa.Table]:
    return {
        key: pq.read_table(io.BytesIO(lake.read_bytes(key)))
        for key in lake.files_under(zone)
        if key.endswith(".parquet")
    }


def _dynamodb_line_ids(table: str) -> set[str]:
    ids: set[str] = set()
    for page in settings.dynamodb().get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            ids.update(item.get(LINES, {"M": {}})["M"])
    return ids


def count_hops(stack: LocalStack, tally: Tally) -> HopCounts:
    kinesis_records, kinesis_ids = _event_ids_in_stream(stack)
    transformed = _parquet_under(stack.lake, TRANSFORMED_ZONE)
    quarantined = _parquet_under(stack.lake, QUARANTINE_ZONE)
    parquet_ids = {i for t in transformed.values() for i in t["event_id"].to_pylist()}

    def quarantined_ids(prefix: str) -> set[str]:
        return {
            i
            for key, t in quarantined.items()
            if key.rsplit("/", 1)[-1].startswith(prefix)
            for i in t["event_id"].to_pylist()
        }

    return HopCounts(
        sent=tally.sent,
        accepted=tally.accepted,
        rejected_at_api=tally.rejected,
        in_kinesis=kinesis_records,
        in_kinesis_ids=len(kinesis_ids),
        in_parquet=sum(t.num_rows for t in transformed.values()),
        in_parquet_ids=len(parquet_ids),
        quarantined_api=len(quarantined_ids("stream-api-")),
        quarantined_stream=len(quarantined_ids("stream-firehose-")),
        in_dynamodb_invoice_ids=len(_dynamodb_line_ids(stack.settings.invoice_table)),
        in_dynamodb_customer_ids=len(_dynamodb_line_ids(stack.settings.customer_table)),
    )


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


def fact_rows_for(warehouse: str, event_ids: Sequence[str]) -> int:
    """Rows of fct_sales_lines whose event id is one of `event_ids`."""
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as con:
        schemas = con.execute(
            "select table_schema from information_schema.tables"
            " where table_name = 'fct_sales_lines'"
        ).fetchall()
        if not schemas:
            raise LookupError(f"{warehouse}: no table fct_sales_lines")
        schema = schemas[0]
        sent = pa.table({"event_id": pa.array(list(event_ids), pa.string())})
        con.register("sent", sent)
        (count,) = con.execute(
            f'select count(*) from "{schema[0]}".fct_sales_lines join sent using (event_id)'
        ).fetchone()
    return int(count)


@dataclass
class ReplayReport:
    tally: Tally
    hops: HopCounts
    mapping: dict[str, Any]
    firehose: dict[str, Any]
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def lines(self) -> list[str]:
        h, t = self.hops, self.tally
        fact = "-" if h.in_fact_table is None else f"{h.in_fact_table:,}"
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(t.statuses.items()))
        out = [
            f"  lines sent            {h.sent:>9,}  in {t.requests} requests "
            f"({statuses}) in {t.seconds:.1f}s",
            f"  accepted by the API   {h.accepted:>9,}",
            f"  rejected by the API   {h.rejected_at_api:>9,}  -> quarantine (stream-api-*)",
            f"  in Kinesis            {h.in_kinesis:>9,}  records, {h.in_kinesis_ids:,} event ids",
            f"  in Parquet            {h.in_parquet:>9,}  rows, {h.in_parquet_ids:,} event ids, "
            f"{len(self.firehose['objects'])} objects",
            f"  quarantined (stream)  {h.quarantined_stream:>9,}  -> quarantine "
            "(stream-firehose-*)",
            f"  in DynamoDB           {h.in_dynamodb_invoice_ids:>9,}  lines (invoice table), "
            f"{h.in_dynamodb_customer_ids:,} (customer table)",
            f"  in the fact table     {fact:>9}",
        ]
        broken = h.reconciles()
        out.append(
            "  reconciled: " + ("every hop, exactly" if not broken else "NO: " + "; ".join(broken))
        )
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


def ensure_batch_manifest(lake: Lake) -> str | None:
    """Run the batch job over an empty file if the lake has no batch manifest yet.

    The dbt sources read the manifests and quarantine zones with globs that fail when
    they match no file, and a lake fed only by the stream has no batch manifest. An
    empty day's file through the batch job is a real run (0 lines in, 0 landed, 0
    quarantined) that gives both zones a file. Returns the file's key, if it ran."""
    from ingestion.batch.job import run_batch_job

    if any(k.endswith(".json") for k in lake.files_under(MANIFEST_ZONE)):
        return None
    key = f"{RAW_ZONE}/empty-header-only.csv"
    lake.write_bytes(key, (",".join(SOURCE_COLUMNS) + "\n").encode())
    run_batch_job(key, lake)
    return key


def dataset_selection(
    lines: Sequence[str], *, day: str | None, count: int | None, skip: int = 0
) -> list[int]:
    """Indexes (into `lines`, header at 0) of the data lines to replay: the lines of one
    invoice day (`day` as YYYY-MM-DD), or `count` lines after `skip`, or all of them."""
    if day is not None:
        target = datetime.strptime(day, "%Y-%m-%d").date()
        picked = []
        for i, row in enumerate(csv.reader(lines[1:]), start=1):
            stamp = row[4].split(" ")[0] if len(row) > 4 else ""
            try:
                if datetime.strptime(stamp, "%m/%d/%Y").date() == target:
                    picked.append(i)
            except ValueError:
                continue
        return picked
    stop = len(lines) if count is None else min(len(lines), 1 + skip + count)
    return list(range(1 + skip, stop))


DEFAULT_DAY = "2011-06-15"  # a typical day: 1,718 lines, the median day has 1,577

# Lines no client should send, one of each kind the API and the stream must quarantine.
_BAD_CSV_LINES = (
    "536999,22086,PAPER CHAIN KIT,six,12/1/2010 9:00,2.55,17850,United Kingdom",
    "536999,22086,PAPER CHAIN KIT,6,31/31/2010 9:00,2.55,17850,United Kingdom",
    "536999,,PAPER CHAIN KIT,6,12/1/2010 9:00,2.55,17850,United Kingdom",
    "536999,22086,PAPER CHAIN KIT,6,12/1/2010 9:00",
    "X536999,22086,PAPER CHAIN KIT,6,12/1/2010 9:00,2.5555,17850,United Kingdom",
)
_BAD_STREAM_RECORDS = (
    b'{"hello": "not an invoice line"}',
    b"\xff\xfe not UTF-8 at all",
    b'{"InvoiceNo": "536999", "StockCode": "22086", "Quantity": "6"}',
)


def bad_lines(count: int) -> tuple[list[str], list[bytes]]:
    """`count` bad inputs: CSV lines for the API and raw records put on the stream
    directly (by a producer that skips the API), in a fixed rotation."""
    kinds = len(_BAD_CSV_LINES) + len(_BAD_STREAM_RECORDS)
    n_csv = len(_BAD_CSV_LINES)
    csv_lines = [_BAD_CSV_LINES[i % kinds] for i in range(count) if i % kinds < n_csv]
    records = [
        _BAD_STREAM_RECORDS[i % kinds - len(_BAD_CSV_LINES)]
        for i in range(count)
        if i % kinds >= len(_BAD_CSV_LINES)
    ]
    return csv_lines, records


def put_direct(stack: LocalStack, records: Sequence[bytes]) -> None:
    for i, data in enumerate(records):
        settings.kinesis().put_record(
            StreamName=stack.settings.stream_name, Data=data, PartitionKey=f"direct-{i}"
        )


def run_replay(
    lines: Sequence[str],
    indexes: Sequence[int],
    *,
    dataset_key: str,
    local_lake: Lake,
    warehouse: str | None,
    rate: float = 0.0,
    per_request: int = 500,
    shards: int = 2,
    inject_bad: int = 0,
    say: Any = print,
) -> ReplayReport:
    """Start the stack, send the lines (`lines[0]` is the header), drain, mirror the
    lake for dbt, build the warehouse (unless `warehouse` is None) and count every hop."""
    from cli.main import dbt

    selected = [lines[i] for i in indexes]
    # The line's identity in the dataset, as the batch job names it (header = line 1).
    event_ids = [f"{dataset_key}:{i + 1}" for i in indexes]
    bad_csv, bad_records = bad_lines(inject_bad)
    run_id = uuid.uuid4().hex[:8]
    selected += bad_csv
    event_ids += [f"replay-{run_id}-bad:{n}" for n in range(len(bad_csv))]
    with LocalStack(shards=shards) as stack:
        say(
            f"1/4 local stack on {os.environ['AWS_ENDPOINT_URL']} (moto): "
            f"{stack.settings.lake_root}, stream {stack.settings.stream_name} ({shards} shards),"
            f" tables {stack.settings.customer_table}, {stack.settings.invoice_table}"
        )
        say(
            f"2/4 POST /invoices: {len(selected):,} lines, {per_request} per request"
            + (f", {rate:,.0f} lines/s" if rate else "")
        )
        put_direct(stack, bad_records)
        tally = send_lines(stack, lines[0], selected, event_ids, per_request=per_request, rate=rate)
        stack.drain()
        hops = count_hops(stack, tally)
        copied = mirror(stack.lake, local_lake)
        say(f"3/4 drained; copied {copied} objects of the S3 lake to {local_lake.uri('')}")
        if (empty := ensure_batch_manifest(local_lake)) is not None:
            say(f"    (no batch manifest in the lake yet: ran the batch job over {empty})")
        report = ReplayReport(
            tally=tally,
            hops=hops,
            mapping=asdict(stack.mapping.stats),
            firehose=asdict(stack.firehose.stats),
            run_id=run_id,
        )
    if warehouse is not None:
        say("4/4 dbt build")
        dbt(["build", "--quiet"], local_lake.root, warehouse)
        report.hops.in_fact_table = fact_rows_for(warehouse, event_ids)
    return report
