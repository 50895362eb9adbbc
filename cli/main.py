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
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from ingestion.batch.job import BatchResult, ReconciliationError, run_batch_job
from ingestion.batch.dataset import (
    PROJECT_DIR,
    UCI_URL,
    DigestMismatch,
    fetch_original,
    verified_shipped_copy,
)
from ingestion.lake import Lake, land_file
from ingestion.batch.sources import SourceFormatError

DEFAULT_LAKE = os.environ.get("LAKE_ROOT", str(PROJECT_DIR / "lake"))
DEFAULT_WAREHOUSE = os.environ.get(
    "DUCKDB_PATH", str(PROJECT_DIR / "warehouse" / "online_retail.duckdb")
)
# Where the BI artefacts go (dashboard, Hyper extract, Tableau data source): build output.
BI_OUT = Path(os.environ.get("DBT_TARGET_PATH", str(PROJECT_DIR / "target"))) / "bi"


def _print_batch(result: BatchResult) -> None:
    print(
        f"  read      {result.source_file}: {result.file_format}, {result.compression}, "
        f"{result.encoding}; dates {result.date_formats}"
    )
    print(f"  rows in   {result.rows_in:>9,}")
    print(f"  landed    {result.rows_landed:>9,}  in {len(result.partitions)} partitions")
    print(f"  quarantined {result.rows_quarantined:>7,}  {result.quarantine_reasons or ''}")


def dbt(args: list[str], lake_root: str, warehouse: str) -> None:
    """Run dbt in the project with the lake and warehouse of this run."""
    env = {
        **os.environ,
        "LAKE_ROOT": lake_root,
        "DUCKDB_PATH": warehouse,
        "DBT_PROFILES_DIR": os.environ.get("DBT_PROFILES_DIR", str(PROJECT_DIR / "profiles")),
    }
    Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
    executable = Path(sys.executable).with_name("dbt")
    print(f"$ dbt {' '.join(args)}", flush=True)
    subprocess.run([str(executable), *args], cwd=PROJECT_DIR, env=env, check=True)


def summary(warehouse: str) -> str:
    """Counts and net revenue by quarter, read from the marts."""
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as con:

        def table(name: str) -> str:
            schema = con.execute(
                "select table_schema from information_schema.tables where table_name = ?",
                [name],
            ).fetchone()
            if schema is None:
                raise SystemExit(f"{warehouse}: no table {name}; run `make run` first")
            return f'"{schema[0]}"."{name}"'

        rows_in, landed, quarantined = con.execute(
            f"select sum(rows_in), sum(rows_landed), sum(rows_quarantined) "
            f"from {table('stg_online_retail__batch_manifests')}"
        ).fetchone()
        quarters = con.execute(
            f"select period_start, gross_sales, returns, adjustments, net_revenue "
            f"from {table('rpt_revenue_quarterly')} order by period_start"
        ).fetchall()
    lines = [
        f"  rows in {rows_in:,} = landed {landed:,} + quarantined {quarantined:,}",
        "  quarter      gross sales      returns  adjustments   net revenue",
    ]
    for start, gross, returns, adjustments, net in quarters:
        label = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        lines.append(
            f"  {label}  {gross:>14,.2f} {returns:>12,.2f} {adjustments:>12,.2f} {net:>13,.2f}"
        )
    total = sum(q[4] for q in quarters)
    lines.append(f"  total    {'':>14} {'':>12} {'':>12} {total:>13,.2f}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    lake = Lake(args.lake)
    source = Path(args.source) if args.source else verified_shipped_copy()
    print(f"1/5 landing {source} in {lake.uri('raw/online_retail')}")
    key = land_file(str(source), lake)
    print("2/5 batch job: raw -> transformed Parquet + quarantine")
    result = run_batch_job(key, lake)
    _print_batch(result)
    print("3/5 dbt build (DuckDB)")
    dbt(["build"], args.lake, args.warehouse)
    print("4/5 dbt docs generate --static")
    dbt(["docs", "generate", "--static"], args.lake, args.warehouse)
    from bi.dashboard import write_dashboard

    print("5/5 dashboard")
    dashboard = write_dashboard(args.warehouse, BI_OUT)
    print()
    print(f"warehouse  {args.warehouse}")
    print(f"docs site  {PROJECT_DIR / 'target' / 'static_index.html'} (open it in a browser)")
    print(f"dashboard  {dashboard} (open it in a browser; works offline)")
    print(f"lake       {lake.root}")
    print(summary(args.warehouse))
    return 0


def cmd_land(args: argparse.Namespace) -> int:
    print(land_file(args.source, Lake(args.lake)))
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    _print_batch(run_batch_job(args.source, Lake(args.lake)))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    result = fetch_original(Path(args.target_dir), url=args.url)
    print(f"{result.origin}: {result.path}\n  {result.note}")
    if result.origin == "uci":
        print(f"  run it with: online-retail run --source '{result.path}'")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    print(summary(args.warehouse))
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from ingestion.catalog.tables import register_lake

    changes = register_lake(Lake(args.lake), database=args.database)
    print(changes.describe())
    return 0


def cmd_redshift_sql(args: argparse.Namespace) -> int:
    from ingestion.catalog.tables import BATCH_MANIFESTS, jsonpaths, redshift_load_sql

    lake = Lake(args.lake)
    # the COPY of the manifests reads its JSONPaths file from the lake
    lake.write_bytes(
        "catalog/redshift/batch_manifests.jsonpaths", jsonpaths(BATCH_MANIFESTS).encode()
    )
    for statement in redshift_load_sql(lake.root, args.iam_role, database=args.database):
        print(f"{statement};")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    import json

    from ingestion.s3_select import select

    result = select(args.uri, args.expression)
    for record in result.records:
        print(json.dumps(record))
    print(
        f"-- {len(result.records)} records, {result.bytes_scanned} bytes scanned", file=sys.stderr
    )
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from bi.charts import write_pngs
    from bi.dashboard import write_dashboard
    from bi.marts import load_dashboard_data

    print(write_dashboard(args.warehouse, args.out_dir))
    if args.png_dir:
        for path in write_pngs(load_dashboard_data(args.warehouse), args.png_dir):
            print(path)
    return 0


def cmd_hyper(args: argparse.Namespace) -> int:
    from bi.hyper_export import export_hyper

    for exported in export_hyper(args.warehouse, args.out):
        print(f"  {exported.mart:<28} {exported.rows:>9,} rows  {exported.columns:>3} columns")
    print(args.out)
    return 0


def cmd_tableau_tds(args: argparse.Namespace) -> int:
    from bi.tableau import write_tds

    print(write_tds(args.out_dir))
    return 0


def cmd_quicksight(args: argparse.Namespace) -> int:
    from bi import quicksight

    if args.action == "deploy":
        for operation, arn in quicksight.deploy_from_env(args.engine):
            print(f"  {operation:<18} {arn}")
        return 0
    requests = quicksight.validate_all(args.engine)  # offline: botocore's model only
    print(f"{len(requests)} {args.engine} requests (and their updates) match botocore's model")
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    from local_stack.replay import DEFAULT_DAY, dataset_selection, run_replay

    logging.getLogger("botocore").setLevel(logging.WARNING)  # one line per client otherwise
    source = Path(args.source) if args.source else verified_shipped_copy()
    lines = _text_lines(source)
    if args.all:
        indexes = dataset_selection(lines, day=None, count=None)
    elif args.lines is not None:
        indexes = dataset_selection(lines, day=None, count=args.lines, skip=args.skip)
    else:
        indexes = dataset_selection(lines, day=args.day or DEFAULT_DAY, count=None)
    if not indexes:
        raise SystemExit(f"{source}: no lines selected")
    report = run_replay(
        lines,
        indexes,
        dataset_key=f"raw/online_retail/{source.name}",
        local_lake=Lake(args.lake),
        warehouse=None if args.no_dbt else args.warehouse,
        rate=args.rate,
        per_request=args.lines_per_request,
        shards=args.shards,
        inject_bad=args.inject_bad,
    )
    print()
    print("\n".join(report.lines()))
    return 0 if not report.hops.reconciles() else 1


def _text_lines(path: Path) -> list[str]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return f.read().splitlines()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="online-retail", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", default=DEFAULT_LAKE, help="lake root (folder or s3://...)")
    parser.add_argument("--warehouse", default=DEFAULT_WAREHOUSE, help="DuckDB file")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="land, batch job, dbt build and docs, summary")
    run.add_argument("--source", help="local file to ingest (default: the shipped dataset)")
    run.set_defaults(func=cmd_run)

    land = sub.add_parser("land", help="copy a local file into the raw zone")
    land.add_argument("source")
    land.set_defaults(func=cmd_land)

    batch = sub.add_parser("batch", help="clean a raw-zone file into Parquet")
    batch.add_argument("source", help="key in the lake, e.g. raw/online_retail/x.csv.gz")
    batch.set_defaults(func=cmd_batch)

    fetch = sub.add_parser("fetch", help="download the original workbook from UCI")
    fetch.add_argument("--target-dir", default=str(PROJECT_DIR / "data" / "downloads"))
    fetch.add_argument("--url", default=UCI_URL)
    fetch.set_defaults(func=cmd_fetch)

    report = sub.add_parser("summary", help="counts and revenue by quarter")
    report.set_defaults(func=cmd_summary)

    catalog = sub.add_parser("catalog", help="register the lake's zones in the Glue catalog")
    catalog.add_argument("--database", help="Glue database (default: $GLUE_DATABASE)")
    catalog.set_defaults(func=cmd_catalog)

    redshift = sub.add_parser("redshift-sql", help="print Redshift's Spectrum schema and COPYs")
    redshift.add_argument("--iam-role", required=True, help="ARN of the role Redshift assumes")
    redshift.add_argument("--database", help="Glue database (default: $GLUE_DATABASE)")
    redshift.set_defaults(func=cmd_redshift_sql)

    s3_select = sub.add_parser("select", help="S3 Select over one Parquet/JSON/CSV object")
    s3_select.add_argument("uri", help="s3://bucket/key of one object of the lake")
    s3_select.add_argument("expression", help='e.g. "select count(*) from s3object"')
    s3_select.set_defaults(func=cmd_select)

    dashboard = sub.add_parser("dashboard", help="write the offline HTML dashboard")
    dashboard.add_argument("--out-dir", default=str(BI_OUT))
    dashboard.add_argument("--png-dir", help="also write the charts as PNGs here (docs/img)")
    dashboard.set_defaults(func=cmd_dashboard)

    hyper = sub.add_parser("hyper", help="export the marts to a Tableau Hyper extract")
    hyper.add_argument("--out", default=str(BI_OUT / "online_retail_marts.hyper"))
    hyper.set_defaults(func=cmd_hyper)

    tds = sub.add_parser("tableau-tds", help="Tableau's Redshift data source from $REDSHIFT_*")
    tds.add_argument("--out-dir", default=str(BI_OUT))
    tds.set_defaults(func=cmd_tableau_tds)

    qs = sub.add_parser("quicksight", help="validate or deploy the QuickSight definitions")
    qs.add_argument("action", choices=["validate", "deploy"])
    qs.add_argument("--engine", choices=["athena", "redshift"], default="athena")
    qs.set_defaults(func=cmd_quicksight)

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
    stream.set_defaults(func=cmd_stream)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.func(args)
    except (SourceFormatError, DigestMismatch, ReconciliationError, OSError) as error:
        # The user's input or environment, not a bug: one clear line, no traceback.
        print(f"online-retail {args.command}: error: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"online-retail {args.command}: {error.cmd[0]} failed (exit {error.returncode}); "
              "its output is above", file=sys.stderr)  # fmt: skip
        return error.returncode


if __name__ == "__main__":
    sys.exit(main())
