"""Readers for the real-world copies of the Online Retail data.

The UCI original is an Excel workbook; CSV copies come in UTF-8 or Latin-1, gzipped or
not. Every reader yields `RawChunk`s: the eight source columns as text, each line's
number in the file (the header is line 1), and the lines that could not be split into
fields. Reading is streamed in chunks, so memory stays flat however large the input.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs

from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.errors import OnlineRetailError

CHUNK_BYTES = 16 * 1024 * 1024  # decompressed bytes parsed at a time
XLSX_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class MalformedLine:
    line_number: int
    text: str
    reason: str


@dataclass
class RawChunk:
    lines: pa.Table  # SOURCE_COLUMNS, all strings
    line_numbers: pa.Array  # int64, one per row of `lines`
    malformed: list[MalformedLine]


@dataclass
class ReadReport:
    """What a reader found, for the job's log and manifest."""

    file_format: str = ""
    compression: str = "none"
    encoding: str = ""
    extra_columns: list[str] = field(default_factory=list)
    records: int = 0  # data lines read, malformed ones included; blank lines are not records

    def describe(self) -> str:
        parts = [self.file_format, f"compression {self.compression}"]
        if self.encoding:
            parts.append(f"encoding {self.encoding}")
        if self.extra_columns:
            parts.append(f"ignored columns {self.extra_columns}")
        return ", ".join(parts) + f", {self.records:,} records"


def read_source(path: str, filesystem: pafs.FileSystem, report: ReadReport) -> Iterator[RawChunk]:
    """Stream the chunks of an Online Retail file (.csv, .csv.gz, .xlsx)."""
    lower = path.lower()
    if lower.endswith(".xlsx"):
        yield from _read_xlsx(path, filesystem, report)
    elif lower.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        yield from _read_csv(path, filesystem, report)
    else:
        raise OnlineRetailError(f"{path}: expected a .csv, .csv.gz or .xlsx file")


def header_map(header: list[str], path: str, report: ReadReport) -> list[int]:
    """Positions of the SOURCE_COLUMNS in the file's header (matched case-insensitively)."""
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    missing = [c for c in SOURCE_COLUMNS if c.lower() not in names]
    if missing:
        raise OnlineRetailError(
            f"{path}: line 1: header lacks column(s) {', '.join(missing)}; "
            f"found {', '.join(header)}"
        )
    wanted = {c.lower() for c in SOURCE_COLUMNS}
    report.extra_columns = [h for h, n in zip(header, names, strict=True) if n not in wanted]
    return [names.index(c.lower()) for c in SOURCE_COLUMNS]


def _read_csv(path: str, filesystem: pafs.FileSystem, report: ReadReport) -> Iterator[RawChunk]:
    report.file_format = "CSV"
    report.compression = "gzip" if path.lower().endswith(".gz") else "none"
    compression = "gzip" if report.compression == "gzip" else None
    encoding = "utf-8"
    header: list[str] | None = None
    positions: list[int] = []
    next_line = 1
    leftover = b""
    with filesystem.open_input_stream(path, compression=compression) as stream:
        while True:
            block = stream.read(CHUNK_BYTES)
            data = leftover + block
            if not data:
                break
            if block:  # keep the partial last line for the next block
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    leftover = data
                    continue
                data, leftover = data[:cut], data[cut:]
            else:
                leftover = b""
                data += b"" if data.endswith(b"\n") else b"\n"
            if header is None:
                first, data = data.split(b"\n", 1)
                header_text, encoding = decode_block(first.rstrip(b"\r"), encoding)
                if not header_text.strip():
                    raise OnlineRetailError(f"{path}: line 1: blank header")
                header = next(csv.reader([header_text]))
                positions = header_map(header, path, report)
                next_line = 2
                if not data:
                    continue
            chunk, encoding = parse_block(data, next_line, header, positions, encoding)
            next_line += data.count(b"\n")
            report.records += chunk.lines.num_rows + len(chunk.malformed)
            yield chunk
    if header is None:
        raise OnlineRetailError(f"{path}: empty file, expected a header line")
    report.encoding = encoding


def decode_block(data: bytes, encoding: str) -> tuple[str, str]:
    """Decode as UTF-8 while it is; a byte that is not switches the file to Latin-1."""
    if encoding == "utf-8":
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            encoding = "latin-1"
    return data.decode("latin-1"), encoding


def parse_block(
    data: bytes, first_line: int, header: list[str], positions: list[int], encoding: str
) -> tuple[RawChunk, str]:
    """Parse whole lines; fast with Arrow, line by line where a line is malformed."""
    # Blank lines would shift Arrow's row numbers off the file's line numbers.
    has_blank = data.startswith((b"\n", b"\r\n")) or b"\n\n" in data or b"\n\r\n" in data
    if not has_blank:
        try:
            table, malformed_seen = _arrow_parse(data, len(header), encoding)
        except pa.ArrowInvalid as error:
            if encoding != "utf-8" or "UTF8" not in str(error):
                raise
            encoding = "latin-1"  # a byte that is not UTF-8: the £ sign of a Latin-1 export
            table, malformed_seen = _arrow_parse(data, len(header), encoding)
        if not malformed_seen:
            lines = pa.table(
                {
                    name: table.column(pos)
                    for name, pos in zip(SOURCE_COLUMNS, positions, strict=True)
                }
            )
            numbers = pa.array(range(first_line, first_line + table.num_rows), pa.int64())
            return RawChunk(lines, numbers, []), encoding
    elif encoding == "utf-8":
        encoding = decode_block(data, encoding)[1]
    return _parse_block_line_by_line(data, first_line, header, positions, encoding), encoding


def _arrow_parse(data: bytes, width: int, encoding: str) -> tuple[pa.Table, list[str]]:
    """Arrow's CSV reader over one block; rows of the wrong width are noted, not parsed.
    It checks UTF-8 as it converts, so no separate pass over the bytes is needed."""
    malformed: list[str] = []

    def note(row: pacsv.InvalidRow) -> str:
        malformed.append(row.text)
        return "skip"

    names = [f"c{i}" for i in range(width)]
    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(
            column_names=names,
            encoding="utf8" if encoding == "utf-8" else encoding,
            block_size=4 * 1024 * 1024,
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=note),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, malformed


def _parse_block_line_by_line(
    data: bytes, first_line: int, header: list[str], positions: list[int], encoding: str
) -> RawChunk:
    """The exact path: each physical line parsed alone, so its number is certain."""
    columns: list[list[str]] = [[] for _ in SOURCE_COLUMNS]
    numbers: list[int] = []
    malformed: list[MalformedLine] = []
    text = data.decode(encoding)
    for offset, line in enumerate(text.split("\n")[:-1]):
        line_number = first_line + offset
        line = line.rstrip("\r")
        if not line.strip():
            continue  # a blank line is not a record
        try:
            fields = next(csv.reader([line], strict=True))
        except csv.Error as error:
            malformed.append(MalformedLine(line_number, line, f"not valid CSV: {error}"))
            continue
        if len(fields) != len(header):
            reason = f"expected {len(header)} fields, found {len(fields)}"
            malformed.append(MalformedLine(line_number, line, reason))
            continue
        for values, pos in zip(columns, positions, strict=True):
            values.append(fields[pos])
        numbers.append(line_number)
    lines = pa.table(
        {name: pa.array(v, pa.string()) for name, v in zip(SOURCE_COLUMNS, columns, strict=True)}
    )
    return RawChunk(lines, pa.array(numbers, pa.int64()), malformed)


def _read_xlsx(path: str, filesystem: pafs.FileSystem, report: ReadReport) -> Iterator[RawChunk]:
    from python_calamine import CalamineWorkbook

    report.file_format = "Excel workbook (first sheet)"
    with filesystem.open_input_file(path) as f:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(f.read()))
    rows = workbook.get_sheet_by_index(0).iter_rows()
    header = [str(h) for h in next(rows, [])]
    if not header:
        raise OnlineRetailError(f"{path}: the first sheet is empty")
    positions = header_map(header, path, report)
    columns: list[list[str | None]] = [[] for _ in SOURCE_COLUMNS]
    numbers: list[int] = []
    for line_number, row in enumerate(rows, start=2):
        if all(v in ("", None) for v in row):
            continue
        for values, pos in zip(columns, positions, strict=True):
            values.append(_cell_text(row[pos]) if pos < len(row) else None)
        numbers.append(line_number)
        if len(numbers) == XLSX_CHUNK_ROWS:
            yield _xlsx_chunk(columns, numbers, report)
            columns, numbers = [[] for _ in SOURCE_COLUMNS], []
    if numbers:
        yield _xlsx_chunk(columns, numbers, report)


def _xlsx_chunk(
    columns: list[list[str | None]], numbers: list[int], report: ReadReport
) -> RawChunk:
    report.records += len(numbers)
    lines = pa.table(
        {name: pa.array(v, pa.string()) for name, v in zip(SOURCE_COLUMNS, columns, strict=True)}
    )
    return RawChunk(lines, pa.array(numbers, pa.int64()), [])


def _cell_text(value: object) -> str | None:
    """A workbook cell as the text a CSV export would hold."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        # Excel keeps times as fractions of a day; round off the float's microseconds.
        return (value + timedelta(microseconds=500_000)).replace(microsecond=0).isoformat(" ")
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))  # Excel keeps every number as a float: 17850.0, 536365.0
        return repr(value)  # shortest text that round-trips: 2.55, not 2.5499999999999998
    return str(value)
