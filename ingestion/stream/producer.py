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
