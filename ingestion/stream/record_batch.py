"""A batch of stream records decoded at once: one raw table and its lineage.

Pure code: no boto3 and no I/O. A Lambda gets hundreds of records an invocation, and
decoding them one by one in Python (a JSON document, a dataclass, a dict per record)
cost more than the cleaning rules themselves. Here the whole batch is read by Arrow's
JSON reader in one call, straight into columns, when every record is one of ours: the
envelope POST /invoices writes, with text values. Arrow's reader is stricter than
`json.loads` (it refuses a duplicate key, a number where text is expected, a record
over two lines), and whatever it refuses, or reads as something other than a whole
envelope, is decoded record by record by `records.decode_record`, the one reading of
a record. So every record comes out as `decode_record` reads it; only faster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ingestion.contract.cleaning import INGESTED_AT_TYPE, Lineage
from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.stream.records import RecordOrigin, decode_record
from ingestion.stream.request_bodies import LineError, LineRejected

# The envelope of `records.StreamRecord.encode`, as Arrow reads it.
ENVELOPE_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("source_line_number", pa.int64()),
        pa.field("ingested_at", pa.string()),
        pa.field("line", pa.struct([pa.field(c, pa.string()) for c in SOURCE_COLUMNS])),
    ]
)
_ENVELOPE_FIELDS = ("event_id", "source_file", "source_line_number", "ingested_at", "line")
_PARSE = pa_json.ParseOptions(explicit_schema=ENVELOPE_SCHEMA, unexpected_field_behavior="ignore")
_BOM = b"\xef\xbb\xbf"  # json.loads refuses it at the start of a document; Arrow skips it


@dataclass(frozen=True)
class DecodedBatch:
    """The lines of a batch of records: one row per record that is a line, in order."""

    raw: pa.Table  # SOURCE_COLUMNS as text, as received
    lineage: Lineage
    positions: list[int]  # each row's index in the batch
    errors: list[tuple[int, LineError]]  # records that are not lines, by index


def decode_batch(
    payloads: Sequence[bytes], origin_of: Callable[[int], RecordOrigin]
) -> DecodedBatch:
    """Each payload read as `decode_record(payloads[i], origin_of(i))` would read it;
    `origin_of` is called only for the records read one by one."""
    n = len(payloads)
    table = _envelopes(payloads)
    if table is not None:
        if not any(table[name].null_count for name in _ENVELOPE_FIELDS):
            return _from_envelopes(table, list(range(n)), [])  # the usual batch
        complete = pc.is_valid(table["line"])
        for name in _ENVELOPE_FIELDS[:-1]:
            complete = pc.and_(complete, pc.is_valid(table[name]))
        fast = pc.indices_nonzero(complete).to_pylist()
        rest = pc.indices_nonzero(pc.invert(complete)).to_pylist()
        table = table.filter(complete)
    else:
        fast, rest = [], list(range(n))

    slow, slow_positions, errors = [], [], []
    for i in rest:
        try:
            record = decode_record(payloads[i], origin_of(i))
        except LineRejected as e:
            errors.append((i, e.error))
            continue
        slow.append(record)
        slow_positions.append(i)
    one_by_one = pa.table(
        {
            "event_id": pa.array([r.event_id for r in slow], pa.string()),
            "source_file": pa.array([r.source_file for r in slow], pa.string()),
            "source_line_number": pa.array([r.source_line_number for r in slow], pa.int64()),
            "ingested_at": pa.array([r.ingested_at for r in slow], pa.string()),
            "line": pa.StructArray.from_arrays(
                [pa.array([r.values[c] for r in slow], pa.string()) for c in SOURCE_COLUMNS],
                fields=list(ENVELOPE_SCHEMA.field("line").type),
            ),
        },
        schema=ENVELOPE_SCHEMA,
    )
    if table is None or not fast:
        return _from_envelopes(one_by_one, slow_positions, errors)
    both = pa.concat_tables([table, one_by_one])
    positions = pa.array(fast + slow_positions, pa.int64())
    order = pc.sort_indices(positions)
    return _from_envelopes(both.take(order), positions.take(order).to_pylist(), errors)


def _envelopes(payloads: Sequence[bytes]) -> pa.Table | None:
    """The batch as envelopes, one row per payload, if Arrow can read it whole."""
    if not payloads:
        return None
    joined = b"\n".join(payloads)
    if (
        joined.count(b"\n") != len(payloads) - 1  # a record over two lines
        or b"\r" in joined  # Arrow ends a line there too; json.loads reads it as a space
        or joined.startswith(_BOM)
        or b"\n" + _BOM in joined
    ):
        return None
    try:
        if not joined.isascii():  # ASCII is UTF-8; the check is a fraction of decoding
            joined.decode("utf-8")  # Arrow's reader does not check; decode_record does
        table = pa_json.read_json(
            pa.BufferReader(joined),
            read_options=pa_json.ReadOptions(
                use_threads=False, block_size=max(1 << 20, len(joined) + 1)
            ),
            parse_options=_PARSE,
        )
    except (UnicodeDecodeError, pa.ArrowInvalid):
        return None
    if table.num_rows != len(payloads):  # a blank record, or two documents in one
        return None
    return table


def _from_envelopes(
    table: pa.Table, positions: list[int], errors: list[tuple[int, LineError]]
) -> DecodedBatch:
    raw = pa.table(dict(zip(SOURCE_COLUMNS, table["line"].combine_chunks().flatten(), strict=True)))
    lineage = Lineage(
        event_ids=table["event_id"].combine_chunks(),
        source_files=table["source_file"].combine_chunks(),
        line_numbers=table["source_line_number"].combine_chunks(),
        ingested_at=pc.cast(table["ingested_at"].combine_chunks(), INGESTED_AT_TYPE),
    )
    return DecodedBatch(raw, lineage, positions, errors)
