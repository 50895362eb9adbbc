"""Firehose's error prefix -> the lake, exactly once (`online-retail reingest-errors`).

Firehose writes what it could not process under its error prefix, one JSON document
per record, and nothing downstream reads it
(https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html,
https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion-error-handling.html):

- `processing-failed/`: {attemptsMade, arrivalTimestamp, errorCode, errorMessage,
  attemptEndingTimestamp, rawData, lambdaArn}; rawData is the stream record, base64. Here
  are whole batches of a transformation invocation that kept failing, the rejects of an
  invocation whose quarantine write failed, and KPL aggregates that reached the function
  whole. Each record is decoded (an aggregate split into its user records) and cleaned
  by the shared rules, as the transformation does.
- `format-conversion-failed/`: {attemptsMade, arrivalTimestamp, ErrorCode, ErrorMessage,
  attemptEndingTimestamp, rawData, sequenceNumber, subSequenceNumber, dataCatalogTable};
  rawData is the transformation's cleaned JSON line, converted again with the contract.

Each error object's lines land in the transformed zone as
`year=YYYY/month=MM/reingest-<object>.parquet` and its rejects in the quarantine zone as
`stream-firehose-reingest-<object>.parquet`, names fixed by the object, and only then is
the object moved under `<prefix>/reingested/`: a run stopped half way writes the same
files again, a second run finds nothing to do. Event ids are those of the transformation:
a record's own (every record from POST /invoices carries one) or, for a bare line from
another producer, one built from what the error document keeps of it (its arrival time
and a digest of its bytes, plus the subsequence number inside an aggregate, and for a
second copy of the same bytes at the same time its place among them), the same on
every run. dbt keeps one row per event id on top of that.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract.cleaning import quarantine_table
from ingestion.contract.schema import INVOICE_LINE_SCHEMA, QUARANTINE_SCHEMA
from ingestion.errors import OnlineRetailError
from ingestion.lake import TRANSFORMED_ZONE, Lake
from ingestion.stream.output import (
    ERROR_ZONE,
    quarantine_key,
    rows_from_json_lines,
    write_parquet,
)
from ingestion.stream.records import (
    Decoded,
    RecordOrigin,
    clean_records,
    decode_kinesis_record,
    undecodable_quarantine,
)
from ingestion.stream.request_bodies import RECORD_FIELD

PROCESSED = "reingested"  # <prefix>/reingested/<the object's key under the prefix>
CONVERSION_FIELDS = {"event_id", "invoice_no", "invoiced_at"}  # a cleaned JSON line


@dataclass
class ObjectOutcome:
    key: str
    records_in: int
    landed: int
    quarantined: int
    written: list[str]


@dataclass
class ReingestReport:
    prefix: str
    objects: list[ObjectOutcome] = field(default_factory=list)

    @property
    def records_in(self) -> int:
        return sum(o.records_in for o in self.objects)

    @property
    def landed(self) -> int:
        return sum(o.landed for o in self.objects)

    @property
    def quarantined(self) -> int:
        return sum(o.quarantined for o in self.objects)

    def lines(self) -> list[str]:
        return [
            f"  error objects   {len(self.objects):>9,}  (moved under {self.prefix}/{PROCESSED}/)",
            f"  records in      {self.records_in:>9,}",
            f"  landed          {self.landed:>9,}  -> {TRANSFORMED_ZONE}/.../reingest-*.parquet",
            f"  quarantined     {self.quarantined:>9,}  -> stream-firehose-reingest-*.parquet",
            f"  in = landed + quarantined: {self.records_in:,} = {self.landed:,} + "
            f"{self.quarantined:,}",
        ]


def pending_objects(lake: Lake, prefix: str = ERROR_ZONE) -> list[str]:
    """The error objects under `prefix` not yet reingested, oldest name first."""
    done = f"{prefix.strip('/')}/{PROCESSED}/"
    return [k for k in lake.files_under(prefix) if not k.startswith(done)]


def reingest_errors(
    lake: Lake, stream_name: str, prefix: str = ERROR_ZONE, now: datetime | None = None
) -> ReingestReport:
    """Land or quarantine every record of every pending error object, then move it."""
    prefix = prefix.strip("/")
    report = ReingestReport(prefix)
    for key in pending_objects(lake, prefix):
        data = lake.read_bytes(key)
        outcome = reingest_object(lake, key, data, stream_name, prefix, now or datetime.now(UTC))
        lake.write_bytes(f"{prefix}/{PROCESSED}/{key.removeprefix(prefix + '/')}", data)
        lake.delete(key)
        report.objects.append(outcome)
    return report


def reingest_object(
    lake: Lake, key: str, data: bytes, stream_name: str, prefix: str, now: datetime
) -> ObjectOutcome:
    """Write the landed lines and the rejects of one error object (names fixed by it)."""
    landed, rejects, records_in = records_of(error_documents(key, data), stream_name, now, key)
    if landed.num_rows + rejects.num_rows != records_in:
        raise OnlineRetailError(
            f"{key}: {records_in} records in, {landed.num_rows} landed and "
            f"{rejects.num_rows} quarantined: some would be lost"
        )
    name = _safe(key.removeprefix(prefix + "/"))
    written = []
    years, months = pc.year(landed["invoiced_at"]), pc.month(landed["invoiced_at"])
    for year, month in sorted(set(zip(years.to_pylist(), months.to_pylist(), strict=True))):
        mask = pc.and_(pc.equal(years, year), pc.equal(months, month))
        part_key = f"{TRANSFORMED_ZONE}/year={year:04d}/month={month:02d}/reingest-{name}.parquet"
        write_parquet(lake, part_key, landed.filter(mask))
        written.append(part_key)
    if rejects.num_rows:
        reject_key = quarantine_key("firehose", f"reingest-{name}")
        write_parquet(lake, reject_key, rejects)
        written.append(reject_key)
    return ObjectOutcome(key, records_in, landed.num_rows, rejects.num_rows, written)


def error_documents(key: str, data: bytes) -> list[dict[str, Any]]:
    """The JSON documents of an error object (one per line, or simply concatenated)."""
    decoder, text, documents, at = json.JSONDecoder(), data.decode("utf-8"), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return documents
        try:
            document, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as e:
            raise OnlineRetailError(
                f"{key}: document {len(documents) + 1} is not JSON: {e.msg}",
                line=text.count("\n", 0, at) + 1,
            ) from e
        if not isinstance(document, dict) or not isinstance(document.get("rawData"), str):
            raise OnlineRetailError(
                f"{key}: document {len(documents) + 1} is not a Firehose error record",
                line=text.count("\n", 0, at) + 1,
                field="rawData",
            )
        documents.append(document)


def records_of(
    documents: list[dict[str, Any]], stream_name: str, now: datetime, key: str
) -> tuple[pa.Table, pa.Table, int]:
    """(landed rows, quarantine rows, records in) of an error object's documents."""
    decoded: list[Decoded] = []
    converted: list[pa.Table] = []
    unconvertible: list[tuple[dict[str, Any], bytes, dict[str, Any], Exception]] = []
    seen: dict[str, int] = {}  # bare-record names given so far, and how many times
    for n, document in enumerate(documents, start=1):
        try:
            raw = base64.b64decode(document["rawData"], validate=True)
        except binascii.Error as e:
            raise OnlineRetailError(
                f"{key}: document {n}: rawData is not base64", line=n, field="rawData"
            ) from e
        line = _cleaned_line(raw)
        if line is not None:  # format-conversion-failed: the transformation's output
            try:
                converted.append(rows_from_json_lines([raw]))
            except (ValueError, KeyError, TypeError, pa.ArrowInvalid) as e:
                unconvertible.append((line, raw, document, e))
            continue
        origin = _origin(document, raw, stream_name)
        # identical records of one object (two copies of a line in one KPL aggregate
        # share its arrival time) are told apart by their order in it
        seen[origin.sequence_number] = copies = seen.get(origin.sequence_number, -1) + 1
        if copies:
            origin = dataclasses.replace(
                origin, sequence_number=f"{origin.sequence_number}-{copies}"
            )
        decoded += decode_kinesis_record(raw, "", origin)

    good = [d for d in decoded if d.record is not None]
    undecodable = [d for d in decoded if d.record is None]
    cleaned = clean_records([d.record for d in good if d.record is not None])
    landed = pa.concat_tables([cleaned.landed.cast(INVOICE_LINE_SCHEMA), *converted])
    rejects = pa.concat_tables(
        [
            cleaned.quarantined,
            undecodable_quarantine(
                [d.error for d in undecodable if d.error is not None],
                [d.data for d in undecodable],
                f"stream:{stream_name}",
                now,
            ),
            _unconvertible_quarantine(unconvertible, stream_name, now),
        ]
    )
    return landed, rejects, len(decoded) + len(converted) + len(unconvertible)


def _origin(document: dict[str, Any], raw: bytes, stream_name: str) -> RecordOrigin:
    """What the error document keeps of a record's origin. It has no shard or sequence
    number, so a bare line gets `stream:<stream>:firehose-error:<arrival ms>-<digest>`:
    the same on every run (its arrival time and bytes do not change); the n-th copy of
    the same bytes at the same arrival time in one object, `-<n>` after it."""
    arrival_ms = document.get("arrivalTimestamp")
    if not isinstance(arrival_ms, int | float):
        arrival_ms = 0
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return RecordOrigin(
        stream_name=stream_name,
        shard_id="firehose-error",
        sequence_number=f"{int(arrival_ms)}-{digest}",
        arrived_at=datetime.fromtimestamp(arrival_ms / 1000, tz=UTC),
    )


def _cleaned_line(raw: bytes) -> dict[str, Any] | None:
    """The cleaned JSON line that `raw` is, or None if it is a stream record."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(document, dict) and document.keys() >= CONVERSION_FIELDS:
        return document
    return None


def _unconvertible_quarantine(
    failures: list[tuple[dict[str, Any], bytes, dict[str, Any], Exception]],
    stream_name: str,
    now: datetime,
) -> pa.Table:
    if not failures:
        return QUARANTINE_SCHEMA.empty_table()
    return quarantine_table(
        event_ids=[str(line["event_id"]) for line, _, _, _ in failures],
        source_file=pa.array(
            [str(line.get("source_file") or f"stream:{stream_name}") for line, *_ in failures]
        ),
        line_numbers=[_int(line.get("source_line_number")) for line, *_ in failures],
        ingested_at=now,
        fields=[RECORD_FIELD] * len(failures),
        reasons=[
            f"Firehose could not convert it to Parquet "
            f"({doc.get('ErrorCode') or doc.get('errorCode')}: "
            f"{doc.get('ErrorMessage') or doc.get('errorMessage')}); nor can the contract: {e}"
            for _, _, doc, e in failures
        ],
        raw_records=[raw.decode("utf-8") for _, raw, _, _ in failures],
    )


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
