"""Stream records: the Kinesis payload of one line, its lineage around its values.

Pure code: no boto3 and no I/O. Each accepted line travels through Kinesis as one JSON
record, an envelope of its lineage (event id, source file, line, ingestion time) around
its source values as received; every consumer decodes a batch of those records and
cleans it with the shared rules, each row keeping its own record's lineage.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract.cleaning import (
    INGESTED_AT_TYPE,
    CleanResult,
    Lineage,
    clean_batch,
    quarantine_table,
    raw_table,
)
from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.stream.deaggregate import BrokenAggregate, user_records
from ingestion.stream.producer import KINESIS_MAX_PARTITION_KEY
from ingestion.stream.request_bodies import (
    RECORD_FIELD,
    LineError,
    LineRejected,
    RequestLine,
    as_text,
    client_event_id,
)


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
    subsequence_number: int = 0  # a user record's index in its KPL aggregate

    @property
    def event_id(self) -> str:
        """`stream:<stream>:<shard>:<sequence>[:<subsequence>]`, stable across redeliveries.

        The user records of a KPL aggregate share its sequence number, so the subsequence
        number tells them apart. It is added only when above 0: a record that is not an
        aggregate keeps the id it always had (lines already stored stay deduplicable), and
        Firehose, which splits aggregates before the transformation, reports subsequence 0
        for both a plain record and an aggregate's first user record, so the consumer
        (which splits them itself) and the transformation give every line the same id.
        """
        base = f"stream:{self.stream_name}:{self.shard_id}:{self.sequence_number}"
        return f"{base}:{self.subsequence_number}" if self.subsequence_number else base


def decode_record(data: bytes, origin: RecordOrigin) -> StreamRecord:
    """A stream record from its bytes; raises LineRejected if it is not one.

    Records from POST /invoices carry their envelope. A bare retail line put on the
    stream by another producer gets lineage from the stream: `stream:<name>`, line 1 of
    its record, its arrival time, and its shard, sequence and subsequence number as event
    id (stable across redeliveries, so duplicates still collapse).
    """
    fallback_id = origin.event_id
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
                values={c: as_text(line.get(c)) for c in SOURCE_COLUMNS},
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
        event_id=client_event_id(document, 1) or fallback_id,
        source_file=f"stream:{origin.stream_name}",
        source_line_number=1,
        ingested_at=iso_utc(origin.arrived_at),
        values={c: as_text(document.get(c)) for c in SOURCE_COLUMNS},
    )


@dataclass(frozen=True)
class Decoded:
    """One user record of a Kinesis record: its bytes, and the line or why it is none."""

    data: bytes
    origin: RecordOrigin
    record: StreamRecord | None
    error: LineError | None


def decode_kinesis_record(data: bytes, partition_key: str, origin: RecordOrigin) -> list[Decoded]:
    """The user records of a Kinesis record as delivered to Lambda (a KPL aggregate is
    split with AWS's module, each user record with its subsequence number), each decoded
    as a stream record; an aggregate that cannot be split whole is one rejected record."""
    try:
        users = user_records(data, partition_key, origin.sequence_number)
    except BrokenAggregate as e:
        return [Decoded(data, origin, None, LineError(1, RECORD_FIELD, str(e), origin.event_id))]
    out = []
    for user in users:
        at = dataclasses.replace(origin, subsequence_number=user.subsequence_number)
        try:
            out.append(Decoded(user.data, at, decode_record(user.data, at), None))
        except LineRejected as e:
            out.append(Decoded(user.data, at, None, e.error))
    return out


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


def clean_records(records: Sequence[StreamRecord]) -> CleanResult:
    """The shared cleaning rules over a batch of records, each row with its own record's
    lineage; the result's positions are indexes into `records`."""
    lineage = Lineage(
        event_ids=pa.array([r.event_id for r in records], pa.string()),
        source_files=pa.array([r.source_file for r in records], pa.string()),
        line_numbers=pa.array([r.source_line_number for r in records], pa.int64()),
        ingested_at=pc.cast(
            pa.array([r.ingested_at for r in records], pa.string()), INGESTED_AT_TYPE
        ),
    )
    return clean_batch(raw_table(r.values for r in records), lineage)
