"""POST /invoices: the stream path's front door (API Gateway REST proxy or HTTP API).

The body is one line as a JSON object, a JSON array of them, or CSV with a header. This
handler turns API Gateway's event into plain values, calls `intake.accept` (which judges,
keeps, quarantines and sends the lines) and turns its answer into the response; the
status codes are listed in `ingestion/stream/intake.py`.

`handler` serves both event shapes: payload format 2.0 (HTTP API) says so in `version`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingestion.stream import settings
from ingestion.stream.intake import Answer, Received, accept
from ingestion.stream.request_bodies import PayloadTooLarge, RequestError

logger = Logger(service="online-retail-api")
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OnlineRetail"),
    service="online-retail-api",
)
rest_app = APIGatewayRestResolver()
http_app = APIGatewayHttpResolver()


def _received(event: BaseProxyEvent, request_id: str, epoch_ms: int) -> Received:
    body = event.body or ""
    try:
        data = base64.b64decode(body, validate=True) if event.is_base64_encoded else body.encode()
    except (binascii.Error, UnicodeEncodeError) as e:
        raise RequestError(f"body cannot be read as bytes: {e}") from e
    return Received(
        body=data,
        content_type=event.headers.get("content-type"),
        request_id=request_id,
        idempotency_key=event.headers.get("idempotency-key"),
        received_at=datetime.fromtimestamp(epoch_ms / 1000, tz=UTC),
    )


def _respond(answer: Answer) -> Response:
    for name, value in answer.counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if answer.status == 503:
        logger.error("Kinesis refused lines after retries", extra={"unsent": answer.body["unsent"]})
    return Response(answer.status, "application/json", json.dumps(answer.body))


@rest_app.post("/invoices")
def post_invoices_rest() -> Response:
    event = rest_app.current_event
    context = event.request_context
    request = _received(event, context.request_id, context.request_time_epoch)
    return _respond(accept(request, settings.current(), settings.lake(), settings.kinesis()))


@http_app.post("/invoices")
def post_invoices_http() -> Response:
    event = http_app.current_event
    context = event.request_context
    request = _received(event, context.request_id, context.time_epoch)
    return _respond(accept(request, settings.current(), settings.lake(), settings.kinesis()))


def _error(status: int, error: Exception) -> Response:
    logger.info("request refused", extra={"status": status, "reason": str(error)})
    metrics.add_metric(name=f"Requests{status}", unit=MetricUnit.Count, value=1)
    return _respond(Answer(status, {"message": str(error)}))


for _app in (rest_app, http_app):

    @_app.exception_handler(PayloadTooLarge)
    def _too_large(error: PayloadTooLarge) -> Response:
        return _error(413, error)

    @_app.exception_handler(RequestError)
    def _bad_request(error: RequestError) -> Response:
        return _error(400, error)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    app = http_app if event.get("version") == "2.0" else rest_app
    return app.resolve(event, context)
