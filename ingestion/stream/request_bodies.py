"""Request bodies of POST /invoices -> numbered lines, and why a line was rejected.

Pure code: no boto3 and no I/O. A body is one JSON object, a JSON array of them, or CSV
with a header; each becomes `RequestLine`s (source values as text, as received) or,
where a line is not a record at all, a `LineError` naming its line and field.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.errors import OnlineRetailError
from ingestion.lake import RAW_ZONE

CLIENT_ID_FIELDS = ("event_id", "line_id")  # a client's own identity for a line
MAX_EVENT_ID_LENGTH = 200
_REQUEST_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LINE_FIELD = "(line)"  # the quarantine `field` of a line that is not a record at all
RECORD_FIELD = "(record)"  # ... and of a stream record that is not one of ours


class RequestError(OnlineRetailError):
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


class LineRejected(OnlineRetailError):
    """A line that is not a record (carries the line and the field that failed)."""

    def __init__(self, error: LineError) -> None:
        super().__init__(error.reason, line=error.line, field=error.field)
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


def request_key(request_id: str, idempotency_key: str | None) -> str:
    """The name a request's lines are known by: the client's Idempotency-Key if sent
    (so a retried POST reuses its event ids), else API Gateway's request id."""
    key = (idempotency_key or "").strip() or request_id
    if not _REQUEST_KEY.match(key):
        raise RequestError(
            "Idempotency-Key must be 1-128 characters of letters, digits, '.', '_' or '-'"
        )
    return key


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


def client_event_id(values: Mapping[str, object], line: int) -> str | None:
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


def as_text(value: object) -> str | None:
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
    values = {name: as_text(obj.get(name)) for name in SOURCE_COLUMNS}
    if all(v is None for v in values.values()):
        raise LineRejected(
            LineError(line, LINE_FIELD, f"has none of the fields {', '.join(SOURCE_COLUMNS)}")
        )
    return RequestLine(line, values, client_event_id(obj, line), text)


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
            client_id = client_event_id(values, line)
        except LineRejected as e:
            parsed.malformed.append((e.error, raw))
            continue
        parsed.lines.append(
            RequestLine(line, {c: values[c] for c in SOURCE_COLUMNS}, client_id, raw)
        )
    return parsed


# POST /uploads: a file for the batch job, put straight into the raw zone, whose arrival
# starts the Glue Spark job (ingestion/batch/upload_trigger.py). The types that job reads,
# longest suffix first: not workbooks, which only the single-process job reads
# (`online-retail batch`), so a .xlsx is refused here rather than left unprocessed.
UPLOAD_TYPES = {
    ".csv.gz": "application/gzip",
    ".txt.gz": "application/gzip",
    ".csv": "text/csv",
    ".txt": "text/csv",
}
UPLOAD_ZONE = f"{RAW_ZONE}/uploads"


@dataclass(frozen=True)
class Upload:
    key: str  # lake key: raw/online_retail/uploads/ingest_date=YYYY-MM-DD/<id><suffix>
    content_type: str
    file_name: str


def upload_of(body: bytes, unique_id: str, received_at: datetime) -> Upload:
    """Where a client's file goes: its own key (ingest date and a unique id, so no two
    arrivals share one, whatever their names), its type from the file name it gives
    (JSON `{"file_name": "daily_export.csv.gz"}`; CSV if none)."""
    file_name = "upload.csv"
    if body.strip():
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RequestError(f'body is not JSON such as {{"file_name": "x.csv"}}: {e}') from e
        if not isinstance(document, dict) or not isinstance(document.get("file_name", ""), str):
            raise RequestError('body must be a JSON object such as {"file_name": "x.csv"}')
        file_name = document.get("file_name") or file_name
    suffix = next((s for s in UPLOAD_TYPES if file_name.lower().endswith(s)), None)
    if suffix is None:
        raise RequestError(
            f"file_name {file_name!r}: the batch job reads {', '.join(sorted(UPLOAD_TYPES))}"
        )
    day = received_at.strftime("%Y-%m-%d")
    key = f"{UPLOAD_ZONE}/ingest_date={day}/{unique_id}{suffix}"
    return Upload(key, UPLOAD_TYPES[suffix], file_name)
