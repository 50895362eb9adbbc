"""`online-retail`: the project's command line (the Makefile's targets call it).

online-retail run       land the dataset, run the batch job, dbt build + docs, summary
online-retail land      copy a file as received into the lake's raw zone
online-retail batch     clean a raw file into the transformed and quarantine zones
online-retail fetch     download the original workbook from UCI (or use the shipped copy)
online-retail summary   print the counts and revenue by quarter from the warehouse
online-retail stream    replay dataset lines through the local stream stack, count every hop
online-retail catalog   register the lake's zones as Glue Data Catalog tables (idempotent)
online-retail redshift-sql  print Redshift's Spectrum schema, native tables and COPYs
online-retail select    run S3 Select over one object of the lake
online-retail dashboard write the offline HTML dashboard (and, with --png-dir, its PNGs)
online-retail hyper     export the marts to a Tableau Hyper extract
online-retail tableau-tds   fill the Tableau Redshift data source from the environment
online-retail quicksight    validate or deploy the QuickSight data sources, sets, dashboard
online-retail reingest-errors  land or quarantine what Firehose left in its error prefix
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys

from cli import commands
from ingestion.batch.dataset import PROJECT_DIR, UCI_URL
from ingestion.errors import OnlineRetailError
from ingestion.stream.output import ERROR_ZONE

DEFAULT_LAKE = os.environ.get("LAKE_ROOT", str(PROJECT_DIR / "lake"))
DEFAULT_WAREHOUSE = os.environ.get(
    "DUCKDB_PATH", str(PROJECT_DIR / "warehouse" / "online_retail.duckdb")
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="online-retail", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", default=DEFAULT_LAKE, help="lake root (folder or s3://...)")
    parser.add_argument("--warehouse", default=DEFAULT_WAREHOUSE, help="DuckDB file")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="land, batch job, dbt build and docs, summary")
    run.add_argument("--source", help="local file to ingest (default: the shipped dataset)")
    run.set_defaults(func=commands.cmd_run)

    land = sub.add_parser("land", help="copy a local file into the raw zone")
    land.add_argument("source")
    land.set_defaults(func=commands.cmd_land)

    batch = sub.add_parser("batch", help="clean a raw-zone file into Parquet")
    batch.add_argument("source", help="key in the lake, e.g. raw/online_retail/x.csv.gz")
    batch.set_defaults(func=commands.cmd_batch)

    fetch = sub.add_parser("fetch", help="download the original workbook from UCI")
    fetch.add_argument("--target-dir", default=str(PROJECT_DIR / "data" / "downloads"))
    fetch.add_argument("--url", default=UCI_URL)
    fetch.set_defaults(func=commands.cmd_fetch)

    report = sub.add_parser("summary", help="counts and revenue by quarter")
    report.set_defaults(func=commands.cmd_summary)

    catalog = sub.add_parser("catalog", help="register the lake's zones in the Glue catalog")
    catalog.add_argument("--database", help="Glue database (default: $GLUE_DATABASE)")
    catalog.set_defaults(func=commands.cmd_catalog)

    redshift = sub.add_parser("redshift-sql", help="print Redshift's Spectrum schema and COPYs")
    redshift.add_argument("--iam-role", required=True, help="ARN of the role Redshift assumes")
    redshift.add_argument("--database", help="Glue database (default: $GLUE_DATABASE)")
    redshift.set_defaults(func=commands.cmd_redshift_sql)

    s3_select = sub.add_parser("select", help="S3 Select over one Parquet/JSON/CSV object")
    s3_select.add_argument("uri", help="s3://bucket/key of one object of the lake")
    s3_select.add_argument("expression", help='e.g. "select count(*) from s3object"')
    s3_select.set_defaults(func=commands.cmd_select)

    dashboard = sub.add_parser("dashboard", help="write the offline HTML dashboard")
    dashboard.add_argument("--out-dir", default=str(commands.BI_OUT))
    dashboard.add_argument("--png-dir", help="also write the charts as PNGs here (docs/img)")
    dashboard.set_defaults(func=commands.cmd_dashboard)

    hyper = sub.add_parser("hyper", help="export the marts to a Tableau Hyper extract")
    hyper.add_argument("--out", default=str(commands.BI_OUT / "online_retail_marts.hyper"))
    hyper.set_defaults(func=commands.cmd_hyper)

    tds = sub.add_parser("tableau-tds", help="Tableau's Redshift data source from $REDSHIFT_*")
    tds.add_argument("--out-dir", default=str(commands.BI_OUT))
    tds.set_defaults(func=commands.cmd_tableau_tds)

    qs = sub.add_parser("quicksight", help="validate or deploy the QuickSight definitions")
    qs.add_argument("action", choices=["validate", "deploy"])
    qs.add_argument("--engine", choices=["athena", "redshift"], default="athena")
    qs.set_defaults(func=commands.cmd_quicksight)

    stream = sub.add_parser(
        "stream", help="replay lines through POST /invoices on the local stack (moto), count hops"
    )
    pick = stream.add_mutually_exclusive_group()
    pick.add_argument(
        "--day",
        help="replay the lines invoiced on this day, YYYY-MM-DD "
        "(default: 2011-06-15, a typical day)",
    )
    pick.add_argument("--lines", type=int, help="replay this many lines from the start")
    pick.add_argument("--all", action="store_true", help="replay the whole dataset")
    stream.add_argument("--skip", type=int, default=0, help="with --lines: lines to skip first")
    stream.add_argument("--source", help="CSV (or .csv.gz) to replay (default: shipped dataset)")
    stream.add_argument("--rate", type=float, default=0.0, help="lines per second (0: no limit)")
    stream.add_argument("--lines-per-request", type=int, default=500)
    stream.add_argument("--shards", type=int, default=2)
    stream.add_argument(
        "--inject-bad",
        type=int,
        default=0,
        help="also send this many malformed lines and non-line records",
    )
    stream.add_argument("--no-dbt", action="store_true", help="stop before dbt build")
    stream.set_defaults(func=commands.cmd_stream)

    reingest = sub.add_parser(
        "reingest-errors",
        help="land or quarantine, exactly once, the records in Firehose's error prefix",
    )
    reingest.add_argument(
        "--prefix", default=ERROR_ZONE, help=f"Firehose's error prefix (default: {ERROR_ZONE})"
    )
    reingest.add_argument(
        "--stream-name", help="the source stream, for bare lines' event ids ($STREAM_NAME)"
    )
    reingest.set_defaults(func=commands.cmd_reingest_errors)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)  # e.g. "Found credentials in ..."
    try:
        return args.func(args)
    except (OnlineRetailError, OSError) as error:
        # The user's input or environment, not a bug: one clear line, no traceback. An
        # OSError is a file or folder the user named, or the lake's filesystem.
        print(f"online-retail {args.command}: error: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"online-retail {args.command}: {error.cmd[0]} failed (exit {error.returncode}); "
              "its output is above", file=sys.stderr)  # fmt: skip
        return error.returncode


if __name__ == "__main__":
    sys.exit(main())
