"""Readers for the real-world copies of the Online Retail data.

The UCI original is an Excel workbook; CSV copies come in UTF-8 or Latin-1, gzipped or
not. Every reader yields `RawChunk`s: the eight source columns as text, each line's
number in the file (the header is line 1), and the lines that could not be split into
fields. Reading is streamed in chunks, so memory stays flat however large the input; a
CSV is inflated and parsed on a worker thread a chunk or two ahead of the caller.
"""

from __future__ import annotations

import contextlib
import csv
import io
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs

from ingestion.contract.scalars import int64_range
from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.errors import OnlineRetailError

try:  # ISA-L's inflate; optional: without it Arrow's zlib stream reads .gz files
    from isal import igzip
except ImportError:  # pragma: no cover - isal is in requirements.lock
    igzip = None

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
    # Inflating and parsing run in a thread of their own while the caller cleans and
    # writes the chunk before: the two halves of the work share the machine's cores.
    yield from _in_background(_read_csv_chunks(path, filesystem, report))


def _read_csv_chunks(
    path: str, filesystem: pafs.FileSystem, report: ReadReport
) -> Iterator[RawChunk]:
    report.file_format = "CSV"
    report.compression = "gzip" if path.lower().endswith(".gz") else "none"
    encoding = "utf-8"
    header: list[str] | None = None
    positions: list[int] = []
    next_line = 1
    leftover = b""
    with _open_decompressed(path, filesystem, report.compression == "gzip") as stream:
        while True:
            block = stream.read(CHUNK_BYTES)
            data = leftover + block if leftover else block
            if not data:
                break
            if block:  # keep the partial last line for the next block
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    leftover = data
                    continue
                leftover = data[cut:]
            else:
                leftover = b""
                data += b"" if data.endswith(b"\n") else b"\n"
                cut = len(data)
            start = 0
            if header is None:
                start = data.index(b"\n") + 1
                header_text, encoding = decode_block(data[: start - 1].rstrip(b"\r"), encoding)
                if not header_text.strip():
                    raise OnlineRetailError(f"{path}: line 1: blank header")
                header = next(csv.reader([header_text]))
                positions = header_map(header, path, report)
                next_line = 2
                if start == cut:
                    continue
            lines = data.count(b"\n", start, cut)
            view = memoryview(data)[start:cut]  # whole lines, not copied
            chunk, encoding = _parse_block(view, next_line, header, positions, encoding, lines)
            next_line += lines
            report.records += chunk.lines.num_rows + len(chunk.malformed)
            yield chunk
    if header is None:
        raise OnlineRetailError(f"{path}: empty file, expected a header line")
    report.encoding = encoding


@contextlib.contextmanager
def _open_decompressed(path: str, filesystem: pafs.FileSystem, gzipped: bool) -> Iterator:
    """The file's bytes, inflated if gzipped: by ISA-L (`isal`, about 3x zlib's speed)
    where it is installed, else by Arrow's zlib stream."""
    if gzipped and igzip is not None:
        with (
            filesystem.open_input_stream(path, compression=None) as raw,
            igzip.IGzipFile(fileobj=raw, mode="rb") as stream,
        ):
            yield stream
    else:
        with filesystem.open_input_stream(path, compression="gzip" if gzipped else None) as stream:
            yield stream


_DONE = object()


def _in_background(chunks: Iterator[RawChunk], depth: int = 2) -> Iterator[RawChunk]:
    """The items of `chunks`, produced by a worker thread at most `depth` ahead of the
    consumer (so memory holds a few chunks, however large the file). The worker's
    exception is raised here; a consumer that stops early stops the worker."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                handoff.put(item, timeout=0.1)
                return True
        return False  # the consumer has gone

    def produce() -> None:
        try:
            for chunk in chunks:
                if not hand_over(chunk):
                    return
            hand_over(_DONE)
        except BaseException as error:  # raised in the consumer's thread
            hand_over(error)

    worker = threading.Thread(target=produce, name="csv-reader", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting to hand over a chunk
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.1)
        worker.join()


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
    return _parse_block(data, first_line, header, positions, encoding, data.count(b"\n"))


def _parse_block(
    data: bytes | memoryview,
    first_line: int,
    header: list[str],
    positions: list[int],
    encoding: str,
    lines: int,
) -> tuple[RawChunk, str]:
    """`data` holds `lines` whole lines. Arrow parses them; its row i is line
    `first_line + i` only if no line was blank or malformed, else the block is
    parsed again line by line, each line's number certain."""
    table: pa.Table | None = None
    try:
        table = _arrow_parse(data, len(header), encoding)
    except pa.ArrowInvalid as error:  # a malformed line, or a byte that is not UTF-8
        if encoding == "utf-8" and "UTF8" in str(error):
            encoding = "latin-1"  # the £ sign of a Latin-1 export
            with contextlib.suppress(pa.ArrowInvalid):
                table = _arrow_parse(data, len(header), encoding)
    # Arrow skips blank lines silently: then it has fewer rows than the block has lines.
    if table is not None and table.num_rows == lines:
        lines_table = pa.table(
            {name: table.column(pos) for name, pos in zip(SOURCE_COLUMNS, positions, strict=True)}
        )
        numbers = int64_range(first_line, lines)
        return RawChunk(lines_table, numbers, []), encoding
    data = bytes(data)
    if encoding == "utf-8":
        encoding = decode_block(data, encoding)[1]
    return _parse_block_line_by_line(data, first_line, header, positions, encoding), encoding


def _arrow_parse(data: bytes | memoryview, width: int, encoding: str) -> pa.Table:
    """Arrow's CSV reader over one block, in one piece on this thread (the caller's
    thread runs beside the cleaning). A line of the wrong width stops it (ArrowInvalid):
    the caller then takes the exact path. It checks UTF-8 as it converts."""
    names = [f"c{i}" for i in range(width)]
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(
            column_names=names,
            encoding="utf8" if encoding == "utf-8" else encoding,
            use_threads=False,
            block_size=max(len(data) + 1, 1 << 20),  # one chunk per column: no copy to join
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


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
