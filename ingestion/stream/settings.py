"""Settings and AWS clients of the stream Lambdas, from the environment only.

boto3 honours AWS_ENDPOINT_URL (and per-service AWS_ENDPOINT_URL_KINESIS, ...) itself,
which is how the same code talks to moto's server locally and to AWS in production.
Each client is created once per container (on first use, so importing a handler costs
nothing) and reused by every warm invocation.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from botocore.client import BaseClient
from botocore.config import Config

from ingestion.lake import Lake
from ingestion.stream.producer import RequestLimits, request_limits


@dataclass(frozen=True)
class Settings:
    stream_name: str
    lake_root: str  # s3://bucket[/prefix] on AWS; the raw and quarantine zones live here
    customer_table: str
    invoice_table: str
    idempotency_table: str  # Powertools' idempotency records of POST /invoices
    delivery_stream_name: str
    request_limits: RequestLimits  # from the stream's shards; see producer.request_limits
    idempotency_seconds: int  # how long a completed request is answered again for its key
    upload_url_seconds: int  # how long a presigned upload URL is valid
    put_records_max_attempts: int
    put_records_base_delay: float  # seconds; doubled on each retry, with full jitter

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        limits = request_limits(int(env.get("STREAM_SHARDS", "2")))
        if env.get("MAX_REQUEST_BYTES"):  # a lower limit, e.g. for a test; never a higher one
            cap = min(int(env["MAX_REQUEST_BYTES"]), limits.bytes)
            limits = RequestLimits(limits.lines, cap, limits.shards)
        return cls(
            stream_name=env.get("STREAM_NAME", "online-retail-invoice-lines"),
            lake_root=env.get("LAKE_ROOT", "s3://online-retail-lake"),
            customer_table=env.get("CUSTOMER_TABLE", "online-retail-customers"),
            invoice_table=env.get("INVOICE_TABLE", "online-retail-invoices"),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", "online-retail-idempotency"),
            delivery_stream_name=env.get("DELIVERY_STREAM_NAME", "online-retail-invoice-lines"),
            request_limits=limits,
            idempotency_seconds=int(env.get("IDEMPOTENCY_SECONDS", str(24 * 3600))),
            upload_url_seconds=int(env.get("UPLOAD_URL_SECONDS", "900")),
            put_records_max_attempts=int(env.get("PUT_RECORDS_MAX_ATTEMPTS", "6")),
            put_records_base_delay=float(env.get("PUT_RECORDS_BASE_DELAY_SECONDS", "0.05")),
        )


def _client_config() -> Config:
    # Standard retry mode: botocore itself retries throttling and 5xx a few times before a
    # handler's own retry loop (which also covers the per-record failures of PutRecords).
    # 10 s suits AWS; the local stack raises it, as moto on a busy laptop can take longer
    # to serve a 1 MB Scan page.
    read_timeout = float(os.environ.get("AWS_READ_TIMEOUT_SECONDS", "10"))
    return Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=read_timeout,
    )


@functools.cache
def current() -> Settings:
    return Settings.from_env()


@functools.cache
def kinesis() -> BaseClient:
    return boto3.client("kinesis", config=_client_config())


@functools.cache
def dynamodb() -> BaseClient:
    return boto3.client("dynamodb", config=_client_config())


@functools.cache
def s3() -> BaseClient:
    # Presigned URLs must be signed with SigV4 for the bucket's own Region.
    return boto3.client("s3", config=_client_config().merge(Config(signature_version="s3v4")))


@functools.cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    """Powertools' idempotency records of POST /invoices (key `id`, TTL `expiration`)."""
    return DynamoDBPersistenceLayer(table_name=current().idempotency_table, boto3_client=dynamodb())


@functools.cache
def lake() -> Lake:
    return Lake(current().lake_root)


def cold_start() -> None:
    """Forget the settings and clients, as a new container would (the local stack
    calls this when it changes the environment, e.g. to point Kinesis elsewhere)."""
    for cached in (current, kinesis, dynamodb, s3, idempotency_store, lake):
        cached.cache_clear()
