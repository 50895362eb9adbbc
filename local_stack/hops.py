"""Counting a replayed line at every hop of the stream path, and the identities that
must hold between the counts (sent = accepted + rejected, and so on)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.lake import QUARANTINE_ZONE, TRANSFORMED_ZONE, Lake
from ingestion.stream import settings
from ingestion.stream.deaggregate import BrokenAggregate, UserRecord, user_records
from ingestion.stream.items import line_id_of
from local_stack.csv_bodies import Tally
from local_stack.kinesis_mapping import shard_readers
from local_stack.stack import LocalStack


@dataclass
class HopCounts:
    """Lines at each hop; `*_ids` count distinct event ids (a retry is one line)."""

    sent: int
    accepted: int
    rejected_at_api: int
    in_kinesis: int
    in_kinesis_ids: int
    in_parquet: int
    in_parquet_ids: int
    quarantined_api: int
    quarantined_stream: int
    in_dynamodb_invoice_ids: int
    in_dynamodb_customer_ids: int  # lines counted by the invoice summaries
    in_fact_table: int | None = None
    # the invoice table's line ids themselves, for checks by identity
    dynamodb_line_ids: set[str] = field(default_factory=set, repr=False, compare=False)

    def reconciles(self) -> list[str]:
        """The identities that must hold; the ones that do not, as text."""
        checks = {
            "sent = accepted + rejected at the API": self.sent
            == self.accepted + self.rejected_at_api,
            "rejected at the API = quarantined by the API": self.rejected_at_api
            == self.quarantined_api,
            "in Kinesis = in Parquet + quarantined on the stream (event ids)": self.in_kinesis_ids
            == self.in_parquet_ids + self.quarantined_stream,
            "in DynamoDB (invoice table) = in Parquet (event ids)": self.in_dynamodb_invoice_ids
            == self.in_parquet_ids,
            "in DynamoDB (customer summaries) = in Parquet": self.in_dynamodb_customer_ids
            == self.in_parquet_ids,
        }
        if self.in_fact_table is not None:
            checks["in the fact table = in Parquet (event ids)"] = (
                self.in_fact_table == self.in_parquet_ids
            )
        return [name for name, ok in checks.items() if not ok]


def _event_ids_in_stream(stack: LocalStack) -> tuple[int, set[str]]:
    records, ids = 0, set()
    for reader in shard_readers(settings.kinesis(), stack.settings.stream_name):
        while batch := reader.read(10_000):
            records += len(batch)
            for r in batch:
                # a KPL aggregate counts as its user records, each with its own id
                try:
                    users = user_records(r.data, r.partition_key, r.sequence_number)
                except BrokenAggregate:
                    users = [UserRecord(r.data, r.partition_key, 0, aggregated=False)]
                records += len(users) - 1
                for u in users:
                    try:
                        ids.add(json.loads(u.data)["event_id"])
                    except (ValueError, KeyError, TypeError):  # not from the API
                        ids.add(f"{r.shard_id}:{r.sequence_number}:{u.subsequence_number}")
    return records, ids


def _parquet_under(lake: Lake, zone: str) -> dict[str, pa.Table]:
    return {
        key: pq.read_table(io.BytesIO(lake.read_bytes(key)))
        for key in lake.files_under(zone)
        if key.endswith(".parquet")
    }


def _dynamodb_line_ids(table: str) -> set[str]:
    ids: set[str] = set()
    for page in settings.dynamodb().get_paginator("scan").paginate(TableName=table):
        ids.update(line_id_of(item) for item in page["Items"])
    return ids


def _dynamodb_summarised_lines(table: str) -> int:
    """Lines counted by the customer table's invoice summaries."""
    pages = settings.dynamodb().get_paginator("scan").paginate(TableName=table)
    return sum(int(item["LineCount"]["N"]) for page in pages for item in page["Items"])


def count_hops(stack: LocalStack, tally: Tally) -> HopCounts:
    line_ids = _dynamodb_line_ids(stack.settings.invoice_table)
    kinesis_records, kinesis_ids = _event_ids_in_stream(stack)
    transformed = _parquet_under(stack.lake, TRANSFORMED_ZONE)
    quarantined = _parquet_under(stack.lake, QUARANTINE_ZONE)
    parquet_ids = {i for t in transformed.values() for i in t["event_id"].to_pylist()}

    def quarantined_ids(prefix: str) -> set[str]:
        return {
            i
            for key, t in quarantined.items()
            if key.rsplit("/", 1)[-1].startswith(prefix)
            for i in t["event_id"].to_pylist()
        }

    return HopCounts(
        sent=tally.sent,
        accepted=tally.accepted,
        rejected_at_api=tally.rejected,
        in_kinesis=kinesis_records,
        in_kinesis_ids=len(kinesis_ids),
        in_parquet=sum(t.num_rows for t in transformed.values()),
        in_parquet_ids=len(parquet_ids),
        quarantined_api=len(quarantined_ids("stream-api-")),
        quarantined_stream=len(quarantined_ids("stream-firehose-")),
        in_dynamodb_invoice_ids=len(line_ids),
        in_dynamodb_customer_ids=_dynamodb_summarised_lines(stack.settings.customer_table),
        dynamodb_line_ids=line_ids,
    )
