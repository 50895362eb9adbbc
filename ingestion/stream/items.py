"""The DynamoDB items of cleaned lines: pure code, no I/O.

The prototype's two tables keep their keys, now all strings (`C536379` is an invoice
number, not a malformed number):

    customer  CustomerID (partition) + InvoiceNo (sort)   one item per customer's invoice
    invoice   InvoiceNo (partition)  + StockCode (sort)   one item per product on an invoice

A line without a customer is stored under the customer key `UNKNOWN` (real ids are
digits, so it cannot collide). Several lines can share an item (an invoice lists a
product twice, or the data repeats a line), so each line is its own attribute named
`line#<event_id>`: writing a line is `SET` of that attribute, which a redelivered
record repeats with the same value, so redelivery changes nothing and no line is lost.
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
LINE_PREFIX = "line#"
CUSTOMER_KEY = ("CustomerID", "InvoiceNo")
INVOICE_KEY = ("InvoiceNo", "StockCode")
# Attributes per UpdateItem: keeps the expression far below DynamoDB's 4 KB limit.
MAX_ATTRIBUTES_PER_UPDATE = 100

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass
class ItemWrite:
    """The attributes to SET on one item, and the batch positions of the lines in it."""

    table: str  # "customer" or "invoice"
    key: dict[str, str]
    attributes: dict[str, Any] = field(default_factory=dict)
    positions: set[int] = field(default_factory=set)

    def update_requests(self, table_name: str) -> list[dict[str, Any]]:
        """UpdateItem requests (low-level client shape) that SET the attributes."""
        names = sorted(self.attributes)
        requests = []
        for start in range(0, len(names), MAX_ATTRIBUTES_PER_UPDATE):
            part = names[start : start + MAX_ATTRIBUTES_PER_UPDATE]
            requests.append(
                {
                    "TableName": table_name,
                    "Key": {k: {"S": v} for k, v in self.key.items()},
                    "UpdateExpression": "SET "
                    + ", ".join(f"#a{i} = :v{i}" for i in range(len(part))),
                    "ExpressionAttributeNames": {f"#a{i}": n for i, n in enumerate(part)},
                    "ExpressionAttributeValues": {
                        f":v{i}": _serializer.serialize(self.attributes[n])
                        for i, n in enumerate(part)
                    },
                }
            )
        return requests


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
        attribute = LINE_PREFIX + v["event_id"]

        invoice = writes.setdefault(
            ("invoice", v["invoice_no"], v["stock_code"]),
            ItemWrite("invoice", {"InvoiceNo": v["invoice_no"], "StockCode": v["stock_code"]}),
        )
        invoice.attributes[attribute] = line
        invoice.attributes["InvoiceDate"] = v["invoiced_at"]
        invoice.attributes["Country"] = v["country"]
        invoice.attributes["CustomerID"] = customer
        invoice.positions.add(position)

        order = writes.setdefault(
            ("customer", customer, v["invoice_no"]),
            ItemWrite("customer", {"CustomerID": customer, "InvoiceNo": v["invoice_no"]}),
        )
        order.attributes[attribute] = {"StockCode": v["stock_code"], **line}
        order.attributes["InvoiceDate"] = v["invoiced_at"]
        order.attributes["Country"] = v["country"]
        order.positions.add(position)
    return list(writes.values())


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (low-level shape) as plain Python values."""
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def lines_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines stored on a deserialised item, each with its event id, in line order."""
    lines = [
        {"EventId": name.removeprefix(LINE_PREFIX), **value}
        for name, value in item.items()
        if name.startswith(LINE_PREFIX)
    ]
    return sorted(lines, key=lambda line: (line["SourceFile"], line["SourceLineNumber"]))
