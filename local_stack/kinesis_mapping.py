"""Lambda's Kinesis event source mapping, reproduced from its documentation (moto
serves Kinesis but does not invoke Lambdas).

One poller per shard reads with GetRecords (base64 payloads, sequence numbers, arrival
times), invokes with batches of at most `batch_size` records in shard order, and honours
ReportBatchItemFailures: the shard's checkpoint moves to the lowest failed sequence
number and the batch is retried from there, up to `maximum_retry_attempts`, after which
the failed records go to the on-failure destination (a list here).

A function error (the handler raises: a crash, a timeout) fails the whole batch. With
BisectBatchOnFunctionError the batch is split in two and each half retried, which does
not use the retry quota; a batch of one record, or without bisect, is retried whole and
counts as an attempt
(https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html,
https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from ingestion.stream import settings
from local_stack.events import KinesisRecordIn, context, kinesis_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class ShardReader:
    """GetRecords on one shard from a position, as every Kinesis consumer does."""

    def __init__(self, kinesis: Any, stream_name: str, shard_id: str) -> None:
        self.kinesis, self.stream_name, self.shard_id = kinesis, stream_name, shard_id
        self.iterator = self._iterator(ShardIteratorType="TRIM_HORIZON")

    def _iterator(self, **position: str) -> str:
        return self.kinesis.get_shard_iterator(
            StreamName=self.stream_name, ShardId=self.shard_id, **position
        )["ShardIterator"]

    def seek(self, sequence_number: str) -> None:
        self.iterator = self._iterator(
            ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=sequence_number
        )

    def read(self, limit: int) -> list[KinesisRecordIn]:
        response = self.kinesis.get_records(ShardIterator=self.iterator, Limit=limit)
        self.iterator = response["NextShardIterator"]
        return [
            KinesisRecordIn(
                data=r["Data"],
                partition_key=r["PartitionKey"],
                sequence_number=r["SequenceNumber"],
                arrived_at=r["ApproximateArrivalTimestamp"].astimezone(UTC),
                shard_id=self.shard_id,
            )
            for r in response["Records"]
        ]


def shard_readers(kinesis: Any, stream_name: str) -> list[ShardReader]:
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    return [ShardReader(kinesis, stream_name, s["ShardId"]) for s in shards]


@dataclass
class MappingStats:
    invocations: int = 0
    records: int = 0  # records delivered, counting redeliveries
    reported_failures: int = 0
    retried_batches: int = 0
    function_errors: int = 0  # invocations that raised
    bisections: int = 0
    on_failure: list[dict[str, Any]] = field(default_factory=list)  # the destination


class EventSourceMapping:
    """Lambda's Kinesis event source mapping with ReportBatchItemFailures."""

    def __init__(
        self,
        handler: Handler,
        function_name: str,
        stream_name: str,
        *,
        batch_size: int = 100,
        maximum_retry_attempts: int = 2,
        bisect_on_function_error: bool = True,
    ) -> None:
        self.handler, self.function_name, self.stream_name = handler, function_name, stream_name
        self.batch_size, self.maximum_retry_attempts = batch_size, maximum_retry_attempts
        self.bisect_on_function_error = bisect_on_function_error
        self.readers = shard_readers(settings.kinesis(), stream_name)
        self.stats = MappingStats()

    def poll(self) -> int:
        """One GetRecords per shard and the invocations it leads to; records read."""
        read = 0
        for reader in self.readers:
            batch = reader.read(self.batch_size)
            read += len(batch)
            if batch:
                self._process(reader.shard_id, batch)
        return read

    def _process(self, shard_id: str, batch: list[KinesisRecordIn], attempt: int = 0) -> None:
        """Invoke with `batch` until it succeeds, is split, or runs out of retries."""
        while batch:
            try:
                failed = self._invoke(batch)
            except Exception:  # a function error: the whole batch failed
                self.stats.function_errors += 1
                if self.bisect_on_function_error and len(batch) > 1:
                    # a split does not count against the retry quota
                    self.stats.bisections += 1
                    half = len(batch) // 2
                    self._process(shard_id, batch[:half], attempt)
                    self._process(shard_id, batch[half:], attempt)
                    return
                failed = batch[0].sequence_number
            if failed is None:
                return
            # Checkpoint at the failed record: the records before it are done.
            batch = batch[[r.sequence_number for r in batch].index(failed) :]
            attempt += 1
            if attempt > self.maximum_retry_attempts:
                self.stats.on_failure.append(
                    {
                        "shardId": shard_id,
                        "startSequenceNumber": batch[0].sequence_number,
                        "endSequenceNumber": batch[-1].sequence_number,
                        "batchSize": len(batch),
                    }
                )
                return
            self.stats.retried_batches += 1

    def _invoke(self, batch: list[KinesisRecordIn]) -> str | None:
        """Invoke once; the lowest sequence number reported failed, if any."""
        self.stats.invocations += 1
        self.stats.records += len(batch)
        event = kinesis_event(batch, self.stream_name, self.function_name)
        response = self.handler(event, context(self.function_name)) or {}
        failures = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
        self.stats.reported_failures += len(failures)
        if not failures:
            return None
        known = [r.sequence_number for r in batch]
        if any(f not in known for f in failures):
            # AWS treats an unknown or empty itemIdentifier as a failure of the whole batch.
            return known[0]
        return min(failures, key=int)
