"""A Kinesis-sourced Firehose delivery stream with Lambda data transformation,
reproduced from its documentation (moto does not run Firehose's pipeline).

KPL aggregates read from the stream are split into their user records first, each with
its subsequence number, as Firehose does before invoking the Lambda
(https://docs.aws.amazon.com/streams/latest/dev/kpl-with-firehose.html). Records are
buffered by size and time before each invocation of the transformation Lambda, whose
recordId/result contract is checked. An invocation that fails (raises) is retried 3 times,
then its whole batch goes to the error prefix as unsuccessfully processed
(https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html).
`Ok` JSON lines are partitioned on the Lambda's partition keys, converted to Parquet with
the Glue table's schema (the contract), buffered by size and time per partition and
written under Firehose's object names; `ProcessingFailed` records go to the error prefix
in Firehose's error-record format, with the record's original data.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ingestion.errors import OnlineRetailError
from ingestion.lake import Lake
from ingestion.stream import settings
from ingestion.stream.deaggregate import BrokenAggregate, UserRecord, user_records
from ingestion.stream.output import ERROR_ZONE, parquet_bytes, rows_from_json_lines
from local_stack.events import ACCOUNT, REGION, KinesisRecordIn, context, firehose_event
from local_stack.kinesis_mapping import Handler, shard_readers

TRANSFORMED_PREFIX = (
    "transformed/online_retail/invoice_lines/"
    "year=!{partitionKeyFromLambda:year}/month=!{partitionKeyFromLambda:month}/"
)
ERROR_PREFIX = f"{ERROR_ZONE}/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd/HH}}/"
MIB = 1024 * 1024
# ProcessingConfiguration's NumberOfRetries: 3 by default (0-300).
INVOCATION_RETRIES = 3


@dataclass(frozen=True)
class Buffering:
    """Firehose buffering hints: deliver when either is reached."""

    size_bytes: int
    interval_seconds: float


# Firehose's defaults: Lambda processing buffers 1 MiB or 60 s; with record-format
# conversion the S3 destination buffers at least 64 MiB, up to 300 s by default.
PROCESSOR_BUFFER = Buffering(1 * MIB, 60)
DESTINATION_BUFFER = Buffering(64 * MIB, 300)


@dataclass
class DeliveryStats:
    records_in: int = 0  # user records: a KPL aggregate counts as its user records
    aggregates_split: int = 0
    invocations: int = 0  # attempts, retries included
    failed_invocations: int = 0  # batches skipped after every retry failed
    ok: int = 0
    dropped: int = 0
    processing_failed: int = 0
    conversion_failed: int = 0
    parquet_rows: int = 0
    objects: list[str] = field(default_factory=list)
    error_objects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _UserRecord:
    record_id: str
    record: KinesisRecordIn  # data and partition key of the user record
    subsequence_number: int


@dataclass
class _Pending:
    records: list[_UserRecord] = field(default_factory=list)
    size: int = 0
    since: float = 0.0


def render_prefix(template: str, *, keys: dict[str, str], error_type: str, now: datetime) -> str:
    """Firehose's prefix expressions: partitionKeyFromLambda, firehose:, timestamp:."""
    java_to_strftime = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
    out, rest = "", template
    while "!{" in rest:
        head, _, tail = rest.partition("!{")
        expression, _, rest = tail.partition("}")
        namespace, _, name = expression.partition(":")
        if namespace == "partitionKeyFromLambda":
            value = keys[name]
        elif namespace == "firehose" and name == "error-output-type":
            value = error_type
        elif namespace == "timestamp":
            for java, c in java_to_strftime.items():
                name = name.replace(java, c)
            value = now.strftime(name)
        else:
            raise OnlineRetailError(f"unsupported prefix expression !{{{expression}}}")
        out += head + value
    return out + rest


class FirehoseDelivery:
    """A Kinesis-sourced Firehose delivery stream: transform, convert, partition, deliver."""

    def __init__(
        self,
        transform: Handler,
        *,
        delivery_stream: str,
        stream_name: str,
        lake: Lake,
        function_name: str = "online-retail-firehose-transform",
        processor_buffer: Buffering = PROCESSOR_BUFFER,
        destination_buffer: Buffering = DESTINATION_BUFFER,
        clock: Callable[[], float] = time.monotonic,
        invocation_retries: int = INVOCATION_RETRIES,
        prefix: str = TRANSFORMED_PREFIX,
        error_prefix: str = ERROR_PREFIX,
    ) -> None:
        self.prefix, self.error_prefix = prefix, error_prefix  # the template's, when given
        self.transform, self.function_name = transform, function_name
        self.invocation_retries = invocation_retries
        self.delivery_stream, self.stream_name, self.lake = delivery_stream, stream_name, lake
        self.processor_buffer, self.destination_buffer = processor_buffer, destination_buffer
        self.clock = clock
        self.readers = shard_readers(settings.kinesis(), stream_name)
        self.stats = DeliveryStats()
        self._to_transform = _Pending()
        self._to_deliver: dict[tuple[str, str], _Pending] = {}
        self._rows: dict[tuple[str, str], list[bytes]] = {}
        self._sources: dict[tuple[str, str], list[_UserRecord]] = {}

    def poll(self) -> int:
        read = 0
        for reader in self.readers:
            for record in reader.read(10_000):  # Firehose reads up to GetRecords' limit
                self._add(record)
                read += 1
        self._deliver_due()
        return read

    def flush(self) -> None:
        """Deliver everything buffered (what the buffering interval does, eventually)."""
        self._invoke()
        for key in list(self._to_deliver):
            self._write(key)

    def _add(self, record: KinesisRecordIn) -> None:
        try:
            users = user_records(record.data, record.partition_key, record.sequence_number)
        except BrokenAggregate:
            # passed on whole; the transformation defers it to reingest-errors
            users = [UserRecord(record.data, record.partition_key, 0, aggregated=False)]
        if users and users[0].aggregated:
            self.stats.aggregates_split += 1
        for user in users:
            part = dataclasses.replace(record, data=user.data, partition_key=user.partition_key)
            sub = user.subsequence_number
            pending = self._to_transform
            if not pending.records:
                pending.since = self.clock()
            # Firehose record ids are opaque strings, unique within the delivery stream.
            record_id = f"{record.shard_id}-{record.sequence_number}-{sub}"
            pending.records.append(_UserRecord(record_id, part, sub))
            pending.size += len(part.data)
            self.stats.records_in += 1
            if pending.size >= self.processor_buffer.size_bytes:
                self._invoke()

    def _deliver_due(self) -> None:
        now = self.clock()
        pending = self._to_transform
        if pending.records and now - pending.since >= self.processor_buffer.interval_seconds:
            self._invoke()
        for key, part in list(self._to_deliver.items()):
            if now - part.since >= self.destination_buffer.interval_seconds:
                self._write(key)

    def _invoke(self) -> None:
        batch = self._to_transform.records
        if not batch:
            return
        self._to_transform = _Pending()
        event = firehose_event(
            [(u.record_id, u.record) for u in batch], self.delivery_stream, self.stream_name
        )
        for user, sent_record in zip(batch, event["records"], strict=True):
            sent_record["kinesisRecordMetadata"]["subsequenceNumber"] = user.subsequence_number
        response = None
        for _attempt in range(1 + self.invocation_retries):
            self.stats.invocations += 1
            try:
                response = self.transform(copy.deepcopy(event), context(self.function_name))
                break
            except Exception as error:  # the function failed: Firehose retries the invocation
                failure = f"{type(error).__name__}: {error}"
        if response is None:
            # Every attempt failed: the batch is skipped and goes to the error prefix whole.
            self.stats.failed_invocations += 1
            self.stats.processing_failed += len(batch)
            self._write_errors(
                "processing-failed",
                [
                    self._error_record(
                        u.record,
                        "Lambda.FunctionError",
                        f"The Lambda function was successfully invoked but it returned an "
                        f"error result. ({failure})",
                        attempts=1 + self.invocation_retries,
                    )
                    for u in batch
                ],
            )
            return
        answers = {a["recordId"]: a for a in response.get("records", [])}
        sent = {u.record_id for u in batch}
        if set(answers) != sent or len(response["records"]) != len(batch):
            raise OnlineRetailError(
                f"invocation {event['invocationId']}: {len(batch)} records in, answers for "
                f"{len(answers)} ids, {len(sent - set(answers))} missing, "
                f"{len(set(answers) - sent)} unknown"
            )
        failed: list[dict[str, Any]] = []
        for user in batch:
            record_id, record = user.record_id, user.record
            answer = answers[record_id]
            result = answer.get("result")
            if result == "Ok":
                keys = (answer.get("metadata") or {}).get("partitionKeys") or {}
                if set(keys) != {"year", "month"}:
                    raise OnlineRetailError(
                        f"record {record_id}: Ok without partition keys year and month"
                    )
                self._buffer((keys["year"], keys["month"]), base64.b64decode(answer["data"]), user)
                self.stats.ok += 1
            elif result == "Dropped":
                self.stats.dropped += 1
            elif result == "ProcessingFailed":
                self.stats.processing_failed += 1
                failed.append(
                    self._error_record(
                        record,
                        "Lambda.ProcessingFailedStatus",
                        "ProcessingFailed status set for record",
                    )
                )
            else:
                raise OnlineRetailError(f"record {record_id}: result {result!r}")
        if failed:
            self._write_errors("processing-failed", failed)

    def _error_record(
        self, record: KinesisRecordIn, code: str, message: str, attempts: int = 1
    ) -> dict[str, Any]:
        """Firehose's processing-failed document: the record's original data (what
        "rawData: the base64-encoded record data" is taken to mean; nothing here relies on
        the Lambda's answer being kept instead)."""
        now_ms = int(time.time() * 1000)
        return {
            "attemptsMade": attempts,
            "arrivalTimestamp": int(record.arrived_at.timestamp() * 1000),
            "errorCode": code,
            "errorMessage": message,
            "attemptEndingTimestamp": now_ms,
            "rawData": base64.b64encode(record.data).decode("ascii"),
            "lambdaArn": context(self.function_name).invoked_function_arn,
        }

    def _buffer(self, key: tuple[str, str], line: bytes, user: _UserRecord) -> None:
        part = self._to_deliver.get(key)
        if part is None:
            part = self._to_deliver[key] = _Pending(since=self.clock())
            self._rows[key] = []
            self._sources[key] = []
        self._rows[key].append(line)
        self._sources[key].append(user)
        part.size += len(line)
        if part.size >= self.destination_buffer.size_bytes:
            self._write(key)

    def _write(self, key: tuple[str, str]) -> None:
        lines = self._rows.pop(key)
        source_of = dict(zip(lines, self._sources.pop(key), strict=True))
        del self._to_deliver[key]
        table, bad = convert_to_parquet_rows(lines)
        now = datetime.now(UTC)
        if table.num_rows:
            prefix = render_prefix(
                self.prefix,
                keys={"year": key[0], "month": key[1]},
                error_type="",
                now=now,
            )
            name = f"{prefix}{object_name(self.delivery_stream, now)}.parquet"
            self.lake.write_bytes(name, parquet_bytes(table))
            self.stats.objects.append(name)
            self.stats.parquet_rows += table.num_rows
        if bad:
            self.stats.conversion_failed += len(bad)
            self._write_errors(
                "format-conversion-failed",
                [
                    self._conversion_error(line, message, source_of[line], now)
                    for line, message in bad
                ],
            )

    def _conversion_error(
        self, line: bytes, message: str, source: _UserRecord, now: datetime
    ) -> dict[str, Any]:
        """The document of AWS's record-format-conversion error output, its schema as
        documented (capitalised ErrorCode and ErrorMessage): https://docs.aws.amazon.com/
        firehose/latest/dev/record-format-conversion-error-handling.html"""
        return {
            "attemptsMade": 1,
            "arrivalTimestamp": int(source.record.arrived_at.timestamp() * 1000),
            "ErrorCode": "DataFormatConversion.MalformedData",
            "ErrorMessage": message,
            "attemptEndingTimestamp": int(now.timestamp() * 1000),
            "rawData": base64.b64encode(line).decode("ascii"),
            "sequenceNumber": source.record.sequence_number,
            "subSequenceNumber": source.subsequence_number,
            "dataCatalogTable": {
                "catalogId": ACCOUNT,
                "databaseName": "online_retail",
                "tableName": "invoice_lines",
                "region": REGION,
                "versionId": "0",
                "catalogArn": f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog",
            },
        }

    def _write_errors(self, error_type: str, records: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        prefix = render_prefix(self.error_prefix, keys={}, error_type=error_type, now=now)
        name = f"{prefix}{object_name(self.delivery_stream, now)}"
        self.lake.write_bytes(name, "".join(json.dumps(r) + "\n" for r in records).encode())
        self.stats.error_objects.append(name)


def object_name(delivery_stream: str, now: datetime, version: int = 1) -> str:
    """Firehose's S3 object name: <stream>-<version>-<YYYY-MM-DD-HH-MM-SS>-<random>."""
    return f"{delivery_stream}-{version}-{now:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"


def convert_to_parquet_rows(lines: list[bytes]) -> tuple[pa.Table, list[tuple[bytes, str]]]:
    """Record-format conversion: JSON lines -> rows of the Glue table (the contract).

    Returns the table and the lines that could not be deserialised with their reason."""
    try:
        return rows_from_json_lines(lines), []
    except (ValueError, KeyError, TypeError, pa.ArrowInvalid):
        pass  # find the bad lines one by one, as Firehose reports each
    good: list[bytes] = []
    bad: list[tuple[bytes, str]] = []
    for line in lines:
        try:
            rows_from_json_lines([line])
            good.append(line)
        except (ValueError, KeyError, TypeError, pa.ArrowInvalid) as e:
            bad.append((line, str(e)))
    return rows_from_json_lines(good), bad
