"""A lake fed only by the stream: transformed Parquet and nothing else (no batch manifest,
no quarantine file). dbt build succeeds on it with correct figures and zero counts, with
no header-only file run through the batch job to give the empty zones a file."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from support import dbt_env, parse_csv_lines, run_dbt

from ingestion.contract.cleaning import Lineage, clean_batch, raw_table
from ingestion.lake import MANIFEST_ZONE, QUARANTINE_ZONE, TRANSFORMED_ZONE, Lake
from ingestion.stream.output import write_parquet

pytestmark = pytest.mark.pipeline


def test_a_stream_only_lake_builds_with_empty_manifest_and_quarantine(
    slice_lines: list[str], tmp_path: Path
) -> None:
    # 200 real lines of 1 December 2010, cleaned by the project's own rules and written by
    # the stream path's own Parquet writer, as the Firehose delivery would land them
    rows = parse_csv_lines(slice_lines[:201])
    lineage = Lineage.of_file(
        "stream:online-retail-lines", datetime(2026, 1, 1, tzinfo=UTC), range(2, 202)
    )
    cleaned = clean_batch(raw_table(rows), lineage)
    assert cleaned.landed.num_rows == 200 and cleaned.quarantined.num_rows == 0
    lake = Lake(str(tmp_path / "lake"))
    write_parquet(lake, f"{TRANSFORMED_ZONE}/year=2010/month=12/delivery-1.parquet", cleaned.landed)
    assert lake.files_under(MANIFEST_ZONE) == [] and lake.files_under(QUARANTINE_ZONE) == []

    warehouse = tmp_path / "warehouse.duckdb"
    done = run_dbt(["build"], tmp_path, dbt_env(tmp_path, tmp_path / "lake", warehouse))
    assert done.returncode == 0, done.stdout[-6000:]
    assert "ERROR=0" in done.stdout and "WARN=0" in done.stdout, done.stdout[-3000:]

    net = sum(int(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in rows)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        lines = con.execute("select count(*), sum(line_amount) from fct_sales_lines").fetchone()
        month = con.execute("select net_revenue from rpt_revenue_monthly").fetchall()
        manifests = con.execute("select count(*) from stg_online_retail__batch_manifests")
        assert manifests.fetchone() == (0,)
        quarantined = con.execute("select count(*) from stg_online_retail__quarantined_lines")
        assert quarantined.fetchone() == (0,)
    assert lines == (200, net)
    assert month == [(net,)]
