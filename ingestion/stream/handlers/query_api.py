"""The query API over DynamoDB, for API Gateway REST (v1) and HTTP API (v2) events.

    GET /customers/{customer_id}/invoices   a customer's invoices (UNKNOWN: no customer)
    GET /invoices/{invoice_no}              an invoice's lines, by product

Both page with `limit` (1-100, default 25) and the `next_token` of the previous page;
unknown keys answer 404 and malformed keys, limits or tokens 400. `handler` serves
both event shapes: payload format 2.0 (HTTP API) says so in `version`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingestion.errors import OnlineRetailError
from ingestion.stream import settings
from ingestion.stream.items import UNKNOWN_CUSTOMER, from_item, lines_of

logger = Logger(service="online-retail-query-api")
rest_app = APIGatewayRestResolver()
http_app = APIGatewayHttpResolver()

_INVOICE_NO = re.compile(r"^[A-Za-z]?[0-9]{1,12}$")
_CUSTOMER_ID = re.compile(rf"^([0-9]{{1,12}}|{UNKNOWN_CUSTOMER})$")
DEFAULT_LIMIT, MAX_LIMIT = 25, 100


class BadQuery(OnlineRetailError):
    """A malformed path or query parameter (answered 400); its `field` is the parameter."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(reason, field=parameter)


class NotFound(OnlineRetailError):
    """No item under the key (answered 404)."""


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status, "application/json", json.dumps(body, default=_number))


def _number(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


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
    table: str, key_name: str, key: str, query: dict[str, str]
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
    page = settings.dynamodb().query(**request)
    items = [from_item(i) for i in page.get("Items", [])]
    if not items and start is None:
        raise NotFound(f"no {key_name} {key}")
    return items, _token(page.get("LastEvaluatedKey"))


def customer_invoices(customer_id: str, query: dict[str, str]) -> Response:
    if not _CUSTOMER_ID.match(customer_id):
        raise BadQuery("customer_id", f"must be digits or {UNKNOWN_CUSTOMER}: {customer_id!r}")
    items, token = _query(settings.current().customer_table, "CustomerID", customer_id, query)
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
    return _json(200, {"customer_id": customer_id, "invoices": invoices, "next_token": token})


def invoice(invoice_no: str, query: dict[str, str]) -> Response:
    if not _INVOICE_NO.match(invoice_no):
        raise BadQuery("invoice_no", f"is not an invoice number: {invoice_no!r}")
    items, token = _query(settings.current().invoice_table, "InvoiceNo", invoice_no, query)
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
    return _json(200, body)


def _routes(app: ApiGatewayResolver) -> None:
    @app.get("/customers/<customer_id>/invoices")
    def _customer_invoices(customer_id: str) -> Response:
        return customer_invoices(customer_id, app.current_event.query_string_parameters)

    @app.get("/invoices/<invoice_no>")
    def _invoice(invoice_no: str) -> Response:
        return invoice(invoice_no, app.current_event.query_string_parameters)

    @app.exception_handler(BadQuery)
    def _bad(error: BadQuery) -> Response:
        return _json(400, {"message": f"{error.field} {error.message}", "parameter": error.field})

    @app.exception_handler(NotFound)
    def _missing(error: NotFound) -> Response:
        return _json(404, {"message": str(error)})


_routes(rest_app)
_routes(http_app)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway's REST (payload 1.0) and HTTP API (payload 2.0) events alike."""
    app = http_app if event.get("version") == "2.0" else rest_app
    return app.resolve(event, context)
