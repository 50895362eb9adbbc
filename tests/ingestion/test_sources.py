"""Reading each real-world variant of the data: every one gives the same clean lines."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from support import parse_csv_lines, write_csv

from ingestion.batch import sources
from ingestion.batch.sources import ReadReport, read_source
from ingestion.contract.cleaning import Lineage, clean_batch
from ingestion.contract.schema import COLUMN_NAMES, SOURCE_COLUMNS
from ingestion.errors import OnlineRetailError

CONTRACT_COLUMNS = list(COLUMN_NAMES.values())


def read_clean(path: Path) -> tuple[pa.Table, pa.Table, ReadReport, list]:
    report = ReadReport()
    landed, quarantined, malformed = [], [], []
    read_at = datetime.now(UTC)
    for chunk in read_source(str(path), pafs.LocalFileSystem(), report):
        result = clean_batch(chunk.lines, Lineage.of_file(path.name, read_at, chunk.line_numbers))
        landed.append(result.landed)
        quarantined.append(result.quarantined)
        malformed.extend(chunk.malformed)
    return pa.concat_tables(landed), pa.concat_tables(quarantined), report, malformed


def rewrite(lines: list[str], change) -> list[str]:
    """The same lines with `change(row)` applied to each parsed row."""
    rows = parse_csv_lines(lines)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(SOURCE_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(change(dict(row)))
    return out.getvalue().splitlines()


def iso_date(row: dict) -> dict:
    row["InvoiceDate"] = datetime.strptime(row["InvoiceDate"], "%m/%d/%Y %H:%M").isoformat(" ")
    return row


def float_customer(row: dict) -> dict:
    row["CustomerID"] = f"{row['CustomerID']}.0" if row["CustomerID"] else ""
    return row


@pytest.fixture(scope="module")
def baseline(slice_lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    path = write_csv(tmp_path_factory.mktemp("base") / "slice.csv", slice_lines)
    landed, quarantined, _, _ = read_clean(path)
    assert quarantined.num_rows == 0
    assert landed.num_rows == len(slice_lines) - 1
    return landed.select(CONTRACT_COLUMNS)


@pytest.mark.parametrize(
    ("name", "encoding", "change", "crlf"),
    [
        ("utf8.csv.gz", "utf-8", None, False),
        ("latin1.csv", "latin-1", None, False),
        ("latin1.csv.gz", "latin-1", None, False),
        ("iso_dates.csv", "utf-8", iso_date, False),
        ("float_customer.csv", "utf-8", float_customer, False),
        ("windows.csv", "utf-8", None, True),
    ],
)
def test_each_csv_variant_reads_to_the_same_lines(
    name, encoding, change, crlf, slice_lines, baseline, tmp_path
) -> None:
    lines = rewrite(slice_lines, change) if change else slice_lines
    if crlf:
        lines = [line + "\r" for line in lines]
    landed, quarantined, report, _ = read_clean(write_csv(tmp_path / name, lines, encoding))
    assert quarantined.num_rows == 0
    assert landed.select(CONTRACT_COLUMNS).equals(baseline)
    assert report.encoding == encoding
    assert report.records == len(slice_lines) - 1
    assert "£" in "".join(d for d in landed["description"].to_pylist() if d)


def test_the_excel_workbook_reads_to_the_same_lines(slice_lines, baseline, tmp_path) -> None:
    # Typed cells as in UCI's workbook: numbers, real datetimes, CustomerID as a float.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(SOURCE_COLUMNS))
    for row in parse_csv_lines(slice_lines):
        sheet.append(
            [
                int(row["InvoiceNo"]) if row["InvoiceNo"].isdigit() else row["InvoiceNo"],
                row["StockCode"],
                row["Description"] or None,
                int(row["Quantity"]),
                datetime.strptime(row["InvoiceDate"], "%m/%d/%Y %H:%M"),
                float(row["UnitPrice"]),
                float(row["CustomerID"]) if row["CustomerID"] else None,
                row["Country"],
            ]
        )
    path = tmp_path / "Online Retail.xlsx"
    workbook.save(path)
    landed, quarantined, report, _ = read_clean(path)
    assert quarantined.num_rows == 0
    assert landed.select(CONTRACT_COLUMNS).equals(baseline)
    assert report.file_format.startswith("Excel")
    assert landed["source_line_number"].to_pylist()[:2] == [2, 3]


def test_line_numbers_point_at_the_source_line_across_chunks(
    slice_lines, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(sources, "CHUNK_BYTES", 4096)  # many chunk boundaries
    lines = [*slice_lines[:500]]
    lines.insert(10, "")  # a blank line is not a record, but it is a line
    lines.insert(100, "536999,85123A,SHORT LINE,6,12/1/2010 8:26,2.55,17850")  # 7 fields
    lines.insert(200, '536999,85123A,"UNCLOSED QUOTE,6,12/1/2010 8:26,2.55,17850,UK')
    path = write_csv(tmp_path / "bad.csv", lines)
    landed, quarantined, report, malformed = read_clean(path)

    physical = path.read_text().split("\n")
    for number, invoice, stock in zip(
        landed["source_line_number"].to_pylist(),
        landed["invoice_no"].to_pylist(),
        landed["stock_code"].to_pylist(),
        strict=True,
    ):
        fields = next(csv.reader([physical[number - 1]]))
        assert (fields[0].strip(), fields[1].strip()) == (invoice, stock)

    assert [(m.line_number, m.reason) for m in malformed] == [
        (101, "expected 8 fields, found 7"),
        (201, "not valid CSV: unexpected end of data"),
    ]
    assert report.records == landed.num_rows + quarantined.num_rows + len(malformed)
    assert report.records == len(lines) - 2  # header and the blank line


def test_a_header_without_the_source_columns_is_refused(tmp_path) -> None:
    path = write_csv(tmp_path / "other.csv", ["InvoiceNo,StockCode,Amount", "1,2,3"])
    with pytest.raises(OnlineRetailError, match=r"line 1: header lacks column\(s\) Description"):
        list(read_source(str(path), pafs.LocalFileSystem(), ReadReport()))


def test_extra_columns_are_ignored_and_reported(slice_lines, tmp_path) -> None:
    lines = [slice_lines[0] + ",Notes", *(line + ",x" for line in slice_lines[1:50])]
    landed, _, report, _ = read_clean(write_csv(tmp_path / "extra.csv", lines))
    assert landed.num_rows == 49
    assert report.extra_columns == ["Notes"]


def test_an_unknown_file_type_is_refused(tmp_path) -> None:
    path = tmp_path / "data.json"
    path.write_text("[]")
    with pytest.raises(OnlineRetailError, match=r"expected a \.csv"):
        list(read_source(str(path), pafs.LocalFileSystem(), ReadReport()))


def test_gzip_reads_the_same_without_isal(slice_lines, baseline, tmp_path, monkeypatch) -> None:
    # ISA-L is optional: without it Arrow's zlib stream inflates the same bytes.
    path = write_csv(tmp_path / "utf8.csv.gz", slice_lines)
    monkeypatch.setattr(sources, "igzip", None)
    landed, quarantined, report, _ = read_clean(path)
    assert quarantined.num_rows == 0
    assert landed.select(CONTRACT_COLUMNS).equals(baseline)
    assert report.records == len(slice_lines) - 1


def test_a_reader_stopped_early_stops_its_worker_thread(slice_lines, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sources, "CHUNK_BYTES", 4096)  # many chunks queued behind the first
    path = write_csv(tmp_path / "slice.csv", slice_lines)
    before = {t.ident for t in threading.enumerate()}
    chunks = read_source(str(path), pafs.LocalFileSystem(), ReadReport())
    first = next(chunks)
    assert first.lines.num_rows > 0
    chunks.close()
    assert {t.ident for t in threading.enumerate() if t.name == "csv-reader"} - before == set()


def test_an_error_in_the_reader_thread_reaches_the_caller(tmp_path) -> None:
    path = tmp_path / "blank_header.csv"
    path.write_text("\n536365,85123A,X,6,12/1/2010 8:26,2.55,17850,United Kingdom\n")
    with pytest.raises(OnlineRetailError, match="line 1: blank header"):
        list(read_source(str(path), pafs.LocalFileSystem(), ReadReport()))
