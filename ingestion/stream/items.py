"""The DynamoDB items of cleaned lines, and the key design of the tables: pure code, no I/O.

One item per line, so no item grows with an invoice or with retries (DynamoDB refuses
an item over 400 KB, and a refused write in a Kinesis batch holds its shard until the
records expire); a small summary item per (customer, invoice) for the customer lookup:

    invoices   InvoiceNo (partition, S) + LineId (sort, S)      one item per line
    customers  CustomerKey (partition, S) + InvoiceNo (sort, S)  one summary per invoice

`LineId` is the line's event id, so a redelivered record writes the same item again
and nothing is counted twice. A summary is never incremented: it is derived from the
invoice's stored lines (a Query) and written on condition that it does not replace one
derived from more lines, so redelivery, retries and replays leave it equal to its lines.

`CustomerKey` is the customer id; a line without a customer is a guest's, and the
guests' summaries are spread over `GUEST_SHARDS` keys `GUEST#00`..`GUEST#15` by a hash
of the invoice number (write sharding with a calculated suffix:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-sharding.html),
rather than the 3,710 guest invoices of the data under one key. Their lines are under
their own invoice numbers in the invoices table.

A line item holds fixed, short attributes; only text a client sends can be long, so a
text too long for the item is cut to fit `LINE_ITEM_BUDGET_BYTES` and the item says
so (`Truncated`: the attributes cut); the whole line is in the lake.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from ingestion.contract.scalars import const
from ingestion.stream.output import timestamp_text


@dataclass(frozen=True)
class TableKey:
    """A table's primary key: attribute names, both of type S (string)."""

    partition: str
    sort: str | None = None

    def of(self, item: dict[str, Any]) -> dict[str, Any]:
        """The key attributes of a low-level item."""
        names = [self.partition] + ([self.sort] if self.sort else [])
        return {name: item[name] for name in names}


# The key design, the one place the SAM template copies (all attributes of type S).
INVOICES_KEY = TableKey("InvoiceNo", "LineId")
CUSTOMERS_KEY = TableKey("CustomerKey", "InvoiceNo")
# Powertools' idempotency table: its default key attribute; TTL on `expiration`.
IDEMPOTENCY_KEY = TableKey("id")
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"

UNKNOWN_CUSTOMER = "UNKNOWN"  # what the API calls a line without a customer
GUEST_PREFIX = "GUEST#"
GUEST_SHARDS = 16

# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html
MAX_ITEM_BYTES = 400 * 1024
LINE_ITEM_BUDGET_BYTES = 8 * 1024  # a real line is about 300 bytes
# Client text that may be cut to fit the budget, and the attribute that says what was cut.
TRUNCATABLE = ("Description", "StockCode", "Country", "SourceFile")
TRUNCATED = "Truncated"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def guest_key(invoice_no: str) -> str:
    """The partition of a guest invoice's summary: a stable hash of the invoice number."""
    shard = int.from_bytes(hashlib.sha256(invoice_no.encode()).digest()[:4], "big")
    return f"{GUEST_PREFIX}{shard % GUEST_SHARDS:02d}"


def guest_keys() -> list[str]:
    return [f"{GUEST_PREFIX}{n:02d}" for n in range(GUEST_SHARDS)]


def customer_key(customer_id: str | None, invoice_no: str) -> str:
    if customer_id and customer_id != UNKNOWN_CUSTOMER:
        return customer_id
    return guest_key(invoice_no)


class LineWrite(NamedTuple):
    """One line's item and the batch position of the record it came from."""

    item: dict[str, Any]  # low-level shape
    position: int

    @property
    def invoice_no(self) -> str:
        return str(self.item[INVOICES_KEY.partition]["S"])

    @property
    def key(self) -> tuple[str, str]:
        return self.invoice_no, str(self.item[INVOICES_KEY.sort]["S"])


# Columns of an item, in its attributes' order (see `line_writes`).
_ITEM_COLUMNS = (
    "invoice_no",
    "event_id",
    "stock_code",
    "description",
    "quantity",
    "unit_price",
    "invoiced_at",
    "customer_id",
    "country",
    "source_file",
    "source_line_number",
)
_UNIQUE = ("event_id", "source_line_number")  # one value a line: nothing to share
_TEXT_COLUMNS = ("invoice_no", "event_id", "stock_code", "description", "customer_id",
                 "country", "source_file")  # fmt: skip
_NAMES_BYTES = sum(len(name) for name in (INVOICES_KEY.partition, INVOICES_KEY.sort,
    "StockCode", "Description", "Quantity", "UnitPrice", "InvoiceDate", "CustomerID",
    "Country", "SourceFile", "SourceLineNumber"))  # fmt: skip
# Arrow constants (a plain Python value in a compute call makes pyarrow import pandas).
_FIXED_BOUND = const(_NAMES_BYTES + len("YYYY-MM-DDTHH:MM:SS") + 3 * 12, pa.int32())
_UNKNOWN = const(UNKNOWN_CUSTOMER, pa.string())
_BUDGET = const(LINE_ITEM_BUDGET_BYTES, pa.int32())


def _text_columns(landed: pa.Table) -> dict[str, pa.Array]:
    """The columns of `line_item`'s values, as text (numbers as their text)."""
    return {
        "event_id": landed["event_id"].combine_chunks(),
        "invoice_no": landed["invoice_no"].combine_chunks(),
        "stock_code": landed["stock_code"].combine_chunks(),
        "description": landed["description"].combine_chunks(),
        "quantity": pc.cast(landed["quantity"], pa.string()).combine_chunks(),
        "invoiced_at": timestamp_text(landed["invoiced_at"].combine_chunks(), "%Y-%m-%dT%H:%M:%S"),
        "unit_price": pc.cast(landed["unit_price"], pa.string()).combine_chunks(),
        "customer_id": pc.fill_null(landed["customer_id"], _UNKNOWN).combine_chunks(),
        "country": landed["country"].combine_chunks(),
        "source_file": landed["source_file"].combine_chunks(),
        "source_line_number": pc.cast(landed["source_line_number"], pa.string()).combine_chunks(),
    }


def _attribute_values(text: pa.Array, kind: str, repeats: bool) -> list[dict[str, Any]]:
    """`{kind: value}` of each row. Where values repeat (a country, a date, a price), each
    distinct value's is made once and shared by its rows: items are only read (by boto3,
    to send them), never changed in place."""
    if not repeats:
        return [{kind: v} for v in text.to_pylist()]
    encoded = text.dictionary_encode(null_encoding="encode")
    distinct = [{kind: v} for v in encoded.dictionary.to_pylist()]
    return [distinct[i] for i in encoded.indices.to_pylist()]


def serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def line_item(v: dict[str, Any]) -> dict[str, Any]:
    """The item of one cleaned line (values of `_text_columns`), within its budget."""
    values: dict[str, Any] = {
        INVOICES_KEY.partition: v["invoice_no"],
        INVOICES_KEY.sort: v["event_id"],
        "StockCode": v["stock_code"],
        "Description": v["description"],
        "Quantity": Decimal(v["quantity"]),
        "UnitPrice": Decimal(v["unit_price"]),
        "InvoiceDate": v["invoiced_at"],
        "CustomerID": v["customer_id"] or UNKNOWN_CUSTOMER,
        "Country": v["country"],
        "SourceFile": v["source_file"],
        "SourceLineNumber": Decimal(v["source_line_number"]),
    }
    item = serialize(values)
    truncated = []
    for name in sorted(TRUNCATABLE, key=lambda n: -len((values[n] or "").encode())):
        excess = item_size(item) - LINE_ITEM_BUDGET_BYTES
        if excess <= 0:
            break
        text = (values[name] or "").encode()
        # room for the attribute naming what was cut (its name, a list, short strings)
        keep = max(0, len(text) - excess - 64)
        values[name] = text[:keep].decode("utf-8", errors="ignore")
        truncated.append(name)
        values[TRUNCATED] = truncated
        item = serialize(values)
    return item


def line_writes(landed: pa.Table, positions: Sequence[int]) -> list[LineWrite]:
    """One item per landed line (INVOICE_LINE_SCHEMA), with its record's batch position.

    The items are built from the columns as text, in the low-level shape `line_item`
    gives through boto3's TypeSerializer (which cost more than everything else the
    consumer does): a number's text is the column's own, as `str(Decimal(...))` would
    print it. Only a line whose item may be over `LINE_ITEM_BUDGET_BYTES` (client text of
    kilobytes) goes through `line_item`, which cuts it to fit."""
    if not landed.num_rows:
        return []
    columns = _text_columns(landed)
    big = _maybe_over_budget(landed)
    # Each attribute's values column by column, then one dict per row: a fraction of the
    # time of nested dicts built row by row.
    wrap = [
        _attribute_values(columns[name], kind, name not in _UNIQUE)
        for name, kind in zip(_ITEM_COLUMNS, "SSSSNNSSSSN", strict=True)
    ]
    writes = [
        LineWrite(
            {
                INVOICES_KEY.partition: invoice,
                INVOICES_KEY.sort: event_id,
                "StockCode": stock_code,
                "Description": description,
                "Quantity": quantity,
                "UnitPrice": price,
                "InvoiceDate": invoiced_at,
                "CustomerID": customer,
                "Country": country,
                "SourceFile": source_file,
                "SourceLineNumber": line_number,
            },
            position,
        )
        for position, invoice, event_id, stock_code, description, quantity, price,
        invoiced_at, customer, country, source_file, line_number in zip(
            positions, *wrap, strict=True
        )
    ]  # fmt: skip
    if landed["description"].null_count:
        for write in writes:
            if write.item["Description"]["S"] is None:
                del write.item["Description"]  # no attribute for no value, as serialize()
    for row in big:
        values = {name: columns[name][row].as_py() for name in _ITEM_COLUMNS}
        writes[row] = LineWrite(line_item(_typed(values)), writes[row].position)
    return writes


def _maybe_over_budget(landed: pa.Table) -> list[int]:
    """The rows whose item may be over LINE_ITEM_BUDGET_BYTES, by an upper bound of its
    size: its names, its texts' bytes and 12 bytes a number. First for the batch at once
    (every text as long as the longest: nearly always far under), then row by row."""
    texts = [landed[name].combine_chunks() for name in _TEXT_COLUMNS]
    longest = pc.max(pc.binary_length(pa.concat_arrays(texts))).as_py() or 0
    if _FIXED_BOUND.as_py() + len(texts) * max(longest, len(UNKNOWN_CUSTOMER)) <= (
        LINE_ITEM_BUDGET_BYTES
    ):
        return []
    bound = _FIXED_BOUND
    for text in texts:
        bound = pc.add(bound, pc.binary_length(pc.fill_null(text, _UNKNOWN)))
    return pc.indices_nonzero(pc.greater(bound, _BUDGET)).to_pylist()


def _typed(text: dict[str, Any]) -> dict[str, Any]:
    """`_text_columns` values as `line_item` takes them (numbers as numbers; a guest's
    customer id is UNKNOWN_CUSTOMER, which `line_item` writes for none too)."""
    return {
        **text,
        "quantity": int(text["quantity"]),
        "source_line_number": int(text["source_line_number"]),
    }


def invoice_summaries(invoice_no: str, lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customers-table items of one invoice, derived from all its stored lines
    (deserialised): one per customer key (an invoice has one customer; should its lines
    disagree, each customer's lines are summarised under that customer)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        groups.setdefault(customer_key(line.get("CustomerID"), invoice_no), []).append(line)
    summaries = []
    for key, mine in sorted(groups.items()):
        customer = mine[0].get("CustomerID")
        summaries.append(
            serialize(
                {
                    CUSTOMERS_KEY.partition: key,
                    CUSTOMERS_KEY.sort: invoice_no,
                    "CustomerID": None if customer == UNKNOWN_CUSTOMER else customer,
                    "InvoiceDate": min(line["InvoiceDate"] for line in mine),
                    "Country": min(line["Country"] for line in mine),
                    "LineCount": len(mine),
                    "Amount": sum(
                        (line["Quantity"] * line["UnitPrice"] for line in mine), Decimal(0)
                    ),
                }
            )
        )
    return summaries


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (low-level shape) as plain Python values."""
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def line_id_of(item: dict[str, Any]) -> str:
    """The event id of a line item (low-level shape)."""
    return str(item[INVOICES_KEY.sort]["S"])


def _number_size(text: str) -> int:
    digits = text.lstrip("-").split("E")[0].split("e")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def _value_size(value: dict[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return _number_size(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "B":
        return len(v)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: e}) for e in v)
    if kind == "L":
        return 3 + sum(1 + _value_size(e) for e in v)
    return 3 + sum(1 + len(k.encode()) + _value_size(e) for k, e in v.items())  # M


def item_size(item: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules (names plus values; lists and maps 3 bytes
    plus 1 per element): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html"""
    return sum(len(name.encode()) + _value_size(v) for name, v in item.items())
