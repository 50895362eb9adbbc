"""Cleaned stream lines -> the line and summary items in DynamoDB, in batches.

A whole batch of records is cleaned at once; its lines are written with BatchWriteItem,
25 puts a call, and what DynamoDB leaves unprocessed (throttling) is sent again with
exponential backoff and jitter, as the API reference asks
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
A line's item is keyed by its event id, so writing it again (a redelivered record) puts
the same item: blind puts, no read first.

Then each invoice the batch touched gets its summary derived again from all its stored
lines (one consistent Query), written on condition that it is not older than the one
there (fewer lines: lines are never deleted, so a summary of more lines is newer). No
counter is ever incremented, so nothing is counted twice.

What comes back says, per Kinesis record, whether its line was stored, so the consumer
reports exactly the records to retry in `batchItemFailures`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ingestion.contract.cleaning import clean_batch
from ingestion.errors import OnlineRetailError
from ingestion.stream.items import (
    CUSTOMERS_KEY,
    INVOICES_KEY,
    LineWrite,
    from_item,
    invoice_summaries,
    line_writes,
)
from ingestion.stream.record_batch import DecodedBatch

BATCH_WRITE_MAX, ATTEMPTS = 25, 6
SUMMARY_WORKERS = 8
SUMMARY_SOURCE = ("CustomerID", "InvoiceDate", "Country", "Quantity", "UnitPrice")


@dataclass
class BatchOutcome:
    stored: int = 0  # lines written (line item and its invoice's summary)
    rejected: int = 0  # records that are not valid lines (quarantined on the Firehose path)
    requests: int = 0
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)
    failures: dict[str, OnlineRetailError] = field(default_factory=dict)  # by sequence number


def line_writes_of(batch: DecodedBatch, outcome: BatchOutcome) -> list[LineWrite]:
    """Clean the batch's lines and note those that fail the contract in `outcome`; the
    items of the others, each with its row in the batch (the work before any call)."""
    cleaned = clean_batch(batch.raw, batch.lineage)
    rejected = cleaned.quarantined
    outcome.rejected += rejected.num_rows
    outcome.rejections += zip(
        rejected["event_id"].to_pylist(), rejected["reason"].to_pylist(), strict=True
    )
    return line_writes(cleaned.landed, cleaned.landed_positions)


def store_records(
    batch: DecodedBatch,
    sequence_numbers: Sequence[str],
    tables: dict[str, str],
    dynamodb: Any,
    outcome: BatchOutcome,
) -> BatchOutcome:
    """Clean the lines of `batch` (the decodable records of a Kinesis batch, with each
    row's sequence number), store the valid ones and note, by sequence number, each
    record whose write failed."""
    writes = line_writes_of(batch, outcome)
    failed = store(writes, tables, dynamodb, outcome)
    outcome.stored = len(writes) - len(failed)
    event_ids = batch.lineage.event_ids.to_pylist() if failed else []
    outcome.failures = {
        sequence_numbers[p]: OnlineRetailError(
            f"record {sequence_numbers[p]} (event {event_ids[p]}): {reason}"
        )
        for p, reason in sorted(failed.items())
    }
    return outcome


def store(
    writes: list[LineWrite], tables: dict[str, str], dynamodb: Any, outcome: BatchOutcome
) -> dict[int, str]:
    """Put the line items, then the summaries of their invoices; the batch positions
    whose writes failed, with the reason."""
    # A batch can carry the same event id twice (a producer's retry that landed twice);
    # BatchWriteItem refuses two puts of one key in a call, and one put is enough.
    unique: dict[tuple[str, str], LineWrite] = {}
    positions: dict[tuple[str, str], list[int]] = {}
    for write in writes:
        unique[write.key] = write
        positions.setdefault(write.key, []).append(write.position)
    keys = list(unique)
    failed: dict[int, str] = {}
    for start in range(0, len(keys), BATCH_WRITE_MAX):
        chunk = keys[start : start + BATCH_WRITE_MAX]
        errors = _batch_put(tables["invoice"], [unique[k].item for k in chunk], dynamodb, outcome)
        for index, reason in errors.items():
            for position in positions[chunk[index]]:
                failed[position] = f"invoice line {chunk[index]}: {reason}"

    by_invoice: dict[str, list[int]] = {}
    for key in keys:
        by_invoice.setdefault(key[0], []).extend(positions[key])
    # An invoice with a failed line waits: its records are retried, and it is summed then.
    ready = [i for i, mine in by_invoice.items() if not any(p in failed for p in mine)]
    # A Query and a PutItem per invoice, invoices side by side (boto3 clients are
    # thread-safe); one invoice's calls in order.
    with ThreadPoolExecutor(max_workers=SUMMARY_WORKERS) as pool:
        results = pool.map(lambda i: _summarise(i, tables, dynamodb), ready)
        for invoice_no, (requests, error) in zip(ready, results, strict=True):
            outcome.requests += requests
            if error is not None:
                for position in by_invoice[invoice_no]:
                    failed[position] = f"summary of invoice {invoice_no}: {error}"
    return failed


def _summarise(invoice_no: str, tables: dict[str, str], dynamodb: Any) -> tuple[int, str | None]:
    """(requests made, the error if the summary could not be written)."""
    counter = BatchOutcome()
    try:
        write_summaries(invoice_no, tables, dynamodb, counter)
    except ClientError as e:
        error = e.response.get("Error", {})
        return counter.requests, f"{error.get('Code')}: {error.get('Message')}"
    return counter.requests, None


def write_summaries(
    invoice_no: str, tables: dict[str, str], dynamodb: Any, outcome: BatchOutcome
) -> None:
    """Derive the invoice's summaries from all its stored lines and write them, unless
    a summary of more lines is already there."""
    names = {f"#a{i}": name for i, name in enumerate(SUMMARY_SOURCE)}
    request: dict[str, Any] = {
        "TableName": tables["invoice"],
        "KeyConditionExpression": "#pk = :pk",
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": {"#pk": INVOICES_KEY.partition, **names},
        "ExpressionAttributeValues": {":pk": {"S": invoice_no}},
        "ConsistentRead": True,  # see the lines this invocation has just written
    }
    lines: list[dict[str, Any]] = []
    while True:
        outcome.requests += 1
        page = dynamodb.query(**request)
        lines += [from_item(i) for i in page.get("Items", [])]
        if not page.get("LastEvaluatedKey"):
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for summary in invoice_summaries(invoice_no, lines):
        outcome.requests += 1
        try:
            dynamodb.put_item(
                TableName=tables["customer"],
                Item=summary,
                ConditionExpression="attribute_not_exists(#pk) OR #n <= :n",
                ExpressionAttributeNames={"#pk": CUSTOMERS_KEY.partition, "#n": "LineCount"},
                ExpressionAttributeValues={":n": summary["LineCount"]},
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # a writer that saw more lines got there first: its summary stands


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.05 * 2**attempt))


def _batch_put(
    table: str, items: list[dict[str, Any]], dynamodb: Any, outcome: BatchOutcome
) -> dict[int, str]:
    """BatchWriteItem of up to 25 puts, retrying what comes back unprocessed; the
    indexes of the items not written, with the reason."""
    index_of = {_key(INVOICES_KEY.of(item)): i for i, item in enumerate(items)}
    pending = [{"PutRequest": {"Item": item}} for item in items]
    for attempt in range(ATTEMPTS):
        if attempt:
            _backoff(attempt)
        outcome.requests += 1
        try:
            response = dynamodb.batch_write_item(RequestItems={table: pending})
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ValidationException":
                raise  # throttling beyond botocore's retries: the batch is retried
            # One item DynamoDB refuses fails the whole call: isolate it.
            return _put_one_by_one(table, items, dynamodb, outcome)
        pending = (response.get("UnprocessedItems") or {}).get(table, [])
        if not pending:
            return {}
    return {
        index_of[_key(INVOICES_KEY.of(r["PutRequest"]["Item"]))]: (
            f"unprocessed after {ATTEMPTS} BatchWriteItem calls"
        )
        for r in pending
    }


def _key(key_item: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v["S"]) for k, v in key_item.items()))


def _put_one_by_one(
    table: str, items: list[dict[str, Any]], dynamodb: Any, outcome: BatchOutcome
) -> dict[int, str]:
    failed = {}
    for index, item in enumerate(items):
        outcome.requests += 1
        try:
            dynamodb.put_item(TableName=table, Item=item)
        except ClientError as e:
            error = e.response.get("Error", {})
            failed[index] = f"{error.get('Code')}: {error.get('Message')}"
    return failed
