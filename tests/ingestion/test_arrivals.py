"""Every arrival in the raw zone keeps its own key (issue 10, defect 7): two daily drops
with the same file name both stay in the lake, and the same bytes landed twice are one
arrival, whose outputs a re-run replaces."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from support import parse_csv_lines, write_csv

from ingestion.batch.job import run_batch_job
from ingestion.lake import (
    MANIFEST_ZONE,
    QUARANTINE_ZONE,
    RAW_ZONE,
    TRANSFORMED_ZONE,
    Lake,
    land_file,
)

MONDAY = datetime(2026, 11, 30, 9, tzinfo=UTC)
TUESDAY = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture
def drops(slice_lines: list[str], tmp_path: Path) -> tuple[Path, Path]:
    """Two different daily exports, three real lines each, both called daily_export.csv."""
    header, found = slice_lines[0], []
    for day, lines in (("monday", slice_lines[1:4]), ("tuesday", slice_lines[4:7])):
        (tmp_path / day).mkdir()
        found.append(write_csv(tmp_path / day / "daily_export.csv", [header, *lines]))
    return found[0], found[1]


def landed_rows(lake: Lake) -> list[dict]:
    table = ds.dataset(lake.path(TRANSFORMED_ZONE), format="parquet", partitioning="hive")
    return table.to_table(columns=["event_id", "invoice_no", "stock_code", "quantity"]).to_pylist()


def source_rows(path: Path) -> list[tuple[str, str, int]]:
    rows = parse_csv_lines(path.read_text("utf-8").splitlines())
    return [(r["InvoiceNo"], r["StockCode"], int(r["Quantity"])) for r in rows]


def test_two_drops_with_the_same_name_both_stay_in_the_lake(lake, drops) -> None:
    first, second = drops
    keys = [land_file(str(first), lake, MONDAY), land_file(str(second), lake, TUESDAY)]
    results = [run_batch_job(key, lake) for key in keys]

    assert keys[0] != keys[1]
    assert len(lake.files_under(RAW_ZONE)) == 2
    expected = sorted(source_rows(first) + source_rows(second))
    rows = landed_rows(lake)
    assert len(expected) == 6
    assert sorted((r["invoice_no"], r["stock_code"], r["quantity"]) for r in rows) == expected
    assert len({r["event_id"] for r in rows}) == 6  # event ids stay unique per arrival
    assert sum(r.rows_landed for r in results) == 6
    # each arrival keeps its own quarantine file and manifest
    assert len(lake.files_under(QUARANTINE_ZONE)) == 2
    manifests = [json.loads(lake.read_bytes(k)) for k in lake.files_under(MANIFEST_ZONE)]
    assert sorted(m["source_file"] for m in manifests) == sorted(keys)
    assert sum(m["rows_landed"] for m in manifests) == 6


def test_the_same_drop_twice_is_one_arrival(lake, drops) -> None:
    first, _ = drops
    keys = [land_file(str(first), lake, MONDAY), land_file(str(first), lake, MONDAY)]
    keys.append(land_file(str(first), lake, TUESDAY))  # re-sent the next day: same bytes
    for key in keys:
        run_batch_job(key, lake)

    assert len(set(keys)) == 1
    assert lake.files_under(RAW_ZONE) == [keys[0]]
    rows = landed_rows(lake)
    assert sorted((r["invoice_no"], r["stock_code"], r["quantity"]) for r in rows) == sorted(
        source_rows(first)
    )
    assert len({r["event_id"] for r in rows}) == 3
    assert len(lake.files_under(MANIFEST_ZONE)) == len(lake.files_under(QUARANTINE_ZONE)) == 1


def test_the_raw_key_names_the_day_the_digest_and_the_name(lake, drops) -> None:
    import hashlib

    first, _ = drops
    key = land_file(str(first), lake, MONDAY)
    digest = hashlib.sha256(first.read_bytes()).hexdigest()[:12]
    assert key == f"{RAW_ZONE}/ingest_date=2026-11-30/{digest}-daily_export.csv"
    assert lake.read_bytes(key) == first.read_bytes()
