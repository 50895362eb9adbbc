"""The whole dbt project on a real PostgreSQL server (the engine Redshift's adapter
inherits from), built the way production builds it: a first load, then a second file and
an incremental run. The second file arrives late: its lines were received (ingested_at)
before the latest line of the first build, as a batch job or a Firehose buffer lands
them after a build. Every mart must equal the DuckDB build of the same lake, row for row,
and the revenue figures the ones this test computes from the CSV lines itself."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest
from dbt_runs import mart_models
from pg_server import SKIP_REASON, PostgresServer, find_pg_bin, load_lake, postgres_server
from support import run_dbt, write_csv

from ingestion.batch.job import run_batch_job
from ingestion.catalog.tables import RAW_SCHEMA
from ingestion.lake import Lake, land_file

LAKE_SCHEMA = RAW_SCHEMA  # the postgres sources' schema (the sources yml's default)
MARTS_SCHEMA = "online_retail"  # profiles.yml's postgres schema


@dataclass
class Built:
    pg: PostgresServer
    duck: duckdb.DuckDBPyConnection
    marts: list[str]
    first_part: list[str]
    second_part: list[str]
    second_run: dict[str, dict]
    reread_lines: int  # lines of the first build the second one reads again (look-back)

    def pg_rows(self, sql: str) -> list[tuple]:
        with self.pg.connect() as con, con.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
        con.close()
        return rows


def _assert_built(done, label: str) -> None:
    assert done.returncode == 0, f"{label}\n{done.stdout[-6000:]}"
    assert "ERROR=0" in done.stdout and "WARN=0" in done.stdout, done.stdout[-3000:]


@pytest.fixture(scope="module")
def built(dataset_lines: list[str], tmp_path_factory: pytest.TempPathFactory):
    pg_bin = find_pg_bin()
    if pg_bin is None:
        pytest.skip(SKIP_REASON)
    tmp = tmp_path_factory.mktemp("postgres")
    header, body = dataset_lines[0], dataset_lines[1:]
    cut = len(body) * 3 // 5  # the file is in time order: Dec 2010 - Jul 2011, then the rest
    first_part = [header, *body[:cut]]
    # two broken lines in the second file, so the quarantine zone has rows to load too
    broken = ["581588,X,TOO SHORT", "581589,22138,BOX,six,12/9/2011 12:50,1.95,,France"]
    second_part = [header, *body[cut:], *broken]
    lake = Lake(str(tmp / "lake"))

    def ingest(name: str, lines: list[str], received: datetime) -> None:
        run_batch_job(land_file(str(write_csv(tmp / name, lines)), lake), lake, received)

    # The first part lands as two files received three days apart, the second part
    # after the first build although received six hours before that build's latest line.
    latest = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    older = [header, *body[: cut // 2]]  # beyond the 48 h look-back of the next build
    recent = [header, *body[cut // 2 : cut]]
    with postgres_server(pg_bin) as pg:
        env = {**pg.env(), "LAKE_ROOT": lake.root}
        # 1. the first part: loaded (the COPY path) and built from scratch
        ingest("online_retail_2011h1a.csv.gz", older, latest - timedelta(hours=72))
        ingest("online_retail_2011h1b.csv.gz", recent, latest)
        load_lake(pg, lake, LAKE_SCHEMA)
        _assert_built(run_dbt(["build", "--target", "postgres"], tmp / "pg1", env), "first")
        # 2. the second file, landed late: the lake reloaded, staging and facts built
        #    incrementally
        ingest("online_retail_2011h2.csv.gz", second_part, latest - timedelta(hours=6))
        load_lake(pg, lake, LAKE_SCHEMA)
        _assert_built(run_dbt(["build", "--target", "postgres"], tmp / "pg2", env), "second")
        results = json.loads((tmp / "pg2" / "target" / "run_results.json").read_text())
        second_run = {r["unique_id"].split(".")[-1]: r for r in results["results"]}
        # 3. DuckDB, from scratch on the same lake
        warehouse = tmp / "warehouse.duckdb"
        duck_env = {"LAKE_ROOT": lake.root, "DUCKDB_PATH": str(warehouse)}
        _assert_built(run_dbt(["build", "--target", "duckdb"], tmp / "duck", duck_env), "duckdb")
        with duckdb.connect(str(warehouse), read_only=True) as duck:
            yield Built(pg, duck, mart_models(tmp / "duck"), first_part, second_part, second_run,
                        reread_lines=len(recent) - 1)  # fmt: skip


def test_the_late_second_file_was_built_incrementally(built: Built) -> None:
    second_file_lines = len(built.second_part) - 1 - 2  # header and the two broken lines
    for model in ("stg_online_retail__invoice_lines", "fct_sales_lines"):
        result = built.second_run[model]
        assert result["status"] == "success"
        # delete+insert: the insert took the late file's lines, and again the lines of
        # the first build within the look-back (upserted on event_id: no row doubled),
        # but not the older file's
        expected = second_file_lines + built.reread_lines
        assert result["adapter_response"]["rows_affected"] == expected, model
    (lines,) = built.pg_rows(
        f"select count(*), count(distinct event_id) from {MARTS_SCHEMA}.fct_sales_lines"
    )
    assert lines == (len(built.first_part) - 1 + second_file_lines,) * 2
    (materialized,) = built.pg_rows(
        "select count(*) from information_schema.tables where table_type = 'BASE TABLE' "
        f"and table_schema = '{MARTS_SCHEMA}' and table_name = 'stg_online_retail__invoice_lines'"
    )
    assert materialized == (1,)


def test_every_mart_equals_the_duckdb_mart_row_for_row(built: Built) -> None:
    assert len(built.marts) >= 13, built.marts
    for mart in built.marts:
        duck = built.duck.execute(f"select * from main.{mart}")
        duck_columns = [d[0] for d in duck.description]
        duck_rows = Counter(duck.fetchall())
        with built.pg.connect() as con, con.cursor() as cur:
            cur.execute(f"select * from {MARTS_SCHEMA}.{mart}")
            pg_columns = [d[0] for d in cur.description]
            pg_rows = Counter(cur.fetchall())
        con.close()
        assert pg_columns == duck_columns, mart
        assert sum(pg_rows.values()) == sum(duck_rows.values()) > 0, mart
        only_pg, only_duck = pg_rows - duck_rows, duck_rows - pg_rows
        assert not only_pg and not only_duck, (mart, list(only_pg)[:3], list(only_duck)[:3])


def test_postgres_marts_carry_the_figures_of_the_source_lines(built: Built) -> None:
    rows = list(csv.DictReader([*built.first_part, *built.second_part[1:-2]]))
    by_month: dict[date, Decimal] = defaultdict(Decimal)
    for row in rows:
        day = datetime.strptime(row["InvoiceDate"], "%m/%d/%Y %H:%M").date()
        by_month[day.replace(day=1)] += int(row["Quantity"]) * Decimal(row["UnitPrice"])
    got = dict(
        built.pg_rows(f"select period_start, net_revenue from {MARTS_SCHEMA}.rpt_revenue_monthly")
    )
    assert got == by_month
    assert round(sum(got.values()), 2) == Decimal("9747747.93")
    (customers,) = built.pg_rows(f"select count(*) from {MARTS_SCHEMA}.dim_customers")
    (invoices,) = built.pg_rows(f"select count(*) from {MARTS_SCHEMA}.fct_invoices")
    assert (customers[0], invoices[0]) == (4_372, 25_900)
    quarantined = built.pg_rows(
        "select source_line_number, failed_field "
        f"from {MARTS_SCHEMA}.stg_online_retail__quarantined_lines"
    )
    assert sorted(quarantined) == [
        (len(built.second_part) - 1, "(line)"),
        (len(built.second_part), "Quantity"),
    ]
