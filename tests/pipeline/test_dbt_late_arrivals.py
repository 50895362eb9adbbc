"""Late arrivals on DuckDB: lines received before the last build but landed after it.

`ingested_at` is when a line was received, not when its file reached the lake: Firehose
delivers a buffer up to 900 s after its first record (longer while it retries), and a
batch job stamps its lines with its start and lands them when it ends. The next build
must pick those lines up, and a line landed later than the look-back window covers must
fail the build by name rather than go missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from support import dbt_env, parse_csv_lines, run_dbt, write_csv

from ingestion.batch.job import run_batch_job
from ingestion.contract.cleaning import Lineage, clean_batch, raw_table
from ingestion.lake import TRANSFORMED_ZONE, Lake, land_file
from ingestion.stream.output import write_parquet

pytestmark = pytest.mark.pipeline

FIRST_BUILD_LINES = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # received, then built


# The lines' models and revenue reports, the tests on them alone (the revenue
# reconciliations among them) and the test that every landed line is in the facts: not
# the whole project, to keep the builds short.
FACT_AND_REPORTS = ["--select", "stg_online_retail__invoice_lines", "fct_sales_lines",
                    "int_revenue_by_period", "rpt_revenue_weekly", "rpt_revenue_monthly",
                    "rpt_revenue_quarterly",
                    "assert_every_landed_line_is_in_the_facts",
                    "--indirect-selection", "cautious",
                    "--exclude-resource-type", "unit_test"]  # fmt: skip


def _dbt(tmp: Path, warehouse: Path, *args: str):
    return run_dbt(list(args), tmp, dbt_env(tmp, tmp / "lake", warehouse))


def _firehose_delivery(lake: Lake, lines: list[str], first_line: int, received: datetime) -> None:
    """Lines cleaned by the project's rules and written by the stream path's own Parquet
    writer, as a Firehose delivery lands them, all received at `received`."""
    rows = parse_csv_lines(lines)
    lineage = Lineage.of_file(
        "stream:online-retail-lines", received, range(first_line, first_line + len(rows))
    )
    cleaned = clean_batch(raw_table(rows), lineage)
    assert cleaned.quarantined.num_rows == 0
    key = f"{TRANSFORMED_ZONE}/year=2010/month=12/delivery-{first_line}.parquet"
    write_parquet(lake, key, cleaned.landed)


def _facts(warehouse: Path) -> tuple[int, int, Decimal]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select count(*), count(distinct event_id), sum(line_amount) from fct_sales_lines"
        ).fetchone()


def test_lines_landed_after_a_build_but_received_before_it_reach_the_facts(
    slice_lines: list[str], tmp_path: Path
) -> None:
    header, body = slice_lines[0], slice_lines[1:2001]
    lake, warehouse = Lake(str(tmp_path / "lake")), tmp_path / "warehouse.duckdb"

    def batch(name: str, lines: list[str], received: datetime) -> None:
        source = land_file(str(write_csv(tmp_path / name, [header, *lines])), lake)
        run_batch_job(source, lake, ingested_at=received)

    # 0. a first build on a lake with nothing landed yet: the fact exists, empty
    # (the sources' own not_null tests need a file, so no tests in this build)
    done = _dbt(tmp_path, warehouse, "build", "--select", "+fct_sales_lines",
                "--exclude-resource-type", "test", "unit_test")  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:]
    # 1. a file received and landed, then built: the fact's latest ingested_at
    batch("first.csv", body[:1000], FIRST_BUILD_LINES)
    # (DuckDB's staging view over an empty zone is rebuilt once the zone has a file)
    done = _dbt(tmp_path, warehouse, "run", "--select", "+fct_sales_lines", "int_revenue_by_period")
    assert done.returncode == 0, done.stdout[-4000:]
    assert _facts(warehouse)[0] == 1000  # an empty fact has no watermark: all is read

    # 2. landed after that build, received before it: a batch job that ran six hours and
    #    a Firehose buffer held for its 900 s maximum
    batch("slow_job.csv", body[1000:1600], FIRST_BUILD_LINES - timedelta(hours=6))
    _firehose_delivery(
        lake, [header, *body[1600:]], 1601, FIRST_BUILD_LINES - timedelta(hours=0.25)
    )
    done = _dbt(tmp_path, warehouse, "build", *FACT_AND_REPORTS)
    assert done.returncode == 0, done.stdout[-6000:]  # revenue_reconciles_to_lines passes
    # the period revenue the reports read was updated, not rebuilt, and still reconciles
    assert "incremental model main.int_revenue_by_period" in done.stdout
    assert "ERROR=0" in done.stdout and "WARN=0" in done.stdout, done.stdout[-3000:]
    assert "revenue_reconciles_to_lines_rpt_revenue_weekly_week" in done.stdout
    rows = parse_csv_lines([header, *body])
    net = sum(int(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in rows)
    assert _facts(warehouse) == (2000, 2000, net)

    # 3. landed later than the look-back window (48 h by default) reaches: the build says
    #    so by name instead of leaving the lines out silently, and a full refresh takes them
    late = FIRST_BUILD_LINES - timedelta(hours=72)
    extra_lines = [header, *slice_lines[2001:2011]]
    _firehose_delivery(lake, extra_lines, 5001, late)
    done = _dbt(tmp_path, warehouse, "build", *FACT_AND_REPORTS)
    assert done.returncode == 1
    assert "Failure in test assert_every_landed_line_is_in_the_facts" in done.stdout
    assert "Got 10 results" in done.stdout, done.stdout[-4000:]
    done = _dbt(tmp_path, warehouse, "run", "--full-refresh", "--select", "+fct_sales_lines")
    assert done.returncode == 0, done.stdout[-4000:]
    extra = parse_csv_lines(extra_lines)
    extra_net = sum(int(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in extra)
    assert _facts(warehouse) == (2010, 2010, net + extra_net)
