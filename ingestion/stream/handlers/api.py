"""POST /invoices and POST /uploads: the stream path's front door (API Gateway REST
proxy or HTTP API).

POST /invoices: the body is one line as a JSON object, a JSON array of them, or CSV with
a header. This handler turns API Gateway's event into plain values, calls
`intake.accept` (which judges, keeps, quarantines and sends the lines) and turns its
answer into the response; the status codes are listed in `ingestion/stream/intake.py`.
A request with an `Idempotency-Key` header runs once, through Powertools' idempotency
utility (records in the IDEMPOTENCY_TABLE): the same key again answers the first
response (`Idempotency-Replayed: true`) and sends nothing; while the first still runs,
409; with another body, 422. A 503 (Kinesis kept refusing lines) is not kept, so its
retry runs again.

POST /uploads: bodies over the request limit go to the batch job instead. The answer
(201) is a presigned S3 PUT URL for a new key in the raw zone, valid UPLOAD_URL_SECONDS;
an S3 ObjectCreated event on `raw/online_retail/uploads/` starts the batch job on it.

`handler` serves both event shapes: payload format 2.0 (HTTP API) says so in `version`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import uuid
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
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingestion.stream import settings
from ingestion.stream.intake import Answer, Received, accept, check_size
from ingestion.stream.request_bodies import PayloadTooLarge, RequestError, request_key, upload_of

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


def _respond(answer: Answer, headers: dict[str, str] | None = None) -> Response:
    for name, value in answer.counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if answer.status == 503:
        logger.error("Kinesis refused lines after retries", extra={"unsent": answer.body["unsent"]})
    return Response(answer.status, "application/json", json.dumps(answer.body), headers=headers)


class _NotKept(Exception):
    """An answer the idempotency store must not keep (a 503: its retry runs again)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _replayed(response: dict[str, Any], record: DataRecord) -> dict[str, Any]:
    return {**response, "replayed": True}


def _accept_once(*, identity: dict[str, str], request: Received) -> dict[str, Any]:
    answer = accept(request, settings.current(), settings.lake(), settings.kinesis())
    if answer.status == 503:
        raise _NotKept(answer)
    return {"status": answer.status, "body": answer.body, "counts": answer.counts}


def _post_invoices(request: Received, context: LambdaContext | None) -> Response:
    config = settings.current()
    check_size(request, config)  # before any idempotency record is kept
    if request.idempotency_key is None:
        return _respond(accept(request, config, settings.lake(), settings.kinesis()))
    idempotency = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body_sha256",
        expires_after_seconds=config.idempotency_seconds,
        hash_function="sha256",
        response_hook=_replayed,
    )
    if context is not None:
        idempotency.register_lambda_context(context)
    once = idempotent_function(
        _accept_once,
        data_keyword_argument="identity",
        persistence_store=settings.idempotency_store(),
        config=idempotency,
        key_prefix="post-invoices",
    )
    identity = {
        "key": request_key(request.request_id, request.idempotency_key),
        "body_sha256": hashlib.sha256(request.body).hexdigest(),
    }
    try:
        kept = once(identity=identity, request=request)
    except _NotKept as e:
        return _respond(e.answer)
    except IdempotencyAlreadyInProgressError:
        return _error(409, RequestError("a request with this Idempotency-Key is in progress"))
    except IdempotencyValidationError:
        return _error(
            422, RequestError("this Idempotency-Key was used with another body: use a new key")
        )
    if kept.get("replayed"):
        metrics.add_metric(name="RequestsReplayed", unit=MetricUnit.Count, value=1)
        answer = Answer(kept["status"], kept["body"])
        return _respond(answer, {"Idempotency-Replayed": "true"})
    return _respond(Answer(kept["status"], kept["body"], kept["counts"]))


@rest_app.post("/invoices")
def post_invoices_rest() -> Response:
    event = rest_app.current_event
    context = event.request_context
    request = _received(event, context.request_id, context.request_time_epoch)
    return _post_invoices(request, rest_app.lambda_context)


@http_app.post("/invoices")
def post_invoices_http() -> Response:
    event = http_app.current_event
    context = event.request_context
    request = _received(event, context.request_id, context.time_epoch)
    return _post_invoices(request, http_app.lambda_context)


def _post_uploads(event: BaseProxyEvent, request_id: str, epoch_ms: int) -> Response:
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode()
    upload = upload_of(raw, uuid.uuid4().hex, datetime.fromtimestamp(epoch_ms / 1000, tz=UTC))
    config = settings.current()
    bucket, _, prefix = config.lake_root.removeprefix("s3://").partition("/")
    key = f"{prefix.strip('/')}/{upload.key}" if prefix.strip("/") else upload.key
    url = settings.s3().generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": upload.content_type},
        ExpiresIn=config.upload_url_seconds,
    )
    logger.info("upload URL issued", extra={"key": upload.key, "request_id": request_id})
    metrics.add_metric(name="UploadsIssued", unit=MetricUnit.Count, value=1)
    body_out = {
        "upload_url": url,
        "method": "PUT",
        "headers": {"Content-Type": upload.content_type},
        "key": upload.key,
        "file_name": upload.file_name,
        "expires_in": config.upload_url_seconds,
        "message": "PUT the file to upload_url; the batch job lands it when it arrives",
    }
    return Response(201, "application/json", json.dumps(body_out))


@rest_app.post("/uploads")
def post_uploads_rest() -> Response:
    event = rest_app.current_event
    context = event.request_context
    return _post_uploads(event, context.request_id, context.request_time_epoch)


@http_app.post("/uploads")
def post_uploads_http() -> Response:
    event = http_app.current_event
    context = event.request_context
    return _post_uploads(event, context.request_id, context.time_epoch)


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
