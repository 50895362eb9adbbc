"""Monthly AWS cost at 1x, 100x and 10,000x this dataset's yearly volume, from measured figures.

    make run                                          # the lake, warehouse and dbt manifest
    .venv/bin/python bench/bench_stream_handlers.py   # handler records/s per core (CPU)
    .venv/bin/python bench/cost_model.py --consumer-rps 11077 --firehose-rps 18727

The measured inputs come from `cost_measure.measure` (see there) on every run; handler
and Spark throughput are passed in (measured by the benches above and docs/spark.md).
Every other input is an assumption in ASSUMPTIONS, printed with the table. Prices are
eu-west-2 (London) in USD, in PRICES: each says whether it was read from AWS's price list
or is a list price as known on PRICE_DATE that must be checked (docs/cost.md says which
and where). Free tiers are not subtracted; they are printed separately. The output is
Markdown, pasted into docs/cost.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from cost_measure import Measured, measure

ROOT = Path(__file__).resolve().parents[1]

PRICE_DATE = "2026-11-30"
LIST, CHECK = "price list", "CHECK"  # read from AWS's price list / as known, to be checked
PRICES: dict[str, tuple[float, str, str]] = {  # key: (USD, unit, status)
    "kds_shard_hour": (0.0165, "shard-hour", CHECK),
    "kds_put_units": (0.0154e-6, "PUT payload unit (25 KB)", CHECK),
    "kds_od_stream_hour": (0.047, "on-demand stream-hour", CHECK),
    "kds_od_in_gb": (0.094, "GB written (records rounded up to 1 KB)", CHECK),
    "kds_od_out_gb": (0.047, "GB read, per consumer", CHECK),
    "lambda_gb_s": (0.0000166667, "GB-second, x86, first 6 B", LIST),
    "lambda_request": (0.20e-6, "request", LIST),
    "fh_ingest_gb": (0.034, "GB ingested (records rounded up to 5 KB)", CHECK),
    "fh_convert_gb": (0.021, "GB converted (as ingested, 5 KB rounding)", CHECK),
    "fh_dp_gb": (0.023, "GB delivered by dynamic partitioning", CHECK),
    "fh_dp_object": (0.006e-3, "S3 object delivered by dynamic partitioning", CHECK),
    "s3_gb_month": (0.024, "GB-month, S3 Standard, first 50 TB", LIST),
    "s3_put": (0.0053e-3, "PUT/COPY/POST/LIST request", LIST),
    "s3_get": (0.00042e-3, "GET request", LIST),
    "glue_dpu_hour": (0.47, "DPU-hour (per second, 1-minute minimum)", CHECK),
    "athena_tb": (5.00, "TB scanned (per MB, 10 MB minimum per query)", CHECK),
    "ddb_wru": (0.7425e-6, "on-demand write request unit (1 KB)", CHECK),
    "ddb_rru": (0.1485e-6, "on-demand read request unit (4 KB strong, 2 eventual)", CHECK),
    "ddb_gb_month": (0.2975, "GB-month, Standard table class", CHECK),
    "apigw_request": (3.70e-6, "REST API request, first 333 M", CHECK),
}
FREE_TIERS = [
    "Lambda: 1,000,000 requests and 400,000 GB-seconds a month (always free, per account).",
    "DynamoDB: 25 GB-month of Standard storage (always free); no free on-demand requests.",
    "Glue Data Catalog: first 1,000,000 objects stored and 1,000,000 requests a month.",
    "S3: the 12-month free tier is not offered to accounts created after 15 July 2025.",
    "Kinesis Data Streams, Firehose, Athena, Glue jobs: no free tier.",
]
ASSUMPTIONS = {
    "peak_factor": 10.0,  # busiest second / yearly average records per second
    "lambda_mb": 1024,  # Globals.Function.MemorySize in template.yaml (all four functions)
    "vcpu_at_1769_mb": 1769,  # Lambda: 1,769 MB = one vCPU's share
    "dynamodb_call_ms": 10.0,  # one BatchWriteItem / Query / PutItem round trip
    "api_io_ms": 40.0,  # the POST handler's S3 PutObject + PutRecords round trips
    "query_api_ms": 15.0,  # the GET handler: one Query round trip + routing
    "gets_per_month_1x": 10_000,  # GET API requests a month at 1x (scales with volume)
    "consumer_window_s": 1.0,  # MaximumBatchingWindowInSeconds (template default)
    "processor_interval_s": 60,  # Firehose Lambda buffer (template default), 1 MiB
    "firehose_interval_s": 300,  # Firehose S3 buffer (template default), 128 MiB
    "dashboard_refreshes_per_day": 24,
    "dbt_builds_per_day": 1,
    "glue_workers": 2,  # G.1X: 1 DPU, 4 vCPU each; one is the Spark driver
    "glue_fixed_s": 60.0,  # JVM + Python workers + session start (docs/spark.md, cold)
    "glue_inflate_mb_s": 150.0,  # the driver inflates gzip sequentially
    "years_held": 1,  # history the lake, the tables and the marts hold
    "athena_gets_per_file": 3,  # footer + column-chunk range reads per file per query
}
SCALES = (1, 100, 10_000)
MONTH_S = 730 * 3600
MB, GIB = 1024**2, 1024**3


def athena_billed(scanned: float) -> float:
    """Bytes Athena bills for one query: rounded up to the MB, at least 10 MB."""
    return max(10, math.ceil(scanned / MB)) * MB


def line_items(m: Measured, a: dict, consumer_rps: float, firehose_rps: float, glue_rps: float):
    """(service, item, f(scale) -> (USD a month, quantity)) for every priced line."""
    p = {k: v[0] for k, v in PRICES.items()}
    mb_share = a["lambda_mb"] / a["vcpu_at_1769_mb"]
    gb = a["lambda_mb"] / 1024

    def lines(s):  # a month's lines at scale s
        return m.lines * s / 12

    def posts(s):  # POST /invoices requests a month: one per invoice
        return m.invoices * s / 12

    def shards(s):  # the busiest second: 1,000 records/s and 1 MiB/s per shard
        peak = m.lines * s / (365 * 86400) * a["peak_factor"]
        return max(1, math.ceil(peak / 1000), math.ceil(peak * m.record_bytes / MB))

    def kds_prov(s):
        units = lines(s) * math.ceil(m.record_bytes / 25600)  # 25 KB PUT payload units
        cost = shards(s) * 730 * p["kds_shard_hour"] + units * p["kds_put_units"]
        return cost, f"{shards(s)} shard(s)"

    def kds_od(s):
        gb_in = lines(s) * m.record_kib_rounded / 1024**2
        cost = 730 * p["kds_od_stream_hour"] + gb_in * p["kds_od_in_gb"]
        return cost + 2 * gb_in * p["kds_od_out_gb"], f"{gb_in:,.2f} GB in, 2 consumers"

    def consumer(s):
        # one invocation per batch: per POST while traffic is sparse, else per window, 500 max
        calls = max(lines(s) / 500, min(posts(s), MONTH_S / a["consumer_window_s"]))
        # BatchWriteItem of 25 line items, then a Query and a PutItem per invoice touched,
        # 8 invoices side by side (item_store.SUMMARY_WORKERS)
        per_call = lines(s) / calls
        invoices = max(1.0, per_call * m.invoices / m.lines)
        round_trips = math.ceil(per_call / 25) + 2 * math.ceil(invoices / 8)
        ddb_ms = a["dynamodb_call_ms"] * round_trips
        ms = 1000 * lines(s) / calls / (consumer_rps * mb_share) + ddb_ms
        return _lambda(calls, ms, p, gb)

    def transform(s):
        per_call = MB / m.record_bytes  # the 1 MiB processor buffer
        calls = max(lines(s) / per_call, min(posts(s), MONTH_S / a["processor_interval_s"]))
        return _lambda(calls, 1000 * lines(s) / calls / (firehose_rps * mb_share), p, gb)

    def api(s):  # parse + clean + encode, about the transform's work per line, + round trips
        ms = 1000 * m.lines / m.invoices / (firehose_rps * mb_share) + a["api_io_ms"]
        return _lambda(posts(s), ms, p, gb)

    def query(s):
        return _lambda(a["gets_per_month_1x"] * s, a["query_api_ms"], p, gb)

    def fh_gb(s):  # Firehose bills each record rounded up to 5 KB
        return lines(s) * 5 * math.ceil(m.record_bytes / 5120) / 1024**2

    def objects(s):  # one per buffer interval with data, or per 128 MiB
        flushes = min(posts(s), MONTH_S / a["firehose_interval_s"])
        return flushes + lines(s) * m.firehose_out_bytes / (128 * MB)

    def dp(s):
        delivered = lines(s) * m.firehose_out_bytes / GIB
        cost = delivered * p["fh_dp_gb"] + objects(s) * p["fh_dp_object"]
        return cost, f"{objects(s):,.0f} objects"

    def files(s):  # a line-grain relation: month partitions, or files of 128 MiB
        return max(13, math.ceil(m.parquet_bytes * s * a["years_held"] / (128 * MB)))

    def storage(s):
        year = s * a["years_held"]
        gbs = (
            year * (m.gz_bytes + m.csv_bytes + 2 * m.parquet_bytes)
            + 90 / 365 * year * m.quarantine_bytes
        ) / GIB
        return gbs * p["s3_gb_month"], f"{gbs:,.2f} GB"

    def s3_requests(s):
        blocks = math.ceil(m.csv_bytes * s / 365 / (16 * MB))  # the Spark job's staged blocks
        puts = posts(s) + objects(s) + 30 * (3 + 2 * blocks)  # raw bodies, Firehose, Glue
        dash = 2 * files(s) + len(m.query_bytes) - 1  # the headline reads two line relations
        dbt = (m.dbt_line_tables + m.dbt_line_tests) * files(s) + m.dbt_other_queries
        reads = 30 * (a["dashboard_refreshes_per_day"] * dash + a["dbt_builds_per_day"] * dbt)
        gets = reads * a["athena_gets_per_file"]
        return puts * p["s3_put"] + gets * p["s3_get"], f"{puts:,.0f} PUT, {gets:,.0f} GET"

    def glue(s):
        day = m.lines * s / 365
        cores = 4 * (a["glue_workers"] - 1)
        secs = (
            a["glue_fixed_s"]
            + m.gz_bytes * s / 365 / MB * (m.csv_bytes / m.gz_bytes) / a["glue_inflate_mb_s"]
            + day / (glue_rps * cores)
        )
        dpu_h = 30 * max(60, secs) * a["glue_workers"] / 3600
        return dpu_h * p["glue_dpu_hour"], f"{dpu_h:,.2f} DPU-h ({secs:,.0f} s/day)"

    def dashboards(s):
        per = sum(athena_billed(lb * s * a["years_held"] + fb) for lb, fb in m.query_bytes.values())
        tb = 30 * a["dashboard_refreshes_per_day"] * per / 1024**4
        return tb * p["athena_tb"], f"{per / MB:,.0f} MB billed per refresh"

    def dbt(s):
        full = m.parquet_bytes * s * a["years_held"]
        per = (
            m.dbt_line_tables * athena_billed(full)
            + m.dbt_line_tests * athena_billed(full / 12)
            + m.dbt_other_queries * athena_billed(0)
        )
        tb = 30 * a["dbt_builds_per_day"] * per / 1024**4
        return tb * p["athena_tb"], f"{per / GIB:,.1f} GB billed per build"

    def ddb_writes(s):
        wru = lines(s) * m.wru_per_line
        return wru * p["ddb_wru"] + lines(s) * m.rru_per_line * p["ddb_rru"], f"{wru:,.0f} WRU"

    def ddb_reads(s):  # eventually consistent Queries (0.5 RRU per 4 KB): half the GETs
        # an invoice's lines, half a customer's first page of summaries (25 by default)
        invoice = 0.5 * math.ceil(m.invoice_lines_bytes / 4096)
        page = 0.5 * math.ceil(min(25, m.invoices / m.customers) * m.summary_item_bytes / 4096)
        rru = a["gets_per_month_1x"] * s * (invoice + page) / 2
        return rru * p["ddb_rru"], f"{rru:,.0f} RRU"

    def ddb_storage(s):
        gbs = m.ddb_bytes * s * a["years_held"] / GIB
        return gbs * p["ddb_gb_month"], f"{gbs:,.2f} GB"

    def apigw(s):
        n = posts(s) + a["gets_per_month_1x"] * s
        return n * p["apigw_request"], f"{n:,.0f} requests"

    return [
        ("Kinesis", "provisioned: shard-hours + PUT units", kds_prov),
        ("Kinesis", "on-demand: stream-hours + GB in/out", kds_od),
        ("Lambda", "consumer (Kinesis -> DynamoDB)", consumer),
        ("Lambda", "Firehose transform", transform),
        ("Lambda", "POST /invoices", api),
        ("Lambda", "GET query API", query),
        (
            "Firehose",
            "ingestion (5 KB rounding)",
            lambda s: (fh_gb(s) * p["fh_ingest_gb"], f"{fh_gb(s):,.1f} GB billed"),
        ),
        ("Firehose", "format conversion to Parquet", lambda s: (fh_gb(s) * p["fh_convert_gb"], "")),
        ("Firehose", "dynamic partitioning", dp),
        ("S3", "storage (raw, Parquet x2, quarantine)", storage),
        ("S3", "requests", s3_requests),
        ("Glue", "Spark job, daily, G.1X", glue),
        ("Athena", "dashboard refreshes", dashboards),
        ("Athena", "dbt build (daily)", dbt),
        ("DynamoDB", "consumer writes + reads", ddb_writes),
        ("DynamoDB", "GET API reads", ddb_reads),
        ("DynamoDB", "storage", ddb_storage),
        ("API Gateway", "REST requests (POST + GET)", apigw),
    ]


def _lambda(calls: float, ms: float, p: dict, gb: float) -> tuple[float, str]:
    gb_s = calls * math.ceil(ms) / 1000 * gb
    cost = gb_s * p["lambda_gb_s"] + calls * p["lambda_request"]
    return cost, f"{calls:,.0f} calls x {math.ceil(ms)} ms = {gb_s:,.0f} GB-s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumer-rps", type=float, default=11_077, help="records/s per core")
    parser.add_argument("--firehose-rps", type=float, default=18_727, help="records/s per core")
    parser.add_argument("--glue-rps", type=float, default=20_000, help="Spark lines/s per core")
    parser.add_argument("--dataset", type=Path, default=ROOT / "data" / "online_retail.csv.gz")
    parser.add_argument("--lake", type=Path, default=ROOT / "lake")
    parser.add_argument(
        "--warehouse", type=Path, default=ROOT / "warehouse" / "online_retail.duckdb"
    )
    parser.add_argument("--manifest", type=Path, default=ROOT / "target" / "manifest.json")
    args = parser.parse_args()
    for path in (args.dataset, args.lake, args.warehouse, args.manifest):
        if not path.exists():
            print(f"{path}: missing; run `make run` first", file=sys.stderr)
            sys.exit(2)
    m = measure(args.dataset, args.lake, args.warehouse, args.manifest)
    per_line = {
        "CSV bytes": m.csv_bytes / m.lines,
        "gzipped CSV bytes": m.gz_bytes / m.lines,
        "Kinesis record bytes": m.record_bytes,
        "Firehose output bytes": m.firehose_out_bytes,
        "lake Parquet bytes": m.parquet_bytes / m.lines,
        "DynamoDB items": m.items_per_line,
        "DynamoDB WRU": m.wru_per_line,
        "DynamoDB RRU (consumer)": m.rru_per_line,
        "DynamoDB bytes stored": m.ddb_bytes / m.lines,
    }
    print(f"## Measured\n\n- lines/year {m.lines:,}, lines/month {m.lines / 12:,.0f}, ", end="")
    print(f"invoices/year {m.invoices:,}; quarantine Parquet {m.quarantine_bytes:,} B")
    print("- per line: " + ", ".join(f"{k} {v:,.3g}" for k, v in per_line.items()))
    print(
        f"- dbt build: {m.dbt_line_tables} tables + {m.dbt_line_tests} tests read line-grain ",
        end="",
    )
    print(f"data, {m.dbt_other_queries} other queries")
    for name, (lb, fb) in m.query_bytes.items():
        print(f"- dashboard query {name}: {lb:,} B line-grain + {fb:,} B fixed")
    print(f"- records/s per core: consumer {args.consumer_rps:,.0f}, transform ", end="")
    print(f"{args.firehose_rps:,.0f}; Spark lines/s per core {args.glue_rps:,.0f}")
    print("\n## Assumptions\n")
    print(", ".join(f"{k} = {v}" for k, v in ASSUMPTIONS.items()))
    print(f"\n## Monthly cost, USD, eu-west-2, prices of {PRICE_DATE}\n")
    print("| service | item | " + " | ".join(f"{s:,}x" for s in SCALES) + " |")
    print("| --- | --- |" + " ---: |" * len(SCALES))
    totals = dict.fromkeys(SCALES, 0.0)
    for service, item, f in line_items(
        m, ASSUMPTIONS, args.consumer_rps, args.firehose_rps, args.glue_rps
    ):
        cells = []
        for s in SCALES:
            usd, qty = f(s)
            if "on-demand" not in item:  # the on-demand row is the alternative, not a sum
                totals[s] += usd
            cells.append(f"{usd:,.2f} ({qty})" if qty else f"{usd:,.2f}")
        print(f"| {service} | {item} | " + " | ".join(cells) + " |")
    cells = " | ".join(f"**{totals[s]:,.2f}**" for s in SCALES)
    print(f"| **total** | (provisioned Kinesis) | {cells} |")
    print("\n## Prices\n")
    for key, (usd, unit, status) in PRICES.items():
        print(f"- {key}: ${usd:.10g} per {unit} ({status})")
    print("\n## Free tiers (not subtracted above)\n")
    print("\n".join(f"- {t}" for t in FREE_TIERS))


if __name__ == "__main__":
    main()
