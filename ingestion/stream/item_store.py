"""Cleaned stream lines -> the customer and invoice items in DynamoDB, in batches.

Round trips dominate the cost, so a whole batch of records is cleaned at once, its
lines are grouped by item, and the items are read and written in batches (BatchGetItem,
BatchWriteItem: a few calls per batch rather than two per line). What comes back says,
per Kinesis record, whether its lines were stored, so the consumer can report exactly
the records to retry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ingestion.errors import OnlineRetailError
from ingestion.stream.items import CUSTOMER_KEY, INVOICE_KEY, ItemWrite, item_writes
from ingestion.stream.records import StreamRecord, clean_records


@dataclass
class BatchOutcome:
    stored: int = 0  # lines written to both tables
    rejected: int = 0  # records that are not valid lines (quarantined on the Firehose path)
    requests: int = 0
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)
    failures: dict[str, OnlineRetailError] = field(default_factory=dict)  # by sequence number


def store_records(
    records: Sequence[StreamRecord],
    sequence_numbers: Sequence[str],
    tables: dict[str, str],
    dynamodb: Any,
    outcome: BatchOutcome,
) -> BatchOutcome:
    """Clean `records` (the decodable records of a batch, with their sequence numbers),
    store their valid lines and note, by sequence number, each record whose write failed."""
    cleaned = clean_records(records)
    for position, reason in zip(
        cleaned.quarantined_positions, cleaned.quarantined["reason"].to_pylist(), strict=True
    ):
        outcome.rejected += 1
        outcome.rejections.append((records[position].event_id, reason))

    landed_positions = cleaned.landed_positions
    writes = item_writes(cleaned.landed, landed_positions)
    errors = store(writes, tables, dynamodb, outcome)
    failed_positions: dict[int, OnlineRetailError] = {}
    for write, error in errors:
        for position in sorted(write.positions):
            failed_positions.setdefault(
                position,
                OnlineRetailError(
                    f"record {sequence_numbers[position]} (event {records[position].event_id}):"
                    f" {write.table} item {write.key}: {error}"
                ),
            )
    outcome.stored = len(landed_positions) - len(failed_positions)
    outcome.failures = {sequence_numbers[p]: f for p, f in failed_positions.items()}
    return outcome


def store(
    writes: list[ItemWrite], tables: dict[str, str], dynamodb: Any, outcome: BatchOutcome
) -> list[tuple[ItemWrite, str]]:
    """Read the items, add the lines, write back what changed; the writes that failed.

    Read-modify-write is safe here because every item is keyed by an invoice number
    and records are partitioned by invoice number: one shard, processed in order by one
    invocation at a time, is the only writer of an item.
    """
    existing = _batch_get(writes, tables, dynamodb, outcome)
    changed = []
    for write in writes:
        item = write.merged(existing.get((write.table, _key(write.key_item()))))
        if item is not None:
            changed.append((write, item))
    failed: list[tuple[ItemWrite, str]] = []
    for start in range(0, len(changed), BATCH_WRITE_MAX):
        failed += _batch_put(changed[start : start + BATCH_WRITE_MAX], tables, dynamodb, outcome)
    return failed


BATCH_GET_MAX, BATCH_WRITE_MAX, ATTEMPTS = 100, 25, 5


def _key(key_item: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v["S"]) for k, v in key_item.items()))


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.05 * 2**attempt))


def _batch_get(
    writes: list[ItemWrite], tables: dict[str, str], dynamodb: Any, outcome: BatchOutcome
) -> dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]]:
    table_of = {name: table for table, name in tables.items()}
    found: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for start in range(0, len(writes), BATCH_GET_MAX):
        request: dict[str, Any] = {}
        for write in writes[start : start + BATCH_GET_MAX]:
            keys = request.setdefault(tables[write.table], {"Keys": [], "ConsistentRead": True})
            keys["Keys"].append(write.key_item())
        for attempt in range(ATTEMPTS):
            if not request:
                break
            if attempt:
                _backoff(attempt)
            outcome.requests += 1
            response = dynamodb.batch_get_item(RequestItems=request)
            for name, items in response.get("Responses", {}).items():
                table = table_of[name]
                key_names = CUSTOMER_KEY if table == "customer" else INVOICE_KEY
                for item in items:
                    found[(table, _key({k: item[k] for k in key_names}))] = item
            request = response.get("UnprocessedKeys") or {}
        else:
            if request:
                # the whole batch is retried by the event source mapping
                raise OnlineRetailError(
                    f"BatchGetItem left keys unprocessed after {ATTEMPTS} tries"
                )
    return found


def _batch_put(
    changed: list[tuple[ItemWrite, dict[str, Any]]],
    tables: dict[str, str],
    dynamodb: Any,
    outcome: BatchOutcome,
) -> list[tuple[ItemWrite, str]]:
    by_key = {(tables[w.table], _key(w.key_item())): w for w, _ in changed}
    request: dict[str, list[dict[str, Any]]] = {}
    for write, item in changed:
        request.setdefault(tables[write.table], []).append({"PutRequest": {"Item": item}})
    for attempt in range(ATTEMPTS):
        if attempt:
            _backoff(attempt)
        outcome.requests += 1
        try:
            response = dynamodb.batch_write_item(RequestItems=request)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            # One bad item (e.g. over 400 KB) fails the whole call: isolate it.
            return _put_one_by_one(changed, tables, dynamodb, outcome)
        request = response.get("UnprocessedItems") or {}
        if not request:
            return []
    key_names = {tables["customer"]: CUSTOMER_KEY, tables["invoice"]: INVOICE_KEY}
    return [
        (
            by_key[(name, _key({k: r["PutRequest"]["Item"][k] for k in key_names[name]}))],
            "unprocessed",
        )
        for name, requests in request.items()
        for r in requests
    ]


def _put_one_by_one(
    changed: list[tuple[ItemWrite, dict[str, Any]]],
    tables: dict[str, str],
    dynamodb: Any,
    outcome: BatchOutcome,
) -> list[tuple[ItemWrite, str]]:
    failed = []
    for write, item in changed:
        outcome.requests += 1
        try:
            dynamodb.put_item(TableName=tables[write.table], Item=item)
        except ClientError as e:
            error = e.response.get("Error", {})
            failed.append((write, f"{error.get('Code')}: {error.get('Message')}"))
    return failed
