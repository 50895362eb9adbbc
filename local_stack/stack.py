"""The local stack: moto's server (or a given endpoint) with the bucket, stream and
tables of the settings, and the stream path's handlers wired to the local event source
mapping and Firehose delivery.

API Gateway is not emulated: a request "through POST /invoices" is an API Gateway proxy
event of the exact AWS shape passed to the API's Lambda handler, as API Gateway would.
"""

from __future__ import annotations

import os
from typing import Any

from ingestion.stream import settings
from ingestion.stream.items import (
    CUSTOMERS_KEY,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_TTL_ATTRIBUTE,
    INVOICES_KEY,
    TableKey,
)
from local_stack.events import context, http_api_event, rest_api_event
from local_stack.firehose import (
    DESTINATION_BUFFER,
    PROCESSOR_BUFFER,
    Buffering,
    FirehoseDelivery,
)
from local_stack.kinesis_mapping import EventSourceMapping


def create_stack(config: settings.Settings, shards: int = 2) -> None:
    """Create the lake bucket, the Kinesis stream and the DynamoDB tables (customers,
    invoices, and the API's idempotency records)."""
    import boto3

    bucket = config.lake_root.removeprefix("s3://").split("/", 1)[0]
    boto3.client("s3").create_bucket(Bucket=bucket)
    kinesis = settings.kinesis()
    kinesis.create_stream(StreamName=config.stream_name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=config.stream_name, WaiterConfig={"Delay": 0.1}
    )
    dynamodb = settings.dynamodb()
    for table, key in (
        (config.customer_table, CUSTOMERS_KEY),
        (config.invoice_table, INVOICES_KEY),
        (config.idempotency_table, IDEMPOTENCY_KEY),
    ):
        create_table(dynamodb, table, key)
    dynamodb.update_time_to_live(
        TableName=config.idempotency_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": IDEMPOTENCY_TTL_ATTRIBUTE},
    )


def create_table(dynamodb: Any, table: str, key: TableKey) -> None:
    """An on-demand table with the key design of `ingestion/stream/items.py`."""
    names = [(key.partition, "HASH")] + ([(key.sort, "RANGE")] if key.sort else [])
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n, _ in names],
        KeySchema=[{"AttributeName": n, "KeyType": kind} for n, kind in names],
    )


class LocalStack:
    """moto's server plus the event source mapping and Firehose delivery, with the stream
    path's handlers."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        name: str = "online-retail",
        shards: int = 2,
        processor_buffer: Buffering = PROCESSOR_BUFFER,
        destination_buffer: Buffering = DESTINATION_BUFFER,
        batch_size: int = 500,
    ) -> None:
        self.endpoint, self.name, self.shards = endpoint, name, shards
        self.processor_buffer, self.destination_buffer = processor_buffer, destination_buffer
        self.batch_size = batch_size
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}

    def environment(self, endpoint: str) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
            "AWS_DEFAULT_REGION": "us-east-1",
            "LAKE_ROOT": f"s3://{self.name}-lake",
            "STREAM_NAME": f"{self.name}-invoice-lines",
            "DELIVERY_STREAM_NAME": f"{self.name}-invoice-lines",
            "CUSTOMER_TABLE": f"{self.name}-customers",
            "INVOICE_TABLE": f"{self.name}-invoices",
            "IDEMPOTENCY_TABLE": f"{self.name}-idempotency",
            "STREAM_SHARDS": str(self.shards),
            # Local runs are quiet: warnings only, and no EMF metric lines on stdout.
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            # moto shares the laptop's CPU with dbt and the tests: be patient with it.
            "AWS_READ_TIMEOUT_SECONDS": os.environ.get("AWS_READ_TIMEOUT_SECONDS", "120"),
        }

    def __enter__(self) -> LocalStack:
        endpoint = self.endpoint
        if endpoint is None:
            import logging

            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
        for key, value in self.environment(endpoint).items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        settings.cold_start()
        # Imported here, as the Lambda runtime imports a handler: in its environment
        # (Powertools reads its log level when a module creates its Logger).
        from ingestion.stream.handlers import api, firehose_transform, kinesis_consumer

        self.api = api
        self.settings = settings.current()
        create_stack(self.settings, self.shards)
        self.lake = settings.lake()
        self.mapping = EventSourceMapping(
            kinesis_consumer.handler,
            "online-retail-kinesis-consumer",
            self.settings.stream_name,
            batch_size=self.batch_size,
        )
        self.firehose = FirehoseDelivery(
            firehose_transform.handler,
            delivery_stream=self.settings.delivery_stream_name,
            stream_name=self.settings.stream_name,
            lake=self.lake,
            processor_buffer=self.processor_buffer,
            destination_buffer=self.destination_buffer,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings.cold_start()
        if self._server is not None:
            self._server.stop()

    def post(
        self,
        body: bytes,
        *,
        content_type: str = "text/csv",
        idempotency_key: str | None = None,
        http_api: bool = False,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """POST /invoices through the API handler; the API Gateway proxy response."""
        headers = {"Content-Type": content_type}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if http_api:
            event = http_api_event(
                "POST", "/invoices", body=body, headers=headers, request_id=request_id
            )
            return self.api.handler(event, context("online-retail-api"))
        event = rest_api_event(
            "POST", "/invoices", body=body, headers=headers, request_id=request_id
        )
        return self.api.handler(event, context("online-retail-api"))

    def pump(self) -> int:
        """One poll of both consumers; records they read."""
        return self.mapping.poll() + self.firehose.poll()

    def drain(self) -> None:
        """Run the consumers until the stream has nothing new, then flush Firehose."""
        while self.pump():
            pass
        self.firehose.flush()
