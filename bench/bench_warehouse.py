"""Benchmark the dbt project at 1x, 10x and 100x the real dataset, and on PostgreSQL.

    make bench-warehouse             # 1x, 10x, 100x, then PostgreSQL at 1x
    make bench-warehouse SCALES=1,10 # the same without 100x (the 100x lake is ~1 GiB)
    .venv/bin/python bench/bench_warehouse.py --scales 1 --no-postgres --verify-up-to 0

For each scale, on a lake of the real transformed zone copied N times (`warehouse_lake`,
cached under bench/out/warehouse so reruns skip it):

1. a full `dbt build` on a new DuckDB file (every model, every test): wall time, CPU time
   and peak memory of the dbt process (`warehouse_runs`), and the DuckDB file's size;
2. one new day lands (1,632 * N lines, one more file), and an incremental
   `dbt build --vars '{test_window_days: 2}'` runs on the same file: the facts, and the
   marts built incrementally, take the new lines; the line-grain tests look at the lines
   landed in the last 2 days; its time against the full build's is the ratio the issue
   asks for (target: at most 20 % at 10x and 100x);
3. up to --verify-up-to (default 10x), a second full build of the lake with the new day,
   on a new file, and every mart of the incremental build compared with it row for row:
   the incremental marts carry exactly the figures a rebuild gives;
4. at 100x (or whatever scale is largest), the targets: full build under 5 minutes and
   8 GiB on 2 cores.

Then the same two builds on PostgreSQL at 1x (a throw-away server, as tests/targets
starts it; the lake loaded into native tables the way tests/targets loads it), beside
DuckDB's. Progress goes to stdout and, with each dbt run's own output, to
bench/out/warehouse/bench.log; the figures to bench/out/warehouse/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import duckdb

# bench/ is the script's folder; tests/targets holds the PostgreSQL server the tests use.
from warehouse_lake import land_new_day, remove_new_day, scaled_lake
from warehouse_runs import REPO, dbt_env, run_dbt

sys.path.insert(0, str(REPO / "tests" / "targets"))

DATASET = REPO / "data" / "online_retail.csv.gz"
CACHE = REPO / "bench" / "out" / "warehouse"
MARTS_SCHEMA = "online_retail"
FULL_SECONDS_TARGET = 300
FULL_PEAK_TARGET_MIB = 8 * 1024
INCREMENTAL_RATIO_TARGET = 0.20


def say(message: str) -> None:
    print(message, flush=True)
    with (CACHE / "bench.log").open("a") as log:
        log.write(f"{time.strftime('%H:%M:%S')} {message}\n")


def _size_mib(path: Path) -> float:
    files = [path, path.with_name(path.name + ".wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 2**20


def _marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main' "
        "and table_type = 'BASE TABLE' and (table_name like 'fct_%' or table_name like 'dim_%' "
        "or table_name like 'rpt_%') order by 1"
    ).fetchall()
    return [name for (name,) in rows]


def compare_marts(built: Path, reference: Path) -> list[str]:
    """Every mart of `built` equal, row for row, to `reference`'s; the differing marts."""
    con = duckdb.connect()
    con.execute(f"attach '{built}' as built (read_only)")
    con.execute(f"attach '{reference}' as reference (read_only)")
    con.execute("use built")
    differing = []
    for mart in _marts(con):
        (diff,) = con.execute(
            f"select count(*) from ((select * from built.main.{mart} except all "
            f"select * from reference.main.{mart}) union all (select * from "
            f"reference.main.{mart} except all select * from built.main.{mart}))"
        ).fetchone()
        if diff:
            differing.append(f"{mart} ({diff} rows)")
    con.close()
    return differing


def lake_figures(lake_root: str) -> tuple[int, float]:
    """Lines and net revenue straight from the lake's Parquet, with no dbt in between."""
    glob = f"{lake_root}/transformed/online_retail/invoice_lines/*/*/*.parquet"
    con = duckdb.connect()
    lines, net = con.execute(
        f"select count(*), sum(quantity * unit_price) from read_parquet('{glob}')"
    ).fetchone()
    con.close()
    return lines, float(net)


def bench_duckdb(scale: int, window_days: int, verify: bool) -> dict:
    say(f"== {scale}x: the lake")
    lake = scaled_lake(CACHE, DATASET, scale, log=say)
    remove_new_day(lake)
    work = CACHE / "runs" / f"x{scale}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "dbt.log"
    warehouse = work / "warehouse.duckdb"
    env = dbt_env(work, LAKE_ROOT=lake.root, DUCKDB_PATH=str(warehouse))
    lines, _ = lake_figures(lake.root)
    say(f"== {scale}x: full dbt build over {lines:,} lines")
    full = run_dbt(f"{scale}x full", ["build"], work, env, log)
    size = _size_mib(warehouse)
    say(f"   {full.seconds:.1f} s, {full.cpu_seconds:.1f} CPU s, {full.peak_mib:,.0f} MiB, "
        f"file {size:,.0f} MiB; {full.status}")  # fmt: skip
    new_lines = land_new_day(CACHE, DATASET, lake, scale)
    try:
        say(f"== {scale}x: incremental dbt build after one new day ({new_lines:,} lines)")
        window = json.dumps({"test_window_days": window_days})
        incremental = run_dbt(f"{scale}x incremental", ["build", "--vars", window], work, env, log)
        say(f"   {incremental.seconds:.1f} s = {incremental.seconds / full.seconds:.0%} of "
            f"the full build; {incremental.status}")  # fmt: skip
        lines_after, net_after = lake_figures(lake.root)
        con = duckdb.connect(str(warehouse), read_only=True)
        got_lines, got_net = con.execute(
            "select (select count(*) from fct_sales_lines), "
            "(select sum(net_revenue) from rpt_revenue_monthly)"
        ).fetchone()
        con.close()
        if (got_lines, round(float(got_net), 2)) != (lines_after, round(net_after, 2)):
            sys.exit(f"{scale}x: after the new day the warehouse has {got_lines:,} lines and "
                     f"{got_net} net, the lake {lines_after:,} and {net_after:.2f}")  # fmt: skip
        rebuilt = None
        if verify:
            say(f"== {scale}x: a full rebuild with the new day, to compare the marts with")
            rework = work / "rebuild"
            rework.mkdir()
            reference = rework / "warehouse.duckdb"
            renv = dbt_env(rework, LAKE_ROOT=lake.root, DUCKDB_PATH=str(reference))
            rebuilt = run_dbt(f"{scale}x full with the day", ["build"], rework, renv, log)
            differing = compare_marts(warehouse, reference)
            if differing:
                sys.exit(f"{scale}x: the incremental marts differ from a rebuild: {differing}")
            say(f"   every mart equals the rebuild's; rebuild {rebuilt.seconds:.1f} s")
    finally:
        remove_new_day(lake)
    return {
        "scale": scale, "lines": lines, "new_day_lines": new_lines, "file_mib": size,
        "net_revenue_after_day": round(net_after, 2),
        "full": asdict(full), "incremental": asdict(incremental),
        "rebuild": asdict(rebuilt) if rebuilt else None,
    }  # fmt: skip


def bench_postgres(window_days: int) -> dict | None:
    from pg_server import SKIP_REASON, find_pg_bin, load_lake, postgres_server

    from ingestion.catalog.tables import RAW_SCHEMA

    pg_bin = find_pg_bin()
    if pg_bin is None:
        say(f"== PostgreSQL skipped: {SKIP_REASON}")
        return None
    lake = scaled_lake(CACHE, DATASET, 1, log=say)
    remove_new_day(lake)
    work = CACHE / "runs" / "postgres"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "dbt.log"
    try:
        with postgres_server(pg_bin) as pg:
            env = dbt_env(work, LAKE_ROOT=lake.root, **pg.env())
            say("== PostgreSQL 1x: load the lake (the COPY path), full dbt build")
            started = time.perf_counter()
            load_lake(pg, lake, RAW_SCHEMA)
            load_seconds = time.perf_counter() - started
            args = ["build", "--target", "postgres"]
            full = run_dbt("postgres 1x full", args, work, env, log, postgres_port=pg.port)
            say(f"   load {load_seconds:.1f} s; build {full.seconds:.1f} s, server CPU "
                f"{full.server_cpu_seconds:.1f} s, dbt CPU {full.cpu_seconds:.1f} s; "
                f"{full.status}")  # fmt: skip
            land_new_day(CACHE, DATASET, lake, 1)
            started = time.perf_counter()
            load_lake(pg, lake, RAW_SCHEMA)  # the whole lake again, as tests/targets does
            reload_seconds = time.perf_counter() - started
            window = ["--vars", json.dumps({"test_window_days": window_days})]
            incremental = run_dbt("postgres 1x incremental", [*args, *window], work, env, log,
                                  postgres_port=pg.port)  # fmt: skip
            say(
                f"   reload {reload_seconds:.1f} s; incremental {incremental.seconds:.1f} s = "
                f"{incremental.seconds / full.seconds:.0%} of full; {incremental.status}"
            )
            full.extra["load_seconds"] = load_seconds
            incremental.extra["load_seconds"] = reload_seconds
    finally:
        remove_new_day(lake)
    return {"full": asdict(full), "incremental": asdict(incremental)}


def _cpu(run: dict) -> float:
    return run["cpu_seconds"] + run["server_cpu_seconds"]


def _row(scale: str, engine: str, build: str, run: dict, file_mib: str, full=None) -> str:
    cpu = f"{run['cpu_seconds']:.1f}"
    if run["server_cpu_seconds"]:
        cpu = f"{run['server_cpu_seconds']:.1f} server + {run['cpu_seconds']:.1f} dbt"
    ratios = "| | |"
    if full:
        ratios = f"| {run['seconds'] / full['seconds']:.0%} | {_cpu(run) / _cpu(full):.0%} |"
    return (f"| {scale} | {engine} | {build} | {run['seconds']:.1f} | {cpu} "
            f"| {run['peak_mib']:,.0f} | {file_mib} {ratios}")  # fmt: skip


def report(duck: list[dict], postgres: dict | None) -> str:
    lines = [
        "| scale (lines) | engine | build | seconds | CPU s | peak MiB | file MiB "
        "| incr/full (time) | incr/full (CPU) |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in duck:
        scale = f"{r['scale']}x ({r['lines']:,})"
        lines.append(_row(scale, "DuckDB", "full", r["full"], f"{r['file_mib']:,.0f}"))
        day = f"+1 day ({r['new_day_lines']:,})"
        lines.append(_row(scale, "DuckDB", day, r["incremental"], "", r["full"]))
        if r["rebuild"]:
            lines.append(_row(scale, "DuckDB", "full, with the day", r["rebuild"], ""))
    if postgres:
        lines.append(_row("1x", "PostgreSQL", "full", postgres["full"], ""))
        day = postgres["incremental"]
        lines.append(_row("1x", "PostgreSQL", "+1 day", day, "", postgres["full"]))
        lines.append(f"PostgreSQL loads (not in the build times): "
                     f"{postgres['full']['extra']['load_seconds']:.1f} s the lake, "
                     f"{day['extra']['load_seconds']:.1f} s again with the day")  # fmt: skip
    lines.append("")
    for r in duck:
        ratio = r["incremental"]["seconds"] / r["full"]["seconds"]
        if r["scale"] >= 10:
            verdict = "met" if ratio <= INCREMENTAL_RATIO_TARGET else "NOT met"
            lines.append(f"target {r['scale']}x incremental day <= 20% of full: {ratio:.0%}, "
                         f"{verdict}")  # fmt: skip
        if r["scale"] >= 100:
            full = r["full"]
            ok = full["seconds"] <= FULL_SECONDS_TARGET and full["peak_mib"] <= FULL_PEAK_TARGET_MIB
            lines.append(f"target {r['scale']}x full build < 300 s and < 8 GiB: "
                         f"{full['seconds']:.0f} s, {full['peak_mib'] / 1024:.1f} GiB, "
                         f"{'met' if ok else 'NOT met'}")  # fmt: skip
    for r in duck:
        for label in ("full", "incremental"):
            slowest = ", ".join(f"{n} {s:.1f}" for n, s in r[label]["slowest"])
            lines.append(f"slowest nodes, {r['scale']}x {label}: {slowest}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1,10,100", help="copies, comma-separated")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--window-days", type=int, default=2)
    parser.add_argument("--verify-up-to", type=int, default=10)
    parser.add_argument("--report", nargs="+", type=Path, help="only print saved results")
    args = parser.parse_args()
    if args.report:
        saved = [json.loads(path.read_text()) for path in args.report]
        duck = sorted((r for s in saved for r in s["duckdb"]), key=lambda r: r["scale"])
        postgres = next((s["postgres"] for s in saved if s["postgres"]), None)
        print(report(duck, postgres))
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    say(f"bench-warehouse: scales {args.scales}, load average {load[0]:.1f} {load[1]:.1f}, "
        f"nproc {len(os.sched_getaffinity(0))}")  # fmt: skip
    duck = [
        bench_duckdb(int(scale), args.window_days, int(scale) <= args.verify_up_to)
        for scale in args.scales.split(",")
    ]
    postgres = None if args.no_postgres else bench_postgres(args.window_days)
    table = report(duck, postgres)
    results = {"duckdb": duck, "postgres": postgres, "load_average_end": os.getloadavg()}
    results_file = CACHE / f"results-{args.scales.replace(',', '-')}.json"
    results_file.write_text(json.dumps(results, indent=2))
    say("\n" + table)


if __name__ == "__main__":
    main()
