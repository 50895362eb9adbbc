"""Lambda events in the exact shapes AWS sends, for the local stack (and the tests).

Field names and types follow the AWS documentation's sample events: API Gateway proxy
integration (REST, payload format 1.0) and HTTP API (payload format 2.0), a Kinesis
event source mapping batch, and a Firehose data-transformation invocation.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class LocalContext:
    """The attributes of Lambda's context object that Powertools and handlers read."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def context(function_name: str) -> LocalContext:
    return LocalContext(function_name, str(uuid.uuid4()))


def _request_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _body(body: bytes) -> tuple[str, bool]:
    # API Gateway passes text bodies as strings and binary ones base64-encoded.
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def rest_api_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    request_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API proxy integration event (payload format 1.0)."""
    at = at or datetime.now(UTC)
    request_id = request_id or str(uuid.uuid4())
    headers = {"Host": "api.example.com", "User-Agent": "online-retail-replay", **(headers or {})}
    text, is_base64 = _body(body) if body is not None else (None, False)
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "1234567890",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "extendedRequestId": request_id[:16],
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": "127.0.0.1",
                "user": None,
                "userAgent": headers["User-Agent"],
                "userArn": None,
            },
            "path": f"/prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": _request_time(at),
            "requestTimeEpoch": int(at.timestamp() * 1000),
            "resourceId": "abc123",
            "resourcePath": resource or path,
            "stage": "prod",
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def http_api_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    request_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API event (payload format 2.0); header names are lower case."""
    at = at or datetime.now(UTC)
    request_id = request_id or str(uuid.uuid4())
    headers = {"host": "api.example.com", "user-agent": "online-retail-replay"} | {
        k.lower(): v for k, v in (headers or {}).items()
    }
    text, is_base64 = _body(body) if body is not None else (None, False)
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers["user-agent"],
            },
            "requestId": request_id,
            "routeKey": f"{method} {route or path}",
            "stage": "$default",
            "time": _request_time(at),
            "timeEpoch": int(at.timestamp() * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if text is not None:
        event["body"] = text
    return event


@dataclass(frozen=True)
class KinesisRecordIn:
    """A record as GetRecords returns it (boto3's shape)."""

    data: bytes
    partition_key: str
    sequence_number: str
    arrived_at: datetime
    shard_id: str


def stream_arn(stream_name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream_name}"


def delivery_stream_arn(delivery_stream: str) -> str:
    return f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{delivery_stream}"


def kinesis_event(
    records: Sequence[KinesisRecordIn], stream_name: str, function_name: str
) -> dict[str, Any]:
    """A Kinesis event source mapping batch, as the Lambda service invokes with it."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence_number,
                    "data": base64.b64encode(r.data).decode("ascii"),
                    "approximateArrivalTimestamp": r.arrived_at.timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{r.shard_id}:{r.sequence_number}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/{function_name}-role",
                "awsRegion": REGION,
                "eventSourceARN": stream_arn(stream_name),
            }
            for r in records
        ]
    }


def firehose_event(
    records: Sequence[tuple[str, KinesisRecordIn]], delivery_stream: str, stream_name: str
) -> dict[str, Any]:
    """A Firehose data-transformation invocation for a delivery stream whose source is a
    Kinesis data stream: (recordId, record) pairs, arrival times in epoch milliseconds."""
    return {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": delivery_stream_arn(delivery_stream),
        "sourceKinesisStreamArn": stream_arn(stream_name),
        "region": REGION,
        "records": [
            {
                "recordId": record_id,
                "approximateArrivalTimestamp": int(r.arrived_at.timestamp() * 1000),
                "data": base64.b64encode(r.data).decode("ascii"),
                "kinesisRecordMetadata": {
                    "sequenceNumber": r.sequence_number,
                    "subsequenceNumber": 0,
                    "partitionKey": r.partition_key,
                    "shardId": r.shard_id,
                    "approximateArrivalTimestamp": int(r.arrived_at.timestamp() * 1000),
                },
            }
            for record_id, r in records
        ],
    }
