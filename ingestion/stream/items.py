"""The DynamoDB items of cleaned lines: pure code, no I/O.

The prototype's two tables keep their keys, now all strings (`C536379` is an invoice
number, not a malformed number):

    customer  CustomerID (partition) + InvoiceNo (sort)   one item per customer's invoice
    invoice   InvoiceNo (partition)  + StockCode (sort)   one item per product on an invoice

A line without a customer is stored under the customer key `UNKNOWN` (real ids are
digits, so it cannot collide). Several lines can share an item (an invoice lists a
product twice, or the data repeats a line), so an item holds its lines in a map
`Lines`, keyed by event id: adding a line that is already there (a redelivered record)
changes nothing, and no line overwrites another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

UNKNOWN_CUSTOMER = "UNKNOWN"
LINES = "Lines"
CUSTOMER_KEY = ("CustomerID", "InvoiceNo")
INVOICE_KEY = ("InvoiceNo", "StockCode")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass
class ItemWrite:
    """The lines (and item attributes) to add to one item, and the batch positions of
    the records they came from."""

    table: str  # "customer" or "invoice"
    key: dict[str, str]
    attributes: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> line
    positions: set[int] = field(default_factory=set)

    def key_item(self) -> dict[str, Any]:
        return {k: {"S": v} for k, v in self.key.items()}

    def merged(self, existing: dict[str, Any] | None) -> dict[str, Any] | None:
        """The item (low-level shape) with this write's lines added to `existing`, or
        None when `existing` already holds them all (a redelivery: nothing to write)."""
        new_lines = {eid: _serializer.serialize(line) for eid, line in self.lines.items()}
        current = existing or {}
        lines = current.get(LINES, {"M": {}})["M"]
        if existing is not None and all(lines.get(e) == v for e, v in new_lines.items()):
            return None
        attributes = {n: _serializer.serialize(v) for n, v in self.attributes.items()}
        return {
            **current,
            **attributes,
            **self.key_item(),
            LINES: {"M": {**lines, **new_lines}},
        }


def _text_columns(landed: pa.Table) -> dict[str, list[Any]]:
    return {
        "event_id": landed["event_id"].to_pylist(),
        "invoice_no": landed["invoice_no"].to_pylist(),
        "stock_code": landed["stock_code"].to_pylist(),
        "description": landed["description"].to_pylist(),
        "quantity": landed["quantity"].to_pylist(),
        "invoiced_at": pc.strftime(landed["invoiced_at"], format="%Y-%m-%dT%H:%M:%S").to_pylist(),
        "unit_price": pc.cast(landed["unit_price"], pa.string()).to_pylist(),
        "customer_id": landed["customer_id"].to_pylist(),
        "country": landed["country"].to_pylist(),
        "source_file": landed["source_file"].to_pylist(),
        "source_line_number": landed["source_line_number"].to_pylist(),
    }


def item_writes(landed: pa.Table, positions: Sequence[int]) -> list[ItemWrite]:
    """Writes for landed lines (INVOICE_LINE_SCHEMA), grouped by item so that a batch
    makes one request per item rather than one per line."""
    columns = _text_columns(landed)
    writes: dict[tuple[str, str, str], ItemWrite] = {}
    for row, position in enumerate(positions):
        v = {name: values[row] for name, values in columns.items()}
        customer = v["customer_id"] or UNKNOWN_CUSTOMER
        line = {
            "Description": v["description"],
            "Quantity": Decimal(v["quantity"]),
            "UnitPrice": Decimal(v["unit_price"]),
            "SourceFile": v["source_file"],
            "SourceLineNumber": Decimal(v["source_line_number"]),
        }
        event_id = v["event_id"]

        invoice = writes.setdefault(
            ("invoice", v["invoice_no"], v["stock_code"]),
            ItemWrite("invoice", {"InvoiceNo": v["invoice_no"], "StockCode": v["stock_code"]}),
        )
        invoice.lines[event_id] = line
        invoice.attributes["InvoiceDate"] = v["invoiced_at"]
        invoice.attributes["Country"] = v["country"]
        invoice.attributes["CustomerID"] = customer
        invoice.positions.add(position)

        order = writes.setdefault(
            ("customer", customer, v["invoice_no"]),
            ItemWrite("customer", {"CustomerID": customer, "InvoiceNo": v["invoice_no"]}),
        )
        order.lines[event_id] = {"StockCode": v["stock_code"], **line}
        order.attributes["InvoiceDate"] = v["invoiced_at"]
        order.attributes["Country"] = v["country"]
        order.positions.add(position)
    return list(writes.values())


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (low-level shape) as plain Python values."""
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def lines_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines stored on a deserialised item, each with its event id, in line order."""
    lines = [{"EventId": eid, **line} for eid, line in item.get(LINES, {}).items()]
    return sorted(lines, key=lambda line: (line["SourceFile"], line["SourceLineNumber"]))
