"""The local stack: moto's server (or a given endpoint) with the bucket, stream and
tables, and the stream path's handlers wired to the local event source mapping and
Firehose delivery.

Two ways to get the resources: `LocalStack(template=True)` creates template.yaml as a stack
on moto's server (local_stack/template_stack.py) and takes every name from its Outputs,
each handler running with the environment the template gives its function, and the
mapping and Firehose with the template's properties; otherwise `create_stack` makes the
bucket, stream and tables of the settings directly (the fast path of the unit tests).

API Gateway is not emulated: a request "through POST /invoices" is an API Gateway proxy
event of the exact AWS shape passed to the API's Lambda handler, as API Gateway would.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
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
from local_stack.iam_proof import ACCOUNT, REGION, Call, CallRecorder, Need
from local_stack.kinesis_mapping import EventSourceMapping, Handler
from local_stack.template_resources import create_from_properties
from local_stack.template_stack import DeployedStack, deploy

# What the runner sets on top of a function's template environment, and why: moto's
# endpoint and test credentials; quiet logs and no EMF lines on stdout; a patient read
# timeout, as moto shares the laptop's CPU with dbt and the tests.
LOCAL_ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
LOCAL_ENVIRONMENT += ("AWS_DEFAULT_REGION", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED")
LOCAL_ENVIRONMENT += ("AWS_READ_TIMEOUT_SECONDS",)


def stack_from_template(
    stage: str, shards: int, parameters: dict[str, str] | None = None
) -> DeployedStack:
    """template.yaml as stack `online-retail-<stage>` on the endpoint of AWS_ENDPOINT_URL,
    with what moto's CloudFormation lacks made from the template's properties."""
    values = {"Stage": stage, "StreamMode": "PROVISIONED", "ShardCount": str(shards)}
    return create_from_properties(
        deploy(f"online-retail-{stage}", {**values, **(parameters or {})})
    )


def names_from_outputs(stack: DeployedStack) -> dict[str, str]:
    """The stream settings' environment, every name from the stack's Outputs."""
    o = stack.outputs
    return {
        "LAKE_ROOT": o["LakeRoot"],
        "STREAM_NAME": o["StreamName"],
        "DELIVERY_STREAM_NAME": o["DeliveryStreamName"],
        "CUSTOMER_TABLE": o["CustomerTableName"],
        "INVOICE_TABLE": o["InvoiceTableName"],
        "IDEMPOTENCY_TABLE": o["IdempotencyTableName"],
    }


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


def _drop_unpublished_metrics() -> None:
    """With POWERTOOLS_METRICS_DISABLED (local runs), Powertools' flush at the end of an
    invocation keeps the metrics it did not print, in a set its Metrics share, and prints
    them all as EMF once 100 values of one have piled up; on Lambda each invocation's
    are flushed. Drop them, so stdout stays quiet and nothing grows across invocations."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        Metrics().clear_metrics()


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
        template: bool = False,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.endpoint, self.name, self.shards = endpoint, name, shards
        self.processor_buffer, self.destination_buffer = processor_buffer, destination_buffer
        self.batch_size = batch_size
        self.template, self.parameters = template, parameters or {}
        self.deployed: DeployedStack | None = None
        self.recorder: CallRecorder | None = None
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._failures_sent = 0

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
            # every request reaches the recorder first (the IAM proof's calls)
            self.recorder = CallRecorder(self._server._server.app)
            self._server._server.app = self.recorder
            host, port = self._server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
        environment = self.environment(endpoint)
        if self.template:
            environment = {k: environment[k] for k in LOCAL_ENVIRONMENT}
        self._set_environment(environment)
        if self.template:
            stage = "local" if self.name == "online-retail" else f"t{uuid.uuid4().hex[:8]}"
            parameters = {"ConsumerBatchSize": str(self.batch_size), **self.parameters}
            self.deployed = stack_from_template(stage, self.shards, parameters)
            self._set_environment(names_from_outputs(self.deployed))
        settings.cold_start()
        # Imported here, as the Lambda runtime imports a handler: in its environment
        # (Powertools reads its log level when a module creates its Logger).
        from ingestion.stream.handlers import api, firehose_transform, kinesis_consumer, query_api

        self.api = self.as_function("ApiFunction", api.handler)
        self.query = self.as_function("QueryFunction", query_api.handler)
        self.settings = settings.current()
        if not self.template:
            create_stack(self.settings, self.shards)
        self.lake = settings.lake()
        mapping = {"batch_size": self.batch_size}
        if self.deployed is not None:
            (esm,) = self.deployed.of_type("AWS::Lambda::EventSourceMapping").values()
            mapping = {
                "batch_size": int(esm["BatchSize"]),
                "maximum_retry_attempts": int(esm["MaximumRetryAttempts"]),
            }
        with self.acting("ConsumerFunction"):
            self.mapping = EventSourceMapping(
                self.as_function("ConsumerFunction", kinesis_consumer.handler),
                self.function_name("ConsumerFunction", "online-retail-kinesis-consumer"),
                self.settings.stream_name,
                **mapping,
            )
        with self.acting("DeliveryStream"):
            self.firehose = FirehoseDelivery(
                self.as_function("TransformFunction", firehose_transform.handler),
                delivery_stream=self.settings.delivery_stream_name,
                stream_name=self.settings.stream_name,
                lake=self.lake,
                function_name=self.function_name(
                    "TransformFunction", "online-retail-firehose-transform"
                ),
                **self._delivery_configuration(),
            )
        return self

    def _set_environment(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _delivery_configuration(self) -> dict[str, Any]:
        """Buffering and prefixes: the template's DeliveryStream, or the constructor's."""
        if self.deployed is None:
            return {
                "processor_buffer": self.processor_buffer,
                "destination_buffer": self.destination_buffer,
            }
        (stream,) = self.deployed.of_type("AWS::KinesisFirehose::DeliveryStream").values()
        s3 = stream["ExtendedS3DestinationConfiguration"]
        (processor,) = s3["ProcessingConfiguration"]["Processors"]
        p = {x["ParameterName"]: x["ParameterValue"] for x in processor["Parameters"]}
        mib = 1024 * 1024
        hints = s3["BufferingHints"]
        return {
            "processor_buffer": Buffering(
                int(float(p["BufferSizeInMBs"]) * mib), float(p["BufferIntervalInSeconds"])
            ),
            "destination_buffer": Buffering(
                int(hints["SizeInMBs"]) * mib, float(hints["IntervalInSeconds"])
            ),
            "prefix": s3["Prefix"],
            "error_prefix": s3["ErrorOutputPrefix"],
        }

    def function_name(self, logical_id: str, default: str) -> str:
        if self.deployed is None:
            return default
        return self.deployed.functions[logical_id].name

    def acting(self, principal: str) -> contextlib.AbstractContextManager[None]:
        """Attribute the AWS calls made meanwhile to `principal` (the IAM proof)."""
        if self.recorder is None:
            return contextlib.nullcontext()
        return self.recorder.acting(principal)

    @contextlib.contextmanager
    def _function_environment(self, logical_id: str) -> Iterator[None]:
        """The function's own environment from the template (plus LOCAL_ENVIRONMENT), as
        its container has it; a new container (cold start) when its settings differ."""
        if self.deployed is None:
            yield
            return
        saved = dict(os.environ)
        own = self.deployed.functions[logical_id].environment
        os.environ.update({k: str(v) for k, v in own.items()})
        for key in LOCAL_ENVIRONMENT:
            os.environ[key] = saved[key]
        if settings.Settings.from_env() != settings.current():
            settings.cold_start()
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def as_function(self, logical_id: str, handler: Handler) -> Handler:
        """`handler` invoked as the template's function `logical_id`."""

        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            if self.recorder is not None and self.recorder.principal == "DeliveryStream":
                # Firehose invokes its processor with its own role (lambda:InvokeFunction)
                arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{context.function_name}"
                need = Need("lambda:InvokeFunction", arn)
                self.recorder.record(Call("DeliveryStream", "lambda", "Invoke", [need]))
            with self.acting(logical_id), self._function_environment(logical_id):
                try:
                    return handler(event, context)
                finally:
                    _drop_unpublished_metrics()

        return invoke

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
            return self.api(event, context(self.function_name("ApiFunction", "online-retail-api")))
        event = rest_api_event(
            "POST", "/invoices", body=body, headers=headers, request_id=request_id
        )
        return self.api(event, context(self.function_name("ApiFunction", "online-retail-api")))

    def get(self, resource: str, values: dict[str, str]) -> dict[str, Any]:
        """GET a query route (e.g. "/invoices/{invoice_no}") through the query handler."""
        path = resource.format(**values)
        event = rest_api_event("GET", path, resource=resource, path_parameters=values)
        name = self.function_name("QueryFunction", "online-retail-query-api")
        return self.query(event, context(name))

    def pump(self) -> int:
        """One poll of both consumers; records they read."""
        with self.acting("ConsumerFunction"):
            read = self.mapping.poll()
            self._send_failures()
        with self.acting("DeliveryStream"):
            return read + self.firehose.poll()

    def _send_failures(self) -> None:
        """The mapping's on-failure destination: the template's SQS queue."""
        if self.deployed is None or len(self.mapping.stats.on_failure) == self._failures_sent:
            return
        import boto3

        self._sqs = getattr(self, "_sqs", None) or boto3.client("sqs")
        for failure in self.mapping.stats.on_failure[self._failures_sent :]:
            queue = self.deployed.outputs["ConsumerFailureQueueUrl"]
            self._sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(failure))
            self._failures_sent += 1

    def drain(self) -> None:
        """Run the consumers until the stream has nothing new, then flush Firehose."""
        while self.pump():
            pass
        with self.acting("DeliveryStream"):
            self.firehose.flush()
