"""The query API's reads of DynamoDB: a customer's invoices and an invoice's lines,
paged with `limit` (1-100, default 25) and the `next_token` of the previous page. The
handler (`handlers/query_api.py`) only routes API Gateway's events here and turns the
answer, or a BadQuery / NotFound, into the response.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal
from typing import Any

from ingestion.errors import OnlineRetailError
from ingestion.stream.items import UNKNOWN_CUSTOMER, from_item, lines_of

_INVOICE_NO = re.compile(r"^[A-Za-z]?[0-9]{1,12}$")
_CUSTOMER_ID = re.compile(rf"^([0-9]{{1,12}}|{UNKNOWN_CUSTOMER})$")
DEFAULT_LIMIT, MAX_LIMIT = 25, 100


class BadQuery(OnlineRetailError):
    """A malformed path or query parameter (answered 400); its `field` is the parameter."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(reason, field=parameter)


class NotFound(OnlineRetailError):
    """No item under the key (answered 404)."""


def page_args(query: dict[str, str]) -> tuple[int, dict[str, Any] | None]:
    raw_limit = query.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise BadQuery("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    token = query.get("next_token")
    start = None
    if token:
        try:
            start = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
        except (binascii.Error, ValueError) as e:
            raise BadQuery("next_token", "is not a token this API issued") from e
        if not isinstance(start, dict) or not all(
            isinstance(v, dict) and set(v) == {"S"} for v in start.values()
        ):
            raise BadQuery("next_token", "is not a token this API issued")
    return int(raw_limit), start


def _token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key).encode()).decode().rstrip("=")


def _query(
    dynamodb: Any, table: str, key_name: str, key: str, query: dict[str, str]
) -> tuple[list[dict[str, Any]], str | None]:
    limit, start = page_args(query)
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#k = :k",
        "ExpressionAttributeNames": {"#k": key_name},
        "ExpressionAttributeValues": {":k": {"S": key}},
        "Limit": limit,
    }
    if start:
        if start.get(key_name) != {"S": key}:
            raise BadQuery("next_token", f"belongs to another {key_name}")
        request["ExclusiveStartKey"] = start
    page = dynamodb.query(**request)
    items = [from_item(i) for i in page.get("Items", [])]
    if not items and start is None:
        raise NotFound(f"no {key_name} {key}")
    return items, _token(page.get("LastEvaluatedKey"))


def customer_invoices(
    customer_id: str, query: dict[str, str], table: str, dynamodb: Any
) -> dict[str, Any]:
    """A page of a customer's invoices, each with its line count and amount."""
    if not _CUSTOMER_ID.match(customer_id):
        raise BadQuery("customer_id", f"must be digits or {UNKNOWN_CUSTOMER}: {customer_id!r}")
    items, token = _query(dynamodb, table, "CustomerID", customer_id, query)
    invoices = []
    for item in items:
        lines = lines_of(item)
        invoices.append(
            {
                "invoice_no": item["InvoiceNo"],
                "invoiced_at": item.get("InvoiceDate"),
                "country": item.get("Country"),
                "lines": len(lines),
                "amount": str(
                    sum((line["Quantity"] * line["UnitPrice"] for line in lines), Decimal(0))
                ),
            }
        )
    return {"customer_id": customer_id, "invoices": invoices, "next_token": token}


def invoice(invoice_no: str, query: dict[str, str], table: str, dynamodb: Any) -> dict[str, Any]:
    """A page of an invoice's lines, by product."""
    if not _INVOICE_NO.match(invoice_no):
        raise BadQuery("invoice_no", f"is not an invoice number: {invoice_no!r}")
    items, token = _query(dynamodb, table, "InvoiceNo", invoice_no, query)
    first = items[0] if items else {}
    lines = [
        {
            "event_id": line["EventId"],
            "stock_code": item["StockCode"],
            "description": line.get("Description"),
            "quantity": line["Quantity"],
            "unit_price": str(line["UnitPrice"]),
        }
        for item in items
        for line in lines_of(item)
    ]
    body = {
        "invoice_no": invoice_no,
        "customer_id": first.get("CustomerID"),
        "invoiced_at": first.get("InvoiceDate"),
        "country": first.get("Country"),
        "lines": lines,
        "next_token": token,
    }
    return body
