"""The Tableau Hyper extract: every mart written, then read back with the Hyper API and
compared to the DuckDB mart row for row, with the same column names and types."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from bi_support import BiRun

from bi.hyper_export import BI_MARTS, HYPER_SCHEMA, export_hyper

pytest.importorskip("tableauhyperapi")
from tableauhyperapi import (
    Connection,
    HyperProcess,
    Nullability,
    SqlType,
    TableName,
    Telemetry,
)

# DuckDB's type names and the Hyper type each must have become.
EXPECTED_TYPE = {
    "VARCHAR": SqlType.text(),
    "INTEGER": SqlType.int(),
    "BIGINT": SqlType.big_int(),
    "BOOLEAN": SqlType.bool(),
    "DATE": SqlType.date(),
    "TIMESTAMP": SqlType.timestamp(),
    "TIMESTAMPWITHTIMEZONE": SqlType.timestamp_tz(),
    "DECIMAL(18,3)": SqlType.numeric(18, 3),
    "DECIMAL(12,3)": SqlType.numeric(12, 3),
}


def _plain(value: object) -> object:
    """Hyper's Date and Timestamp as Python's, and instants in UTC, to compare values."""
    if hasattr(value, "to_datetime"):
        value = value.to_datetime()
    elif hasattr(value, "to_date"):
        value = value.to_date()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _key(row: tuple) -> tuple:
    # total order over rows with NULLs and mixed types
    return tuple((v is None, str(type(v)), v if v is not None else 0) for v in row)


@pytest.fixture(scope="module")
def extract(bi_run: BiRun, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    path = tmp_path_factory.mktemp("hyper") / "online_retail_marts.hyper"
    return path, export_hyper(bi_run.warehouse, path)


def test_every_mart_is_exported_with_its_row_count(bi_run: BiRun, extract: tuple) -> None:
    _, exported = extract
    assert [t.mart for t in exported] == list(BI_MARTS)
    for table in exported:
        ((rows,),) = bi_run.query(f"select count(*) from {table.mart}")
        assert table.rows == rows > 0, table.mart


def test_the_extract_reads_back_equal_to_the_marts(
    bi_run: BiRun, extract: tuple, tmp_path: Path
) -> None:
    path, _ = extract
    with (
        HyperProcess(
            telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
            parameters={"log_dir": str(tmp_path)},
        ) as hyper,
        Connection(hyper.endpoint, str(path)) as con,
    ):
        assert {t.name.unescaped for t in con.catalog.get_table_names(HYPER_SCHEMA)} == set(
            BI_MARTS
        )
        for mart in BI_MARTS:
            columns = bi_run.query(
                "select column_name, data_type, is_nullable from information_schema.columns "
                "where table_name = ? order by ordinal_position",
                [mart],
            )
            definition = con.catalog.get_table_definition(TableName(HYPER_SCHEMA, mart))
            assert [
                (c.name.unescaped, c.type, c.nullability == Nullability.NULLABLE)
                for c in definition.columns
            ] == [
                (name, EXPECTED_TYPE[data_type.replace(" ", "")], nullable == "YES")
                for name, data_type, nullable in columns
            ], mart
            hyper_rows = [
                tuple(_plain(v) for v in row)
                for row in con.execute_list_query(f"select * from {definition.table_name}")
            ]
            duck_rows = [tuple(_plain(v) for v in row) for row in bi_run.query(f"from {mart}")]
            assert sorted(hyper_rows, key=_key) == sorted(duck_rows, key=_key), mart


def test_values_keep_their_exact_types(extract: tuple, tmp_path: Path) -> None:
    """Spot check on one row: money stays decimal, days stay dates (no floats, no strings)."""
    path, _ = extract
    with (
        HyperProcess(
            telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
            parameters={"log_dir": str(tmp_path)},
        ) as hyper,
        Connection(hyper.endpoint, str(path)) as con,
    ):
        start, net = con.execute_list_query(
            f'select period_start, net_revenue from "{HYPER_SCHEMA}"."rpt_revenue_monthly" '
            "order by period_start limit 1"
        )[0]
    assert isinstance(_plain(start), dt.date)
    assert type(net).__name__ == "Decimal"
