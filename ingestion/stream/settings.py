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
from botocore.client import BaseClient
from botocore.config import Config

from ingestion.lake import Lake


@dataclass(frozen=True)
class Settings:
    stream_name: str
    lake_root: str  # s3://bucket[/prefix] on AWS; the raw and quarantine zones live here
    customer_table: str
    invoice_table: str
    delivery_stream_name: str
    max_request_bytes: int
    put_records_max_attempts: int
    put_records_base_delay: float  # seconds; doubled on each retry, with full jitter

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            stream_name=env.get("STREAM_NAME", "online-retail-invoice-lines"),
            lake_root=env.get("LAKE_ROOT", "s3://online-retail-lake"),
            customer_table=env.get("CUSTOMER_TABLE", "online-retail-customers"),
            invoice_table=env.get("INVOICE_TABLE", "online-retail-invoices"),
            delivery_stream_name=env.get("DELIVERY_STREAM_NAME", "online-retail-invoice-lines"),
            # Lambda's synchronous payload limit is 6 MB; leave room for the event around it.
            max_request_bytes=int(env.get("MAX_REQUEST_BYTES", str(5 * 1024 * 1024))),
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
def lake() -> Lake:
    return Lake(current().lake_root)


def cold_start() -> None:
    """Forget the settings and clients, as a new container would (the local stack
    calls this when it changes the environment, e.g. to point Kinesis elsewhere)."""
    for cached in (current, kinesis, dynamodb, lake):
        cached.cache_clear()
