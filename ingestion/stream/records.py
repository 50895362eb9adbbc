"""Pure code of the stream path: request bodies in, stream records out, and back.

No boto3 and no I/O. A request body (one JSON object, a JSON array, or CSV with a
header) becomes numbered lines; each line travels through Kinesis as one JSON record,
an envelope of its lineage around its source values as received; every consumer turns
a batch of those records back into Arrow and applies the shared cleaning rules.
"""

from __future__ import annotations

import base64
import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.cleaning import CleanResult, Lineage, clean_batch, quarantine_table, raw_table
from ingestion.lake import QUARANTINE_ZONE, RAW_ZONE
from ingestion.schema import INVOICE_LINE_SCHEMA, SOURCE_COLUMNS

# Kinesis limits (PutRecords): per call 500 records and 5 MiB; per record 1 MiB, counting
# the data blob and the partition key; partition keys are at most 256 characters.
KINESIS_MAX_RECORDS = 500
KINESIS_MAX_CALL_BYTES = 5 * 1024 * 1024
KINESIS_MAX_RECORD_BYTES = 1024 * 1024
KINESIS_MAX_PARTITION_KEY = 256

CLIENT_ID_FIELDS = ("event_id", "line_id")  # a client's own identity for a line
MAX_EVENT_ID_LENGTH = 200
_REQUEST_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LINE_FIELD = "(line)"  # the quarantine `field` of a line that is not a record at all
RECORD_FIELD = "(record)"  # ... and of a stream record that is not one of ours


class RequestError(ValueError):
    """The request as a whole cannot be read (answered 400, never 500)."""


class PayloadTooLarge(RequestError):
    """The body is over the API's size limit (answered 413)."""


@dataclass(frozen=True)
class LineError:
    """Why one line of a request or one stream record was rejected."""

    line: int
    field: str
    reason: str
    event_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


class LineRejected(ValueError):
    """A line that is not a record (carries the line and the field that failed)."""

    def __init__(self, error: LineError) -> None:
        super().__init__(f"line {error.line}, {error.field}: {error.reason}")
        self.error = error


@dataclass(frozen=True)
class RequestLine:
    line_number: int  # 1-based position in the request; a CSV header is line 1
    values: dict[str, str | None]  # source columns as text, as received
    client_event_id: str | None = None
    text: str | None = None  # the line as received, for the quarantine


@dataclass
class ParsedRequest:
    body_format: str  # "json" or "csv"
    lines: list[RequestLine] = field(default_factory=list)
    malformed: list[tuple[LineError, str]] = field(default_factory=list)  # error, raw text

    @property
    def received(self) -> int:
        return len(self.lines) + len(self.malformed)


# --- request bodies -------------------------------------------------------------------


def request_key(request_id: str, idempotency_key: str | None) -> str:
    """The name a request's lines are known by: the client's Idempotency-Key if sent
    (so a retried POST reuses its event ids), else API Gateway's request id."""
    key = (idempotency_key or "").strip() or request_id
    if not _REQUEST_KEY.match(key):
        raise RequestError(
            "Idempotency-Key must be 1-128 characters of letters, digits, '.', '_' or '-'"
        )
    return key


def raw_key(key: str, received_at: datetime, body_format: str) -> str:
    """Where the API keeps a request as received: the raw zone, by day, for replays."""
    day = received_at.astimezone(UTC).strftime("%Y/%m/%d")
    return f"{RAW_ZONE}/stream/{day}/{key}.{body_format}"


def quarantine_key(prefix: str, key: str) -> str:
    return f"{QUARANTINE_ZONE}/stream-{prefix}-{_safe(key)}.parquet"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def decode_body(body: bytes, content_type: str | None) -> str:
    """Text of a body: the charset the client declared, UTF-8 otherwise."""
    charset = "utf-8"
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"').lower()
    try:
        text = body.decode(charset)
    except LookupError as e:
        raise RequestError(f"unknown charset {charset!r} in Content-Type") from e
    except UnicodeDecodeError as e:
        raise RequestError(
            f"body is not {charset} text: byte {body[e.start : e.start + 1]!r} at offset "
            f"{e.start} (declare another charset in Content-Type)"
        ) from e
    return text.removeprefix("\ufeff")


def body_format(text: str, content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media.endswith("json"):
        return "json"
    if media in ("text/csv", "application/csv"):
        return "csv"
    return "json" if text.lstrip()[:1] in ("{", "[") else "csv"


def parse_body(text: str, fmt: str) -> ParsedRequest:
    if not text.strip():
        raise RequestError("body is empty: send a JSON object, a JSON array or CSV with a header")
    return _parse_json(text) if fmt == "json" else _parse_csv(text)


def _client_id(values: Mapping[str, object], line: int) -> str | None:
    for name in CLIENT_ID_FIELDS:
        value = values.get(name)
        if value is None or str(value).strip() == "":
            continue
        text = str(value).strip()
        if len(text) > MAX_EVENT_ID_LENGTH:
            raise LineRejected(
                LineError(line, name, f"is longer than {MAX_EVENT_ID_LENGTH} characters")
            )
        return text
    return None


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):  # JSON true/false: no retail field is a boolean
        return json.dumps(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _line_from_object(obj: object, line: int, text: str) -> RequestLine:
    if not isinstance(obj, dict):
        raise LineRejected(
            LineError(line, LINE_FIELD, f"is a JSON {type(obj).__name__}, not an object")
        )
    values = {name: _as_text(obj.get(name)) for name in SOURCE_COLUMNS}
    if all(v is None for v in values.values()):
        raise LineRejected(
            LineError(line, LINE_FIELD, f"has none of the fields {', '.join(SOURCE_COLUMNS)}")
        )
    return RequestLine(line, values, _client_id(obj, line), text)


def _parse_json(text: str) -> ParsedRequest:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise RequestError(
            f"body is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from e
    items = document if isinstance(document, list) else [document]
    parsed = ParsedRequest("json")
    for i, item in enumerate(items, start=1):
        raw = json.dumps(item, ensure_ascii=False)
        try:
            parsed.lines.append(_line_from_object(item, i, raw))
        except LineRejected as e:
            parsed.malformed.append((e.error, raw))
    return parsed


def _csv_rows(text: str) -> Iterator[tuple[int, list[str], str]]:
    """(first line number, fields, text) for each CSV record; quoted newlines allowed."""
    lines = text.splitlines(keepends=True)
    reader = csv.reader(iter(lines))
    consumed = 0
    try:
        for row in reader:
            start = consumed + 1
            record_text = "".join(lines[consumed : reader.line_num]).rstrip("\r\n")
            consumed = reader.line_num
            yield start, row, record_text
    except csv.Error as e:
        raise RequestError(f"CSV line {reader.line_num}: {e}") from e


def _parse_csv(text: str) -> ParsedRequest:
    rows = _csv_rows(text)
    header_line, header, _ = next(rows)
    names = [h.strip() for h in header]
    missing = [c for c in SOURCE_COLUMNS if c not in names]
    if missing:
        raise RequestError(
            f"CSV line {header_line}: the header lacks {', '.join(missing)} "
            f"(expected {','.join(SOURCE_COLUMNS)})"
        )
    parsed = ParsedRequest("csv")
    for line, row, raw in rows:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line is not a record
        if len(row) != len(names):
            # Still the client's line: its id, if the row reaches that column, names it.
            known = dict(zip(names, row, strict=False))
            client_id = (known.get("event_id") or known.get("line_id") or "").strip() or None
            reason = f"has {len(row)} fields, the header has {len(names)}"
            parsed.malformed.append((LineError(line, LINE_FIELD, reason, client_id), raw))
            continue
        values = dict(zip(names, row, strict=True))
        try:
            client_id = _client_id(values, line)
        except LineRejected as e:
            parsed.malformed.append((e.error, raw))
            continue
        parsed.lines.append(
            RequestLine(line, {c: values[c] for c in SOURCE_COLUMNS}, client_id, raw)
        )
    return parsed


# --- stream records (the Kinesis payload) --------------------------------------------


@dataclass(frozen=True)
class StreamRecord:
    event_id: str
    source_file: str
    source_line_number: int
    ingested_at: str  # ISO 8601 UTC, e.g. 2011-12-09T12:50:00.123456Z
    values: dict[str, str | None]  # source columns as received

    def encode(self) -> bytes:
        return json.dumps(
            {
                "event_id": self.event_id,
                "source_file": self.source_file,
                "source_line_number": self.source_line_number,
                "ingested_at": self.ingested_at,
                "line": self.values,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    @property
    def partition_key(self) -> str:
        # An invoice's lines share a shard (and its ordering); a line without an
        # invoice number still needs a key, and its own id spreads those evenly.
        key = (self.values.get("InvoiceNo") or "").strip() or self.event_id
        return key[:KINESIS_MAX_PARTITION_KEY]


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stream_records(
    lines: Sequence[RequestLine], source_file: str, key: str, received_at: datetime
) -> list[StreamRecord]:
    received = iso_utc(received_at)
    return [
        StreamRecord(
            event_id=line.client_event_id or f"{key}:{line.line_number}",
            source_file=source_file,
            source_line_number=line.line_number,
            ingested_at=received,
            values=line.values,
        )
        for line in lines
    ]


@dataclass(frozen=True)
class RecordOrigin:
    """What the transport knows of a record, for records that carry no envelope."""

    stream_name: str
    shard_id: str
    sequence_number: str  # unique within its shard only
    arrived_at: datetime


def decode_record(data: bytes, origin: RecordOrigin) -> StreamRecord:
    """A stream record from its bytes; raises LineRejected if it is not one.

    Records from POST /invoices carry their envelope. A bare retail line put on the
    stream by another producer gets lineage from the stream: `stream:<name>`, line 1 of
    its record, its arrival time, and its shard and sequence number as event id (stable
    across redeliveries, so duplicates still collapse).
    """
    fallback_id = f"stream:{origin.stream_name}:{origin.shard_id}:{origin.sequence_number}"
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise LineRejected(
            LineError(
                1,
                RECORD_FIELD,
                f"is not UTF-8 (byte {data[e.start : e.start + 1]!r} at offset {e.start})",
                fallback_id,
            )
        ) from e
    except json.JSONDecodeError as e:
        raise LineRejected(
            LineError(1, RECORD_FIELD, f"is not JSON: {e.msg} at column {e.colno}", fallback_id)
        ) from e
    if not isinstance(document, dict):
        raise LineRejected(
            LineError(
                1, RECORD_FIELD, f"is a JSON {type(document).__name__}, not an object", fallback_id
            )
        )
    line = document.get("line")
    if isinstance(line, dict) and "event_id" in document:
        try:
            return StreamRecord(
                event_id=str(document["event_id"]),
                source_file=str(document["source_file"]),
                source_line_number=int(document["source_line_number"]),
                ingested_at=str(document["ingested_at"]),
                values={c: _as_text(line.get(c)) for c in SOURCE_COLUMNS},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise LineRejected(
                LineError(
                    1, RECORD_FIELD, f"has a broken envelope: {e!r}", str(document["event_id"])
                )
            ) from e
    if not any(c in document for c in SOURCE_COLUMNS):
        raise LineRejected(
            LineError(
                1, RECORD_FIELD, "is not an invoice line (none of the source fields)", fallback_id
            )
        )
    return StreamRecord(
        event_id=_client_id(document, 1) or fallback_id,
        source_file=f"stream:{origin.stream_name}",
        source_line_number=1,
        ingested_at=iso_utc(origin.arrived_at),
        values={c: _as_text(document.get(c)) for c in SOURCE_COLUMNS},
    )


def undecodable_quarantine(
    errors: Sequence[LineError], payloads: Sequence[bytes], source_file: str, at: datetime
) -> pa.Table:
    """Quarantine rows for stream records that could not be read as lines at all."""
    return quarantine_table(
        event_ids=[e.event_id or f"{source_file}:unknown" for e in errors],
        source_file=source_file,
        line_numbers=[e.line for e in errors],
        ingested_at=at,
        fields=[e.field for e in errors],
        reasons=[e.reason for e in errors],
        raw_records=[
            json.dumps({"data_base64": base64.b64encode(p).decode("ascii")}) for p in payloads
        ],
    )


# --- cleaning a batch of stream records ----------------------------------------------

_PLACEHOLDER = Lineage(source_file="stream", ingested_at=datetime(1970, 1, 1, tzinfo=UTC))


@dataclass
class CleanedRecords:
    """`clean_batch` over stream records, each row knowing which record it came from."""

    landed: pa.Table  # INVOICE_LINE_SCHEMA
    landed_positions: list[int]
    quarantined: pa.Table  # QUARANTINE_SCHEMA
    quarantined_positions: list[int]


def clean_records(records: Sequence[StreamRecord]) -> CleanedRecords:
    """The shared cleaning rules over a batch of records whose lineage differs by record.

    `clean_batch` takes one lineage per batch, so it is run with each record's position
    as its line number, and the lineage columns are then put back from the records.
    """
    if not records:
        empty = clean_batch(raw_table([]), pa.array([], pa.int64()), _PLACEHOLDER)
        return CleanedRecords(empty.landed, [], empty.quarantined, [])
    positions = pa.array(range(len(records)), pa.int64())
    result: CleanResult = clean_batch(
        raw_table(r.values for r in records),
        positions,
        _PLACEHOLDER,
        event_ids=pa.array([r.event_id for r in records], pa.string()),
    )
    lineage = {
        "source_file": pa.array([r.source_file for r in records], pa.string()),
        "source_line_number": pa.array([r.source_line_number for r in records], pa.int64()),
        "ingested_at": pc.cast(
            pa.array([r.ingested_at for r in records], pa.string()),
            pa.timestamp("us", tz="UTC"),
        ),
    }

    def relineage(table: pa.Table) -> tuple[pa.Table, list[int]]:
        where = table["source_line_number"]
        for name, values in lineage.items():
            index = table.schema.get_field_index(name)
            table = table.set_column(index, table.schema.field(index), values.take(where))
        return table, where.to_pylist()

    landed, landed_positions = relineage(result.landed)
    quarantined, quarantined_positions = relineage(result.quarantined)
    return CleanedRecords(
        landed.cast(INVOICE_LINE_SCHEMA), landed_positions, quarantined, quarantined_positions
    )


# --- cleaned lines as JSON (Firehose's transformed records) --------------------------


def cleaned_json_lines(landed: pa.Table) -> list[bytes]:
    """Each landed row as one JSON line in the Glue table's columns (the contract's),
    newline-terminated as Firehose's JSON deserializer expects. Timestamps are
    `yyyy-MM-dd HH:mm:ss.ffffff` and prices are strings so no float touches money."""
    columns: dict[str, list[object]] = {}
    for name in landed.column_names:
        column = landed[name]
        if pa.types.is_timestamp(column.type):
            column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
        elif pa.types.is_decimal(column.type):
            column = pc.cast(column, pa.string())
        columns[name] = column.to_pylist()
    names = list(columns)
    rows = zip(*columns.values(), strict=True)
    return [
        (json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n").encode()
        for row in rows
    ]


def partition_keys(landed: pa.Table) -> list[dict[str, str]]:
    """Firehose dynamic-partitioning keys of each landed row: year and month invoiced."""
    years = pc.year(landed["invoiced_at"]).to_pylist()
    months = pc.month(landed["invoiced_at"]).to_pylist()
    return [{"year": f"{y:04d}", "month": f"{m:02d}"} for y, m in zip(years, months, strict=True)]
