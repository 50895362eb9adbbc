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
from ingestion.stream.items import item_writes
from ingestion.stream.output import cleaned_json_lines
from ingestion.stream.records import StreamRecord, iso_utc

MB = 1024**2

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


def ddb_size(value: dict) -> int:
    """Bytes of one attribute value (low-level shape), by DynamoDB's item-size rules."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + ddb_size(x) for k, x in v.items())
    return 1


def item_size(item: dict) -> int:
    return sum(len(k.encode()) + ddb_size(v) for k, v in item.items())


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
    wru_per_line: float
    rru_per_line: float  # the consumer's strongly consistent BatchGetItem
    items_per_line: float
    ddb_bytes: int  # stored, with DynamoDB's 100 bytes per item
    customer_item_bytes: float
    invoice_items_per_invoice: float
    customers: int  # distinct customer keys, UNKNOWN included
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
    writes = item_writes(landed, range(landed.num_rows))
    item_bytes = {"customer": [], "invoice": []}
    for w in writes:
        item_bytes[w.table].append(item_size(w.merged(None)))
    all_items = item_bytes["customer"] + item_bytes["invoice"]
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
        wru_per_line=sum(math.ceil(b / 1024) for b in all_items) / len(rows),
        rru_per_line=sum(math.ceil(b / 4096) for b in all_items) / len(rows),
        items_per_line=len(all_items) / len(rows),
        ddb_bytes=sum(all_items) + 100 * len(all_items),
        customer_item_bytes=sum(item_bytes["customer"]) / len(item_bytes["customer"]),
        invoice_items_per_invoice=len(item_bytes["invoice"]) / n_inv,
        customers=len({w.key["CustomerID"] for w in writes if w.table == "customer"}),
        query_bytes=_dashboard_bytes(warehouse),
        **_dbt_queries(manifest),
    )


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
