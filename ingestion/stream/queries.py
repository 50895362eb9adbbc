"""The query API's reads of DynamoDB: a customer's invoices and an invoice's lines,
paged with `limit` (1-100, default 25) and the `next_token` of the previous page. The
handler (`handlers/query_api.py`) only routes API Gateway's events here and turns the
answer, or a BadQuery / NotFound, into the response.

Both are Queries on one partition (items.py has the keys): an invoice's lines under its
invoice number, a customer's invoice summaries under the customer id. The guests'
(`UNKNOWN`) summaries are spread over GUEST_SHARDS partitions, read one after another;
the token says which partition and where in it the next page starts.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from ingestion.errors import OnlineRetailError
from ingestion.stream.items import (
    CUSTOMERS_KEY,
    INVOICES_KEY,
    UNKNOWN_CUSTOMER,
    from_item,
    guest_keys,
)

_INVOICE_NO = re.compile(r"^[A-Za-z]?[0-9]{1,12}$")
_CUSTOMER_ID = re.compile(rf"^([0-9]{{1,12}}|{UNKNOWN_CUSTOMER})$")
DEFAULT_LIMIT, MAX_LIMIT = 25, 100


class BadQuery(OnlineRetailError):
    """A malformed path or query parameter (answered 400); its `field` is the parameter."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(reason, field=parameter)


class NotFound(OnlineRetailError):
    """No item under the key (answered 404)."""


def _bad_token() -> BadQuery:
    return BadQuery("next_token", "is not a token this API issued")


def page_args(query: dict[str, str]) -> tuple[int, dict[str, Any] | None]:
    """The page size and the decoded token: {"p": partition, "k": start key or None}."""
    raw_limit = query.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise BadQuery("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    token = query.get("next_token")
    if not token:
        return int(raw_limit), None
    try:
        start = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
    except (binascii.Error, ValueError) as e:
        raise _bad_token() from e
    if not isinstance(start, dict) or set(start) != {"p", "k"} or not isinstance(start["p"], str):
        raise _bad_token()
    key = start["k"]
    if key is not None and not (
        isinstance(key, dict) and all(isinstance(v, dict) and set(v) == {"S"} for v in key.values())
    ):
        raise _bad_token()
    return int(raw_limit), start


def _token(partition: str, last_key: dict[str, Any] | None) -> str:
    raw = json.dumps({"p": partition, "k": last_key}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _pages(
    dynamodb: Any,
    table: str,
    key_name: str,
    partitions: list[str],
    query: dict[str, str],
    parameter: str,
    what: str,
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` items from `partitions` in order, from the token's position; the
    items and the token of the next page (None after the last)."""
    limit, start = page_args(query)
    index, start_key = 0, None
    if start is not None:
        if start["p"] not in partitions:
            raise BadQuery("next_token", f"belongs to another {parameter}")
        index, start_key = partitions.index(start["p"]), start["k"]
    items: list[dict[str, Any]] = []
    while index < len(partitions):
        request: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": key_name},
            "ExpressionAttributeValues": {":k": {"S": partitions[index]}},
            "Limit": limit - len(items),
        }
        if start_key:
            request["ExclusiveStartKey"] = start_key
        page = dynamodb.query(**request)
        items += [from_item(i) for i in page.get("Items", [])]
        start_key = page.get("LastEvaluatedKey")
        if not start_key:
            index += 1
        if len(items) >= limit:
            break
    if not items and start is None:
        raise NotFound(f"no {what}")
    if index >= len(partitions):
        return items, None
    return items, _token(partitions[index], start_key)


def customer_invoices(
    customer_id: str, query: dict[str, str], table: str, dynamodb: Any
) -> dict[str, Any]:
    """A page of a customer's invoices, each with its line count and amount."""
    if not _CUSTOMER_ID.match(customer_id):
        raise BadQuery("customer_id", f"must be digits or {UNKNOWN_CUSTOMER}: {customer_id!r}")
    partitions = guest_keys() if customer_id == UNKNOWN_CUSTOMER else [customer_id]
    items, token = _pages(
        dynamodb,
        table,
        CUSTOMERS_KEY.partition,
        partitions,
        query,
        "customer_id",
        f"invoices of customer {customer_id}",
    )
    invoices = [
        {
            "invoice_no": item[CUSTOMERS_KEY.sort],
            "invoiced_at": item.get("InvoiceDate"),
            "country": item.get("Country"),
            "lines": item["LineCount"],
            "amount": str(item["Amount"]),
        }
        for item in items
    ]
    return {"customer_id": customer_id, "invoices": invoices, "next_token": token}


def invoice(invoice_no: str, query: dict[str, str], table: str, dynamodb: Any) -> dict[str, Any]:
    """A page of an invoice's lines (one item each, in event id order)."""
    if not _INVOICE_NO.match(invoice_no):
        raise BadQuery("invoice_no", f"is not an invoice number: {invoice_no!r}")
    items, token = _pages(
        dynamodb,
        table,
        INVOICES_KEY.partition,
        [invoice_no],
        query,
        "invoice_no",
        f"invoice {invoice_no}",
    )
    first = items[0] if items else {}
    lines = [
        {
            "event_id": item[INVOICES_KEY.sort],
            "stock_code": item.get("StockCode"),
            "description": item.get("Description"),
            "quantity": item["Quantity"],
            "unit_price": str(item["UnitPrice"]),
            "source_file": item.get("SourceFile"),
            "source_line_number": item.get("SourceLineNumber"),
            **({"truncated": item["Truncated"]} if "Truncated" in item else {}),
        }
        for item in items
    ]
    return {
        "invoice_no": invoice_no,
        "customer_id": first.get("CustomerID"),
        "invoiced_at": first.get("InvoiceDate"),
        "country": first.get("Country"),
        "lines": lines,
        "next_token": token,
    }
