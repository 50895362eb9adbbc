"""KPL aggregates -> user records, with AWS's deaggregation module (aws-kinesis-agg).

A producer using the Kinesis Producer Library packs many user records into one Kinesis
record: a magic prefix, a protobuf `AggregatedRecord` and its MD5 digest. Every user
record of an aggregate shares the Kinesis record's sequence number; the subsequence
number (its index, from 0) tells them apart. Lambda's Kinesis event source mapping
delivers the aggregate as it is, so the consumer must split it itself with AWS's module
(https://docs.aws.amazon.com/streams/latest/dev/kinesis-kpl-consumer-deaggregation.html,
https://docs.aws.amazon.com/streams/latest/dev/kinesis-record-deaggregation.html).
Firehose splits aggregates itself when its source is a Kinesis stream, before it invokes
the transformation Lambda with each user record and its `subsequenceNumber`
(https://docs.aws.amazon.com/streams/latest/dev/kpl-with-firehose.html).

A record that is not an aggregate comes back as one user record, aggregated False.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import aws_kinesis_agg

# The deaggregator first: importing it puts the package's folder on sys.path, which its
# generated protobuf module needs (it imports config_pb2 as a top-level module).
from aws_kinesis_agg.deaggregator import iter_deaggregate_records
from aws_kinesis_agg.messages_pb2 import AggregatedRecord

MAGIC: bytes = aws_kinesis_agg.MAGIC  # how every aggregate starts (then its digest tells)


class BrokenAggregate(ValueError):
    """A record that carries the KPL's magic and digest but cannot be split whole."""


@dataclass(frozen=True)
class UserRecord:
    data: bytes
    partition_key: str
    subsequence_number: int
    aggregated: bool


def is_aggregate(data: bytes) -> bool:
    """Whether `data` is a KPL aggregate: the magic prefix and a matching MD5 digest (the
    module's own test, so a plain record that happens to start with the magic is not)."""
    magic, size = aws_kinesis_agg.MAGIC, aws_kinesis_agg.DIGEST_SIZE
    if not data.startswith(magic) or len(data) <= len(magic) + size:
        return False
    message, digest = data[len(magic) : -size], data[-size:]
    return hashlib.md5(message).digest() == digest


def user_records(data: bytes, partition_key: str, sequence_number: str) -> list[UserRecord]:
    """The user records of one Kinesis record (itself, if it is not an aggregate).

    Raises BrokenAggregate when an aggregate cannot be split whole: the module prints
    and stops on a bad partition-key index, which would silently lose the rest."""
    if not is_aggregate(data):
        return [UserRecord(data, partition_key, 0, aggregated=False)]
    envelope = {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "sequenceNumber": sequence_number,
            "approximateArrivalTimestamp": 0,
            "partitionKey": partition_key,
            "data": base64.b64encode(data).decode("ascii"),
        }
    }
    split = list(iter_deaggregate_records([envelope]))
    expected = AggregatedRecord()
    try:
        expected.ParseFromString(data[len(aws_kinesis_agg.MAGIC) : -aws_kinesis_agg.DIGEST_SIZE])
    except Exception as e:  # protobuf's DecodeError; the module passes such a record whole
        raise BrokenAggregate(f"is a KPL aggregate whose protobuf cannot be read: {e}") from e
    if (
        not split
        or len(split) != len(expected.records)
        or not all(r["kinesis"].get("aggregated") for r in split)
    ):
        raise BrokenAggregate(
            f"is a KPL aggregate of {len(expected.records)} user records of which "
            f"{len(split)} could be split out"
        )
    return [
        UserRecord(
            data=base64.b64decode(r["kinesis"]["data"]),
            partition_key=str(r["kinesis"]["partitionKey"]),
            subsequence_number=int(r["kinesis"]["subSequenceNumber"]),
            aggregated=True,
        )
        for r in split
    ]
