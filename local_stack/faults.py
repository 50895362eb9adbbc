"""Fault injection for the local stack (issue 10): each behaviour AWS documents for a hop
of the stream path, made to happen on moto's server or in the emulated services, so the
fault suite (local_stack/fault_suite.py) can show that nothing is lost or doubled.

    AwsFaults         WSGI middleware in front of moto's server: what the services answer
                      (PutRecords partial failures, DynamoDB throttling, UnprocessedItems,
                      an item DynamoDB always refuses, S3 5xx on a key prefix); the
                      clients' own retries (botocore's, pyarrow's) run as against AWS
    HeldBackLake      Firehose's S3 delivery of some buffers late and out of order
    TwiceWrittenLake  every buffer Firehose delivers written to S3 twice
    twice             a Lambda invoked twice with the same batch (at-least-once)
    failing_attempts  Firehose's transformation invocation failing on given attempts
    CrashAfterHalf    the consumer crashing after half its DynamoDB writes
    TickingClock      Firehose's buffering clock, moved on by each poll

Nothing here changes the production code in ingestion/: the handlers meet the faults
through the same APIs and events they meet on AWS.
"""

from __future__ import annotations

import copy
import io
import json
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ingestion.errors import OnlineRetailError
from ingestion.lake import TRANSFORMED_ZONE, Lake
from local_stack.kinesis_mapping import Handler


@dataclass
class FaultPlan:
    """What the services do wrong, and how many times; empty: nothing."""

    put_records_throttled: int = 0  # PutRecords calls refused whole (throughput exceeded)
    put_records_partial: int = 0  # PutRecords calls with half their records refused
    batch_write_throttled: int = 0  # BatchWriteItem calls answered with throttling
    batch_write_unprocessed: int = 0  # BatchWriteItem calls leaving half unprocessed
    poison_line_ids: frozenset[str] = frozenset()  # line items DynamoDB always refuses
    s3_5xx_key_part: str = ""  # PUTs of keys containing this answer 500 ...
    s3_5xx: int = 0  # ... this many times


DYNAMODB_ERROR = "com.amazonaws.dynamodb.v20120810#"


class AwsFaults:
    """WSGI middleware: answers the requests a FaultPlan names as the service would fail
    them, and counts what it did in `fired`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.plan = FaultPlan()
        self.fired: Counter[str] = Counter()
        self._lock = threading.Lock()

    def arm(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan, self.fired = plan, Counter()

    def _take(self, budget: str, fired: str) -> bool:
        """Use one of the plan's `budget`; False when it is spent."""
        with self._lock:
            left = getattr(self.plan, budget)
            if left <= 0:
                return False
            setattr(self.plan, budget, left - 1)
            self.fired[fired] += 1
            return True

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
        if operation in ("PutRecords", "BatchWriteItem", "PutItem"):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            answer = getattr(self, f"_{operation}")(environ, json.loads(body))
            if answer is not None:
                return _respond(start_response, *answer)
        elif environ["REQUEST_METHOD"] in ("PUT", "POST") and self._s3_fails(environ):
            # https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
                "<Message>We encountered an internal error. Please try again.</Message>"
                f"<RequestId>{uuid.uuid4().hex[:16]}</RequestId></Error>"
            )
            return _respond(start_response, 500, xml.encode(), "application/xml")
        return self.app(environ, start_response)

    def _s3_fails(self, environ: dict[str, Any]) -> bool:
        part = self.plan.s3_5xx_key_part
        if not part or part not in environ.get("PATH_INFO", ""):
            return False
        if not self._take("s3_5xx", "s3 5xx"):
            return False
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        return True

    def _forward(self, environ: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(request).encode()
        inner = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        status: list[str] = []
        data = b"".join(self.app(inner, lambda s, h, *_: status.append(s)))
        assert status[0].startswith("200"), data
        return json.loads(data)

    def _PutRecords(self, environ: dict[str, Any], request: dict[str, Any]) -> Any:
        # https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
        records = request["Records"]
        if self._take("put_records_throttled", "PutRecords throttled"):
            self.fired["records refused"] += len(records)
            error = {"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded"}
            return 400, json.dumps(error).encode(), "application/x-amz-json-1.1"
        if len(records) < 2 or not self._take("put_records_partial", "PutRecords partial"):
            return None
        keep = records[: len(records) // 2]
        landed = self._forward(environ, {**request, "Records": keep})["Records"]
        refused = len(records) - len(keep)
        self.fired["records refused"] += refused
        failed = {
            "ErrorCode": "ProvisionedThroughputExceededException",
            "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream",
        }
        answer = {"FailedRecordCount": refused, "Records": landed + [failed] * refused}
        return 200, json.dumps(answer).encode(), "application/x-amz-json-1.1"

    def _BatchWriteItem(self, environ: dict[str, Any], request: dict[str, Any]) -> Any:
        # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
        puts = request["RequestItems"]
        items = [r["PutRequest"]["Item"] for rs in puts.values() for r in rs if "PutRequest" in r]
        if any(self._poisoned(item) for item in items):
            self.fired["poison refused"] += 1
            return _dynamodb_error("ValidationException", "Item size has exceeded the limit")
        if self._take("batch_write_throttled", "BatchWriteItem throttled"):
            return _dynamodb_error(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            )
        if len(items) < 2 or not self._take("batch_write_unprocessed", "BatchWriteItem partial"):
            return None
        keep = {t: rs[: (len(rs) + 1) // 2] for t, rs in puts.items()}
        left = {t: rs[(len(rs) + 1) // 2 :] for t, rs in puts.items() if rs[(len(rs) + 1) // 2 :]}
        self.fired["items unprocessed"] += sum(len(rs) for rs in left.values())
        answer = self._forward(environ, {**request, "RequestItems": keep})
        answer["UnprocessedItems"] = left
        return 200, json.dumps(answer).encode(), "application/x-amz-json-1.0"

    def _PutItem(self, environ: dict[str, Any], request: dict[str, Any]) -> Any:
        if self._poisoned(request.get("Item", {})):
            self.fired["poison refused"] += 1
            return _dynamodb_error("ValidationException", "Item size has exceeded the limit")
        return None

    def _poisoned(self, item: dict[str, Any]) -> bool:
        return (item.get("LineId") or {}).get("S") in self.plan.poison_line_ids


def _dynamodb_error(code: str, message: str) -> tuple[int, bytes, str]:
    body = json.dumps({"__type": DYNAMODB_ERROR + code, "message": message}).encode()
    return 400, body, "application/x-amz-json-1.0"


def _respond(start_response: Any, status: int, body: bytes, content_type: str) -> list[bytes]:
    reason = {200: "OK", 400: "Bad Request", 500: "Internal Server Error"}[status]
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if content_type == "application/x-amz-json-1.0":  # botocore checks DynamoDB's CRC32
        headers.append(("x-amz-crc32", str(zlib.crc32(body))))
    start_response(f"{status} {reason}", headers)
    return [body]


@dataclass
class HeldBackLake(Lake):
    """The lake as Firehose's S3 delivery reaches it, with the first `hold` objects of the
    transformed zone held back: delivered late (after `release`), newest first. Firehose
    retries a failed S3 delivery for up to 24 hours, so an object can land long after the
    ones buffered after it
    (https://docs.aws.amazon.com/firehose/latest/dev/troubleshooting.html)."""

    hold: int = 0
    held: list[tuple[str, bytes]] = field(default_factory=list)
    fired: Counter[str] = field(default_factory=Counter)

    def write_bytes(self, relative: str, data: bytes) -> None:
        if relative.startswith(TRANSFORMED_ZONE) and self.hold > 0:
            self.hold -= 1
            self.held.append((relative, data))
            return
        super().write_bytes(relative, data)

    def release(self) -> int:
        """Deliver what was held, out of order (the last buffered first)."""
        held, self.held = self.held, []
        for relative, data in reversed(held):
            super().write_bytes(relative, data)
            self.fired["objects delivered late"] += 1
        return len(held)


@dataclass
class TwiceWrittenLake(Lake):
    """Every object Firehose delivers to the transformed zone written twice, under two of
    Firehose's names: Firehose retries a delivery it saw fail
    (https://docs.aws.amazon.com/firehose/latest/dev/troubleshooting.html), so a
    request that timed out but went through is delivered again: at least once."""

    fired: Counter[str] = field(default_factory=Counter)

    def write_bytes(self, relative: str, data: bytes) -> None:
        super().write_bytes(relative, data)
        if relative.startswith(TRANSFORMED_ZONE):
            folder, name = relative.rsplit("/", 1)
            super().write_bytes(f"{folder}/{name[:-44]}{uuid.uuid4()}.parquet", data)
            self.fired["objects written twice"] += 1


def twice(handler: Handler, counter: Counter[str], name: str) -> Handler:
    """The handler invoked twice with the same batch (a copy of the event; Firehose's
    with a new invocation id), answering the second time's response."""

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        first = copy.deepcopy(event)
        if "invocationId" in first:
            first["invocationId"] = str(uuid.uuid4())
        handler(first, context)
        counter[name] += 1
        return handler(event, context)

    return invoke


def failing_attempts(handler: Handler, schedule: dict[int, int], counter: Counter[str]) -> Handler:
    """Firehose's transformation failing (a timeout) on the first `schedule[n]` attempts of
    its n-th batch (0-based, batches told apart by invocation id)."""
    batches: dict[str, int] = {}
    attempts: Counter[str] = Counter()

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        invocation = event["invocationId"]
        n = batches.setdefault(invocation, len(batches))
        attempts[invocation] += 1
        if attempts[invocation] <= schedule.get(n, 0):
            counter["invocations failed"] += 1
            raise TimeoutError("Task timed out after 60.00 seconds")
        return handler(event, context)

    return invoke


class LambdaCrashed(OnlineRetailError):
    """The function's process died (out of memory, a timeout) in the middle of its work."""


class CrashAfterHalf:
    """The consumer crashing after half its BatchWriteItem calls, on its first `crashes`
    invocations with at least `min_records` records: a botocore hook on its DynamoDB
    client raises once half the calls of the batch (25 lines a call) are done."""

    def __init__(self, dynamodb: Any, crashes: int, min_records: int = 50) -> None:
        self.crashes, self.min_records = crashes, min_records
        self.calls_left: int | None = None
        self.counter: Counter[str] = Counter()
        dynamodb.meta.events.register(
            "after-call.dynamodb.BatchWriteItem", self._after_write, unique_id="crash-after-half"
        )

    def _after_write(self, **_: Any) -> None:
        if self.calls_left is None:
            return
        self.calls_left -= 1
        if self.calls_left <= 0:
            self.calls_left = None
            self.counter["consumer crashes"] += 1
            raise LambdaCrashed("the function crashed after half its writes")

    def wrap(self, handler: Handler) -> Handler:
        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            records = len(event["Records"])
            if self.crashes > 0 and records >= self.min_records:
                self.crashes -= 1
                self.calls_left = max(1, -(-records // 25) // 2)
            try:
                return handler(event, context)
            finally:
                self.calls_left = None

        return invoke


class TickingClock:
    """Firehose's buffering clock: `seconds` pass at each poll of the delivery stream, so
    its buffering intervals deliver several buffers over a replay."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.now = seconds, 0.0

    def __call__(self) -> float:
        return self.now

    def ticking(self, poll: Callable[[], int]) -> Callable[[], int]:
        def tick() -> int:
            self.now += self.seconds
            return poll()

        return tick
