"""What bench/cost_model.py prices, measured from this repository's own files.

Every run of the cost model calls `measure`: lines, bytes per line and invoices from the
shipped CSV; the Kinesis record of each line as POST /invoices encodes it (one request per
invoice, the API's own lineage names); the Firehose transformation's output line; the
DynamoDB items of every line as `ingestion/stream/items.py` builds them, sized by
DynamoDB's item-size rules; the lake's Parquet bytes (`make run`); the Parquet bytes of the
mart columns each dashboard query reads (`bi/marts.py`: each relation's columns exported
from the DuckDB warehouse as ZSTD Parquet, Athena's default for Iceberg, summed per column
chunk from the Parquet metadata); and the dbt queries of one build (target/manifest.json).
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.stream.items import (
    CUSTOMERS_KEY,
    from_item,
    invoice_summaries,
    item_size,
    line_writes,
)
from ingestion.stream.output import cleaned_json_lines
from ingestion.stream.records import StreamRecord, iso_utc

MB = 1024**2
CONSUMER_BATCH_SIZE = 500  # template.yaml's ConsumerBatchSize default

# bi/marts.py: each dashboard query -> {relation: columns read}. Keep in step with it.
_PERIOD = (
    "period_start period_end gross_sales returns adjustments net_revenue invoices customers units"
)
DASHBOARD_QUERIES = {
    "headline": {
        "fct_invoices": "gross_amount returns_amount adjustments_amount net_amount "
        "invoice_type units",
        "fct_sales_lines": "customer_id",
    },
    "top products": {
        "rpt_top_products_by_season": "season_start season_name revenue_rank stock_code "
        "description net_revenue units"
    },
    "countries": {
        "rpt_revenue_by_country": "country_name display_name region gross_sales returns "
        "net_revenue invoices customers"
    },
    "source files": {
        "stg_online_retail__batch_manifests": "source_file rows_in rows_landed rows_quarantined "
        "finished_at"
    },
    "quarantine reasons": {"stg_online_retail__quarantined_lines": "failed_field"},
    **{g: {f"rpt_revenue_{g}": _PERIOD} for g in ("weekly", "monthly", "quarterly")},
}
LINE_GRAIN = {"fct_sales_lines", "fct_invoices"}  # relations whose size follows the volume
LINE_NODES = {
    "model.online_retail.fct_sales_lines",
    "model.online_retail.fct_invoices",
    "model.online_retail.stg_online_retail__invoice_lines",
    "model.online_retail.int_invoice_lines_classified",
    "source.online_retail.online_retail.invoice_lines",
}


@dataclass
class Measured:
    lines: int
    invoices: int
    gz_bytes: int
    csv_bytes: int
    record_bytes: float  # Kinesis data blob + partition key, mean
    record_kib_rounded: float  # mean of ceil(record / 1 KiB)
    firehose_out_bytes: float  # the transform's cleaned JSON line, mean
    parquet_bytes: int  # transformed zone, all months
    quarantine_bytes: int
    wru_per_line: float  # the consumer's line items and invoice summaries
    rru_per_line: float  # the consumer's strongly consistent Query of each invoice's lines
    items_per_line: float  # items written per line (line items and summary rewrites)
    ddb_bytes: int  # stored, with DynamoDB's 100 bytes per item
    invoice_lines_bytes: float  # mean bytes of one invoice's line items (GET an invoice)
    summary_item_bytes: float  # mean bytes of one invoice summary (GET a customer's page)
    customers: int  # distinct customer keys, the guest shards included
    query_bytes: dict[str, tuple[int, int]]  # query -> (line-grain bytes, fixed bytes)
    dbt_line_tables: int
    dbt_line_tests: int
    dbt_other_queries: int


def measure(dataset: Path, lake: Path, warehouse: Path, manifest: Path) -> Measured:
    with gzip.open(dataset, "rt", encoding="utf-8", newline="") as f:
        text = f.read()
    rows = list(csv.DictReader(text.splitlines()))
    # POST /invoices: one request per invoice, its lines numbered from 2 in the body
    at = iso_utc(datetime(2011, 12, 9, 12, tzinfo=UTC))
    keys: dict[str, str] = {}
    records: list[StreamRecord] = []
    numbers: dict[str, int] = {}
    for row in rows:
        inv = row["InvoiceNo"]
        key = keys.setdefault(inv, str(uuid.uuid5(uuid.NAMESPACE_URL, inv)))
        numbers[inv] = numbers.get(inv, 1) + 1
        source = f"raw/online_retail/stream/2011/12/09/{key}.csv"
        values = {c: row[c] for c in SOURCE_COLUMNS}
        records.append(StreamRecord(f"{key}:{numbers[inv]}", source, numbers[inv], at, values))
    sizes = [len(r.encode()) + len(r.partition_key.encode()) for r in records]

    parts = sorted((lake / "transformed").rglob("*.parquet"))
    landed = pa.concat_tables([pq.read_table(p, partitioning=None) for p in parts])
    # the stream's lineage in place of the batch file's (longer names, bigger items)
    line_no = pc.subtract(landed["source_line_number"], 2).to_pylist()
    landed = landed.set_column(
        landed.schema.get_field_index("event_id"),
        "event_id",
        pa.array([records[i].event_id for i in line_no]),
    ).set_column(
        landed.schema.get_field_index("source_file"),
        "source_file",
        pa.array([records[i].source_file for i in line_no]),
    )
    out = cleaned_json_lines(landed)
    ddb = _dynamodb_units(landed)
    n_inv = len(keys)
    return Measured(
        lines=len(rows),
        invoices=n_inv,
        gz_bytes=dataset.stat().st_size,
        csv_bytes=len(text.encode()),
        record_bytes=sum(sizes) / len(sizes),
        record_kib_rounded=sum(math.ceil(s / 1024) for s in sizes) / len(sizes),
        firehose_out_bytes=sum(map(len, out)) / len(out),
        parquet_bytes=sum(p.stat().st_size for p in parts),
        quarantine_bytes=sum(p.stat().st_size for p in (lake / "quarantine").rglob("*.parquet")),
        **ddb,
        query_bytes=_dashboard_bytes(warehouse),
        **_dbt_queries(manifest),
    )


def _dynamodb_units(landed: pa.Table, batch_size: int = CONSUMER_BATCH_SIZE) -> dict:
    """The consumer's DynamoDB traffic and storage for these lines, as
    ingestion/stream/item_store.py does it: a put of each line's item, then, for each
    invoice a batch touches, a strongly consistent Query of all its stored lines and a put
    of its summary. A request's records share a partition key, so an invoice's lines come
    in order on one shard; an invoice of n lines spans ceil(n / batch size) batches.
    WRU: 1 per KB of each item written; RRU: 1 per 4 KB of a Query's items read, summed
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)."""
    writes = line_writes(landed, range(landed.num_rows))
    by_invoice: dict[str, list[dict]] = {}
    for w in writes:
        by_invoice.setdefault(w.invoice_no, []).append(w.item)
    wru = sum(math.ceil(item_size(w.item) / 1024) for w in writes)
    rru = puts = 0
    summaries: list[int] = []
    customer_keys: set[str] = set()
    for invoice_no, items in by_invoice.items():
        sizes = [item_size(i) for i in items]
        for end in range(batch_size, len(items) + batch_size, batch_size):
            stored = items[: min(end, len(items))]
            rru += math.ceil(sum(sizes[: len(stored)]) / 4096)
            for summary in invoice_summaries(invoice_no, [from_item(i) for i in stored]):
                wru += math.ceil(item_size(summary) / 1024)
                puts += 1
                if end >= len(items):  # the summary that stays
                    summaries.append(item_size(summary))
                    customer_keys.add(summary[CUSTOMERS_KEY.partition]["S"])
    line_bytes = sum(item_size(w.item) for w in writes)
    stored_items = len(writes) + len(summaries)
    return {
        "wru_per_line": wru / len(writes),
        "rru_per_line": rru / len(writes),
        "items_per_line": (len(writes) + puts) / len(writes),
        "ddb_bytes": line_bytes + sum(summaries) + 100 * stored_items,
        "invoice_lines_bytes": line_bytes / len(by_invoice),
        "summary_item_bytes": sum(summaries) / len(summaries),
        "customers": len(customer_keys),
    }


def _dashboard_bytes(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Per dashboard query: ZSTD Parquet bytes of the column chunks it reads."""
    result = {}
    with duckdb.connect(str(warehouse), read_only=True) as con, tempfile.TemporaryDirectory() as d:
        for name, reads in DASHBOARD_QUERIES.items():
            line_b = fixed_b = 0
            for rel, cols in reads.items():
                (schema,) = con.execute(
                    "select table_schema from information_schema.tables where table_name = ? "
                    "order by table_schema = 'main' desc limit 1",
                    [rel],
                ).fetchone()
                path = Path(d) / f"{rel}.parquet"
                select = f'select {", ".join(cols.split())} from "{schema}"."{rel}"'
                con.execute(f"copy ({select}) to '{path}' (format parquet, compression zstd)")
                meta = pq.ParquetFile(path).metadata
                size = sum(
                    meta.row_group(g).column(c).total_compressed_size
                    for g in range(meta.num_row_groups)
                    for c in range(meta.num_columns)
                )
                if rel in LINE_GRAIN:
                    line_b += size
                else:
                    fixed_b += size
            result[name] = (line_b, fixed_b)
    return result


def _dbt_queries(manifest: Path) -> dict[str, int]:
    """Tables built from line-grain relations, tests on them, and every other query."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    line_tables = line_tests = other = 0
    for n in nodes:
        reads_lines = bool(set(n.get("depends_on", {}).get("nodes", [])) & LINE_NODES)
        if n["resource_type"] == "model" and n["config"]["materialized"] != "view":
            line_tables += reads_lines
            other += not reads_lines
        elif n["resource_type"] == "test":
            line_tests += reads_lines
            other += not reads_lines
    return {
        "dbt_line_tables": line_tables,
        "dbt_line_tests": line_tests,
        "dbt_other_queries": other,
    }
