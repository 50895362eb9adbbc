"""The query API over DynamoDB, for API Gateway REST (v1) and HTTP API (v2) events.

    GET /customers/{customer_id}/invoices   a customer's invoices (UNKNOWN: no customer)
    GET /invoices/{invoice_no}              an invoice's lines, one item each

Both page with `limit` (1-100, default 25) and the `next_token` of the previous page;
unknown keys answer 404 and malformed keys, limits or tokens 400. The reads are in
`ingestion/stream/queries.py`; this module routes and answers. `handler` serves both
event shapes: payload format 2.0 (HTTP API) says so in `version`.
"""

from __future__ import annotations

import json
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

from ingestion.stream import settings
from ingestion.stream.queries import BadQuery, NotFound, customer_invoices, invoice

logger = Logger(service="online-retail-query-api")
rest_app = APIGatewayRestResolver()
http_app = APIGatewayHttpResolver()


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status, "application/json", json.dumps(body, default=_number))


def _number(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _routes(app: ApiGatewayResolver) -> None:
    @app.get("/customers/<customer_id>/invoices")
    def _customer_invoices(customer_id: str) -> Response:
        query = app.current_event.query_string_parameters
        table = settings.current().customer_table
        return _json(200, customer_invoices(customer_id, query, table, settings.dynamodb()))

    @app.get("/invoices/<invoice_no>")
    def _invoice(invoice_no: str) -> Response:
        query = app.current_event.query_string_parameters
        table = settings.current().invoice_table
        return _json(200, invoice(invoice_no, query, table, settings.dynamodb()))

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
