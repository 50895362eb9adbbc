"""The cleaning rules, one field at a time, on values taken from the real data."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from ingestion.contract.cleaning import Lineage, clean_batch, raw_table
from ingestion.contract.schema import INVOICE_LINE_SCHEMA, QUARANTINE_SCHEMA

SOURCE_FILE = "raw/online_retail/test.csv"
INGESTED_AT = datetime(2024, 1, 2, tzinfo=UTC)
GOOD = {
    "InvoiceNo": "536365",
    "StockCode": "85123A",
    "Description": "WHITE HANGING HEART T-LIGHT HOLDER",
    "Quantity": "6",
    "InvoiceDate": "12/1/2010 8:26",
    "UnitPrice": "2.55",
    "CustomerID": "17850",
    "Country": "United Kingdom",
}


def clean(*records: dict) -> tuple[list[dict], list[dict]]:
    lineage = Lineage.of_file(SOURCE_FILE, INGESTED_AT, range(2, 2 + len(records)))
    result = clean_batch(raw_table(records), lineage)
    assert result.landed.schema == INVOICE_LINE_SCHEMA
    assert result.quarantined.schema == QUARANTINE_SCHEMA
    assert result.landed.num_rows + result.quarantined.num_rows == len(records)
    return result.landed.to_pylist(), result.quarantined.to_pylist()


def test_a_real_line_is_typed_and_keeps_its_lineage() -> None:
    (line,), quarantined = clean(GOOD)
    assert quarantined == []
    assert line["invoice_no"] == "536365"
    assert line["quantity"] == 6
    assert line["invoiced_at"] == datetime(2010, 12, 1, 8, 26)
    assert line["unit_price"] == Decimal("2.550")
    assert line["customer_id"] == "17850"
    assert line["source_file"] == SOURCE_FILE
    assert line["source_line_number"] == 2
    assert line["event_id"] == "raw/online_retail/test.csv:2"
    assert line["ingested_at"] == INGESTED_AT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12/1/2010 8:26", datetime(2010, 12, 1, 8, 26)),
        ("2010-12-01 08:26:00", datetime(2010, 12, 1, 8, 26)),
        ("2010-12-01T08:26:00", datetime(2010, 12, 1, 8, 26)),
        ("2010-12-01 08:26", datetime(2010, 12, 1, 8, 26)),
        ("11/30/2011 17:37", datetime(2011, 11, 30, 17, 37)),
    ],
)
def test_every_real_world_date_layout_parses(raw: str, expected: datetime) -> None:
    (line,), _ = clean({**GOOD, "InvoiceDate": raw})
    assert line["invoiced_at"] == expected


@pytest.mark.parametrize("raw", ["17850", "17850.0", " 17850 ", 17850, 17850.0])
def test_customer_id_is_text_without_a_float_tail(raw: object) -> None:
    (line,), _ = clean({**GOOD, "CustomerID": raw})
    assert line["customer_id"] == "17850"


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_a_missing_customer_stays_null_never_a_fake_id(raw: object) -> None:
    (line,), _ = clean({**GOOD, "CustomerID": raw})
    assert line["customer_id"] is None


def test_prices_keep_three_decimals_and_are_never_float() -> None:
    landed, _ = clean(
        {**GOOD, "UnitPrice": "0.001"},
        {**GOOD, "UnitPrice": "-11062.06"},
        {**GOOD, "UnitPrice": 2.55},  # a JSON number
        {**GOOD, "UnitPrice": "2.5500"},
    )
    assert [r["unit_price"] for r in landed] == [
        Decimal("0.001"),
        Decimal("-11062.060"),
        Decimal("2.550"),
        Decimal("2.550"),
    ]
    assert pa.types.is_decimal(INVOICE_LINE_SCHEMA.field("unit_price").type)


def test_cancellations_and_adjustments_keep_their_prefix() -> None:
    landed, _ = clean(
        {**GOOD, "InvoiceNo": "C536379", "Quantity": "-1"}, {**GOOD, "InvoiceNo": "A563185"}
    )
    assert [r["invoice_no"] for r in landed] == ["C536379", "A563185"]
    assert landed[0]["quantity"] == -1


def test_text_is_trimmed_and_an_empty_description_is_null() -> None:
    (a, b), _ = clean({**GOOD, "Description": "WHITE METAL LANTERN  "}, {**GOOD, "Description": ""})
    assert a["description"] == "WHITE METAL LANTERN"
    assert b["description"] is None


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("InvoiceNo", "", "is missing"),
        ("InvoiceNo", "INV-1", "is not an invoice number"),
        ("StockCode", " ", "is missing"),
        ("Quantity", "six", "is not a whole number of units: 'six'"),
        ("Quantity", "2.5", "is not a whole number of units: '2.5'"),
        ("Quantity", "99999999999", "is not a whole number of units"),
        ("InvoiceDate", "31/12/2010 8:26", "is not a timestamp in a known layout"),
        ("InvoiceDate", "", "is missing"),
        ("UnitPrice", "0.0015", "is not a price with at most 3 decimals: '0.0015'"),
        ("UnitPrice", "£2.55", "is not a price"),
        ("UnitPrice", "nan", "is not a price"),
        ("CustomerID", "unknown", "is not a numeric customer id: 'unknown'"),
        ("Country", "", "is missing"),
    ],
)
def test_a_bad_field_quarantines_the_line_with_field_and_reason(
    field: str, value: str, reason: str
) -> None:
    landed, (bad,) = clean(GOOD, {**GOOD, field: value}, GOOD)
    assert len(landed) == 2
    assert bad["field"] == field
    assert reason in bad["reason"]
    assert bad["source_line_number"] == 3
    assert bad["event_id"] == "raw/online_retail/test.csv:3"
    assert f'"{field}"' in bad["raw_record"]


def test_the_first_failing_field_in_source_order_is_reported() -> None:
    _, (bad,) = clean({**GOOD, "Quantity": "x", "UnitPrice": "y"})
    assert bad["field"] == "Quantity"


def test_an_empty_batch_gives_empty_tables() -> None:
    landed, quarantined = clean()
    assert landed == quarantined == []


def test_explicit_event_ids_are_kept() -> None:
    lineage = Lineage.of_file(SOURCE_FILE, INGESTED_AT, [1], event_ids=pa.array(["evt-1"]))
    result = clean_batch(raw_table([GOOD]), lineage)
    assert result.landed["event_id"].to_pylist() == ["evt-1"]


def test_each_row_keeps_its_own_lineage() -> None:
    """A batch whose rows come from different sources (stream records) lands and
    quarantines every row with its own source, line and ingestion time."""
    bad = {**GOOD, "Quantity": "six"}
    times = [INGESTED_AT, datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 4, tzinfo=UTC)]
    lineage = Lineage(
        event_ids=pa.array(["a:1", "b:7", "c:3"]),
        source_files=pa.array(["a", "b", "c"]),
        line_numbers=pa.array([1, 7, 3], pa.int64()),
        ingested_at=pa.array(times, pa.timestamp("us", tz="UTC")),
    )
    result = clean_batch(raw_table([GOOD, bad, GOOD]), lineage)
    assert result.landed_positions == [0, 2]
    assert result.quarantined_positions == [1]
    assert result.landed["source_file"].to_pylist() == ["a", "c"]
    assert result.landed["source_line_number"].to_pylist() == [1, 3]
    assert result.landed["ingested_at"].to_pylist() == [times[0], times[2]]
    (quarantined,) = result.quarantined.to_pylist()
    assert (quarantined["event_id"], quarantined["source_file"]) == ("b:7", "b")
    assert (quarantined["source_line_number"], quarantined["ingested_at"]) == (7, times[1])
