"""Arrow scalars for the constants of the cleaning rules, built from their bytes.

`pa.scalar(value)`, and every compute call given a plain Python value, first asks
pandas whether the value is one of pandas' own: pyarrow imports pandas for that (about
half a second of CPU) in a process that never uses it, such as the batch job. These
scalars are made without the question, so a clean file's path imports no pandas.
Beside them, casts that skip the compute call where there is nothing to convert: on a
stream batch of 500 lines each such call costs about what a line's cleaning does.
"""

from __future__ import annotations

import itertools
import struct
from datetime import UTC, datetime, timedelta

import pyarrow as pa

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT_FORMATS = {8: "<b", 16: "<h", 32: "<i", 64: "<q"}


def const(value: str | int | bool | datetime | None, type_: pa.DataType) -> pa.Scalar:
    """`pa.scalar(value, type_)` for text, booleans, integers, UTC timestamps and null."""
    if value is None:
        return pa.nulls(1, type_)[0]
    if pa.types.is_string(type_):
        data = str(value).encode()
        buffers = [None, pa.py_buffer(struct.pack("<ii", 0, len(data))), pa.py_buffer(data)]
    elif pa.types.is_boolean(type_):
        buffers = [None, pa.py_buffer(bytes([1 if value else 0]))]
    elif pa.types.is_signed_integer(type_):
        buffers = [None, pa.py_buffer(struct.pack(_INT_FORMATS[type_.bit_width], value))]
    elif pa.types.is_timestamp(type_) and type_.unit == "us" and isinstance(value, datetime):
        if value.tzinfo is None:
            return pa.scalar(value, type_)  # naive: leave the reading of it to pyarrow
        micros = (value - _EPOCH) // timedelta(microseconds=1)
        buffers = [None, pa.py_buffer(struct.pack("<q", micros))]
    else:
        return pa.scalar(value, type_)
    return pa.Array.from_buffers(type_, 1, buffers)[0]


def empty_table(schema: pa.Schema) -> pa.Table:
    """`schema.empty_table()`, which would ask pandas too."""
    return pa.table({f.name: pa.nulls(0, f.type) for f in schema}, schema=schema)


def as_type(column: pa.Array, type_: pa.DataType) -> pa.Array:
    """`column.cast(type_)`, without the compute call where it has the type already."""
    return column if column.type == type_ else column.cast(type_)


def with_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table.cast(schema)`, only setting the schema (no compute call per column) where
    the columns have its types already and none it says is not null has a null."""
    if table.schema.names != schema.names or any(
        c.type != f.type or (not f.nullable and c.null_count)
        for c, f in zip(table.columns, schema, strict=True)
    ):
        return table.cast(schema)  # converts, or raises as it always did
    return pa.Table.from_arrays(table.columns, schema=schema)


def split(array: pa.Array, lengths: list[int]) -> list[pa.Array]:
    """`array` cut into consecutive slices of these lengths (zero-copy): what was
    concatenated to go through a compute call once, given back piece by piece."""
    starts = itertools.accumulate(lengths, initial=0)
    return [array.slice(start, n) for start, n in zip(starts, lengths, strict=False)]


def int64_range(start: int, count: int) -> pa.Array:
    """start, start + 1, ..., as int64 (a file's line numbers)."""
    import numpy as np

    return pa.Array.from_buffers(
        pa.int64(), count, [None, pa.py_buffer(np.arange(start, start + count, dtype=np.int64))]
    )
