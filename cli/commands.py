"""What each `online-retail` subcommand does: one `cmd_<name>(args)` per subcommand,
each returning the exit code. Heavy imports (dbt, DuckDB, moto, BI) happen inside the
command that needs them, so `online-retail --help` stays fast."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ingestion.batch.dataset import PROJECT_DIR, fetch_original, verified_shipped_copy
from ingestion.batch.job import BatchResult, run_batch_job
from ingestion.errors import OnlineRetailError
from ingestion.lake import Lake, arrival_key, land_file
from local_stack.dbt_build import run_dbt

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


def cmd_run(args: argparse.Namespace) -> int:
    lake = Lake(args.lake)
    source = Path(args.source) if args.source else verified_shipped_copy()
    print(f"1/5 landing {source} in {lake.uri('raw/online_retail')}")
    key = land_file(str(source), lake)
    print("2/5 batch job: raw -> transformed Parquet + quarantine")
    result = run_batch_job(key, lake)
    _print_batch(result)
    print("3/5 dbt build (DuckDB)")
    run_dbt(["build"], args.lake, args.warehouse)
    print("4/5 dbt docs generate --static")
    run_dbt(["docs", "generate", "--static"], args.lake, args.warehouse)
    from bi.dashboard import write_dashboard
    from bi.summary import summary

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
    from bi.summary import summary

    print(summary(args.warehouse))
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from ingestion.catalog.glue import register_lake

    changes = register_lake(Lake(args.lake), database=args.database)
    print(changes.describe())
    return 0


def cmd_redshift_sql(args: argparse.Namespace) -> int:
    from ingestion.catalog.redshift_sql import jsonpaths, redshift_load_sql
    from ingestion.catalog.tables import BATCH_MANIFESTS

    statements = redshift_load_sql(args.lake, args.iam_role, database=args.database)
    lake = Lake(args.lake)
    # the COPY of the manifests reads its JSONPaths file from the lake
    lake.write_bytes(
        "catalog/redshift/batch_manifests.jsonpaths", jsonpaths(BATCH_MANIFESTS).encode()
    )
    for statement in statements:
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
    from local_stack.fixtures import DEFAULT_DAY, dataset_selection
    from local_stack.replay import run_replay

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
        raise OnlineRetailError(f"{source}: no lines selected to replay", field="--day")
    report = run_replay(
        lines,
        indexes,
        # the batch job's ids for this file (its arrival key), so a replay and the batch
        # job over the same file collapse to the same rows downstream
        dataset_key=arrival_key(str(source), Lake(args.lake)),
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


def cmd_reingest_errors(args: argparse.Namespace) -> int:
    from ingestion.stream.reingest import reingest_errors

    if "://" not in args.lake and not Path(args.lake).is_dir():
        raise OnlineRetailError(f"{args.lake}: no such lake folder", field="--lake")
    lake = Lake(args.lake)
    stream_name = args.stream_name or os.environ.get("STREAM_NAME", "online-retail-invoice-lines")
    print(f"reingest-errors: {lake.uri(args.prefix)} (stream {stream_name})")
    report = reingest_errors(lake, stream_name, args.prefix)
    print("\n".join(report.lines()))
    return 0


def _text_lines(path: Path) -> list[str]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return f.read().splitlines()
