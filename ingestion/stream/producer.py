"""PutRecords within Kinesis' limits, retrying what a partial failure or throttling rejected.

A PutRecords call can succeed for some records and fail for others (each failed entry
has an ErrorCode, usually ProvisionedThroughputExceededException); the call itself can
also be throttled. Only the failed records are sent again, after a backoff with full
jitter, and each keeps its data (and so its event id): a record that did land but whose
answer was lost is a duplicate that collapses downstream, never a new line.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

# Kinesis limits (PutRecords): per call 500 records and 5 MiB; per record 1 MiB, counting
# the data blob and the partition key; partition keys are at most 256 characters.
KINESIS_MAX_RECORDS = 500
KINESIS_MAX_CALL_BYTES = 5 * 1024 * 1024
KINESIS_MAX_RECORD_BYTES = 1024 * 1024
KINESIS_MAX_PARTITION_KEY = 256

# What one POST /invoices may carry: what the stream can take before API Gateway gives up.
# A shard takes 1,000 records/s and 1 MiB/s
# (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html); API
# Gateway waits 29 s for the integration
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html);
# Lambda takes a synchronous event of at most 6 MB, a binary body base64-encoded in it
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
KINESIS_SHARD_RECORDS_PER_SECOND = 1_000
KINESIS_SHARD_BYTES_PER_SECOND = 1024 * 1024
API_GATEWAY_TIMEOUT_SECONDS = 29
# The share of those 29 s given to PutRecords at the shards' full rate; the rest is for
# reading, judging and keeping the body, the backoff of throttled records (up to ~3 s
# with the default retries) and a stream that other writers share.
SEND_BUDGET_SECONDS = 10
STREAM_RECORD_BYTES_PER_LINE = 512  # a line's record: 430 B median, 445 B max in the data
BODY_BYTES_PER_LINE = 100  # a CSV line of the data: 84 B median, 99 B max
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
EVENT_ENVELOPE_BYTES = 64 * 1024  # headers and request context around the body


@dataclass(frozen=True)
class RequestLimits:
    """The largest request POST /invoices takes, and why."""

    lines: int
    bytes: int
    shards: int

    def describe(self) -> str:
        return (
            f"{self.lines:,} lines or {self.bytes:,} bytes: what {self.shards} shard(s) take in "
            f"{SEND_BUDGET_SECONDS} s at {KINESIS_SHARD_RECORDS_PER_SECOND:,} records/s each, "
            f"well inside API Gateway's {API_GATEWAY_TIMEOUT_SECONDS} s; send bigger files "
            "to POST /uploads"
        )


def request_limits(shards: int) -> RequestLimits:
    """Lines: each shard writes min(1,000 records/s, 1 MiB/s / 512 B = 2,048/s) =
    1,000 lines/s, for 10 s, times the shards (2 shards: 20,000 lines, 40 PutRecords
    calls). Bytes: those lines at 100 B each (2 shards: 2,000,000 B), never more than a
    base64-encoded body Lambda can take, (6 MiB - 64 KiB) * 3/4 = 4,669,440 B. The
    line count is checked too, once the body is read: short lines pack more per byte."""
    per_shard = min(
        KINESIS_SHARD_RECORDS_PER_SECOND,
        KINESIS_SHARD_BYTES_PER_SECOND // STREAM_RECORD_BYTES_PER_LINE,
    )
    lines = per_shard * SEND_BUDGET_SECONDS * shards
    lambda_ceiling = (LAMBDA_SYNC_PAYLOAD_BYTES - EVENT_ENVELOPE_BYTES) * 3 // 4
    return RequestLimits(lines, min(lines * BODY_BYTES_PER_LINE, lambda_ceiling), shards)


# Whole-call errors worth another attempt; anything else (a missing stream, bad
# credentials) is a deployment fault and is raised.
RETRYABLE_CALL_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "KMSThrottlingException",
        "InternalFailure",
        "ServiceUnavailable",
    }
)


@dataclass(frozen=True)
class Entry:
    data: bytes
    partition_key: str

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode())


@dataclass
class PutOutcome:
    sent: int = 0
    calls: int = 0
    retried_records: int = 0  # records sent again after a per-record or whole-call failure
    unsent: dict[int, str] = field(default_factory=dict)  # entry index -> last error code


def chunks(entries: Sequence[Entry]) -> Iterator[list[int]]:
    """Indexes of entries, grouped into calls of at most 500 records and 5 MiB."""
    batch: list[int] = []
    size = 0
    for i, entry in enumerate(entries):
        if batch and (
            len(batch) == KINESIS_MAX_RECORDS or size + entry.size > KINESIS_MAX_CALL_BYTES
        ):
            yield batch
            batch, size = [], 0
        batch.append(i)
        size += entry.size
    if batch:
        yield batch


def put_records(
    client: Any,
    stream_name: str,
    entries: Sequence[Entry],
    *,
    max_attempts: int,
    base_delay: float,
    sleep: Callable[[float], None] = time.sleep,
) -> PutOutcome:
    outcome = PutOutcome()
    for chunk in chunks(entries):
        pending = chunk
        errors: dict[int, str] = {}
        for attempt in range(max_attempts):
            if attempt:
                outcome.retried_records += len(pending)
                sleep(random.uniform(0, base_delay * 2**attempt))
            outcome.calls += 1
            try:
                response = client.put_records(
                    StreamName=stream_name,
                    Records=[
                        {"Data": entries[i].data, "PartitionKey": entries[i].partition_key}
                        for i in pending
                    ],
                )
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE_CALL_ERRORS:
                    raise
                errors = dict.fromkeys(pending, code)
            else:
                # Results come back in request order, one per record.
                errors = {
                    i: result["ErrorCode"]
                    for i, result in zip(pending, response["Records"], strict=True)
                    if result.get("ErrorCode")
                }
            outcome.sent += len(pending) - len(errors)
            pending = list(errors)
            if not pending:
                break
        outcome.unsent.update(errors)
    return outcome
