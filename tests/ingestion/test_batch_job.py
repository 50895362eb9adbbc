"""The batch job on real slices: counts reconcile, re-runs replace, lineage holds."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from support import parse_csv_lines, write_csv

from ingestion.batch import job, sources
from ingestion.batch.job import run_batch_job
from ingestion.contract.schema import INVOICE_LINE_SCHEMA
from ingestion.lake import (
    MANIFEST_ZONE,
    QUARANTINE_ZONE,
    TRANSFORMED_ZONE,
    Lake,
    land_file,
    output_name,
)


def transformed(lake: Lake) -> ds.Dataset:
    return ds.dataset(lake.path(TRANSFORMED_ZONE), format="parquet", partitioning="hive")


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture
def slice_file(slice_lines: list[str], tmp_path: Path) -> Path:
    return write_csv(tmp_path / "online_retail_slice.csv.gz", slice_lines)


def test_every_line_lands_and_revenue_matches_the_source(slice_file, slice_lines, lake) -> None:
    result = run_batch_job(land_file(str(slice_file), lake), lake)
    rows = parse_csv_lines(slice_lines)
    assert result.rows_in == len(rows) == result.rows_landed
    assert result.rows_quarantined == 0

    table = transformed(lake).to_table()
    expected = sum(int(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in rows)
    landed = sum(
        q * p
        for q, p in zip(table["quantity"].to_pylist(), table["unit_price"].to_pylist(), strict=True)
    )
    assert landed == expected


def test_partitions_are_hive_year_month_with_snappy_and_microseconds(slice_file, lake) -> None:
    key = land_file(str(slice_file), lake)
    result = run_batch_job(key, lake)
    files = lake.files_under(TRANSFORMED_ZONE)
    assert len(files) == len(result.partitions) == 13  # Dec 2010 .. Dec 2011
    assert f"{TRANSFORMED_ZONE}/year=2010/month=12/{output_name(key)}.parquet" in files
    metadata = pq.ParquetFile(lake.path(files[0])).metadata
    assert metadata.row_group(0).column(0).compression == "SNAPPY"
    schema = pq.read_schema(lake.path(files[0]))
    assert schema.equals(INVOICE_LINE_SCHEMA)
    assert str(schema.field("invoiced_at").type) == "timestamp[us]"
    for key in files:  # every line sits in the partition of its invoice month
        year, month = (int(part.split("=")[1]) for part in key.split("/")[-3:-1])
        stamps = pq.read_table(lake.path(key), columns=["invoiced_at"])["invoiced_at"].to_pylist()
        assert {(s.year, s.month) for s in stamps} == {(year, month)}


def test_a_rerun_replaces_instead_of_duplicating(slice_file, lake) -> None:
    key = land_file(str(slice_file), lake)
    first = run_batch_job(key, lake)
    files = lake.files_under("transformed")
    second = run_batch_job(key, lake)
    assert lake.files_under("transformed") == files
    table = transformed(lake).to_table()
    assert table.num_rows == first.rows_landed == second.rows_landed
    assert len(set(table["event_id"].to_pylist())) == table.num_rows


def test_a_rerun_of_a_shorter_file_leaves_no_stale_partition(slice_lines, tmp_path, lake) -> None:
    key = land_file(str(write_csv(tmp_path / "online_retail.csv", slice_lines)), lake)
    run_batch_job(key, lake)
    # the arrival's raw object corrected in place, then the same arrival run again
    december_only = [slice_lines[0], *(line for line in slice_lines[1:] if "/2010 " in line)]
    lake.write_bytes(key, ("\n".join(december_only) + "\n").encode())
    result = run_batch_job(key, lake)
    assert list(result.partitions) == ["2010-12"]
    assert transformed(lake).to_table().num_rows == len(december_only) - 1


def test_lineage_points_back_to_the_exact_source_line(slice_file, slice_lines, lake) -> None:
    key = land_file(str(slice_file), lake)
    run_batch_job(key, lake)
    table = transformed(lake).to_table()
    rows = parse_csv_lines(slice_lines)
    for record in table.slice(0, 2000).to_pylist():
        assert record["source_file"] == key
        assert record["event_id"] == f"{key}:{record['source_line_number']}"
        source = rows[record["source_line_number"] - 2]  # line 1 is the header
        assert source["InvoiceNo"] == record["invoice_no"]
        assert source["StockCode"] == record["stock_code"]
        assert Decimal(source["UnitPrice"]) == record["unit_price"]


def test_bad_lines_are_quarantined_with_line_field_and_reason(slice_lines, tmp_path, lake) -> None:
    lines = list(slice_lines[:1001])
    lines[5] = lines[5].replace("12/1/2010", "13/45/2010")  # line 6: impossible date
    lines[9] = "536999,85123A,TOO SHORT,6"  # line 10: four fields
    lines[20] = lines[20].replace(",United Kingdom", ",")  # line 21: no country
    key = land_file(str(write_csv(tmp_path / "bad.csv", lines)), lake)
    result = run_batch_job(key, lake)

    assert result.rows_in == 1000
    assert (result.rows_landed, result.rows_quarantined) == (997, 3)
    quarantine_key = f"{QUARANTINE_ZONE}/{output_name(key)}.parquet"
    quarantine = pq.read_table(lake.path(quarantine_key)).to_pylist()
    found = {(q["source_line_number"], q["field"]) for q in quarantine}
    assert found == {(6, "InvoiceDate"), (10, "(line)"), (21, "Country")}
    by_line = {q["source_line_number"]: q for q in quarantine}
    assert "13/45/2010" in by_line[6]["reason"]
    assert by_line[10]["reason"] == "expected 8 fields, found 4"
    assert json.loads(by_line[10]["raw_record"]) == {"line": "536999,85123A,TOO SHORT,6"}
    assert result.quarantine_reasons == {"InvoiceDate": 1, "(line)": 1, "Country": 1}


def test_the_manifest_proves_the_count(slice_file, lake) -> None:
    key = land_file(str(slice_file), lake)
    result = run_batch_job(key, lake)
    manifest = json.loads(lake.read_bytes(f"{MANIFEST_ZONE}/{output_name(key)}.json"))
    assert manifest["rows_in"] == manifest["rows_landed"] + manifest["rows_quarantined"]
    assert manifest["rows_in"] == result.rows_in
    assert manifest["source_file"] == key
    assert manifest["encoding"] == "utf-8"
    assert sum(manifest["partitions"].values()) == manifest["rows_landed"]


def test_an_empty_quarantine_file_is_still_written(slice_file, lake) -> None:
    key = land_file(str(slice_file), lake)
    run_batch_job(key, lake)
    quarantine = pq.read_table(lake.path(f"{QUARANTINE_ZONE}/{output_name(key)}.parquet"))
    assert quarantine.num_rows == 0  # readers of the zone always find this run's file


def test_months_that_come_back_stay_one_file_in_line_order(
    slice_lines, tmp_path, lake, monkeypatch
) -> None:
    # Months interleaved, small chunks, two writers open at a time: months are closed
    # and reopened again and again, and each must still be one file in line order.
    monkeypatch.setattr(sources, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(job, "MAX_OPEN_PARTITIONS", 2)
    header, body = slice_lines[0], slice_lines[1:]
    by_month: dict[str, list[str]] = {}
    for line in body:
        month = next(csv.reader([line]))[4].split(" ")[0].split("/")
        by_month.setdefault(f"{int(month[2]):04d}-{int(month[0]):02d}", []).append(line)
    interleaved = [group[i] for i in range(max(map(len, by_month.values())))
                   for group in by_month.values() if i < len(group)]  # fmt: skip
    path = write_csv(tmp_path / "interleaved.csv", [header, *interleaved])
    result = run_batch_job(land_file(str(path), lake), lake)

    assert result.rows_landed == len(body)
    expected: dict[str, list[int]] = {}
    for number, line in enumerate(interleaved, start=2):
        month = next(csv.reader([line]))[4].split(" ")[0].split("/")
        expected.setdefault(f"{int(month[2]):04d}-{int(month[0]):02d}", []).append(number)
    files = lake.files_under(TRANSFORMED_ZONE)
    assert len(files) == len(expected) == len(result.partitions)
    for key in files:
        year, month = (int(part.split("=")[1]) for part in key.split("/")[-3:-1])
        numbers = pq.read_table(lake.path(key))["source_line_number"].to_pylist()
        assert numbers == expected[f"{year:04d}-{month:02d}"]
    assert not [k for k in lake.files_under("transformed") if k.endswith(".reopened")]
