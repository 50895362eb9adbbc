"""The faults of the fault suite (issue 10), one scenario each: what it injects, how the
lines are sent, and the counters that prove the fault fired.

Each scenario runs on a fresh set of resources on moto's server (local_stack/stack.py),
with the injections of local_stack/faults.py, and sends the same slice of the dataset:
its lines through POST /invoices (or as KPL aggregates straight onto the stream), bad
CSV lines the API quarantines, and records no client should send, put on the stream
directly, which the Firehose transformation quarantines.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingestion.stream import settings
from local_stack.csv_bodies import Tally, csv_bodies
from local_stack.faults import (
    CrashAfterHalf,
    FaultPlan,
    HeldBackLake,
    TwiceWrittenLake,
    failing_attempts,
    twice,
)
from local_stack.stack import LocalStack

PER_REQUEST = 100  # lines a POST: a few dozen requests, so the faults meet many batches


@dataclass
class Sent:
    """What a scenario sent, each line by the event id it must end under."""

    tally: Tally = field(default_factory=Tally)
    ids: list[str] = field(default_factory=list)


@dataclass
class Armed:
    """A scenario's stack with its faults in place."""

    stack: LocalStack
    aws: Any  # the fault middleware, or fault_server.RemoteFaults: arm(plan) and fired
    fired: Counter[str] = field(default_factory=Counter)
    held: HeldBackLake | None = None  # objects Firehose delivers late
    poison: str | None = None  # the line DynamoDB always refuses
    crash: CrashAfterHalf | None = None
    times: int = 1  # how many times each request is sent

    def counters(self) -> Counter[str]:
        out = Counter(self.fired)  # the server's counts are added in before it is disarmed
        if self.crash is not None:
            out += self.crash.counter
        stats = self.stack.mapping.stats
        for name in ("function_errors", "bisections", "retried_batches"):
            out[f"consumer {name.replace('_', ' ')}"] += getattr(stats, name)
        out["on-failure batches"] += len(stats.on_failure)
        out["Firehose invocations failed"] += self.stack.firehose.stats.failed_invocations
        out["aggregates split"] += self.stack.firehose.stats.aggregates_split
        out = Counter({k: v for k, v in out.items() if v})
        return out


@dataclass(frozen=True)
class Scenario:
    name: str
    injects: str  # what happens, for the docs and the table's notes
    arm: Callable[[Armed, Sequence[str]], None]
    proof: tuple[str, ...]  # counters that must be above 0 for the row to count
    kpl: bool = False  # send the slice as KPL aggregates instead of through the API


def _late(armed: Armed, ids: Sequence[str]) -> None:
    armed.held = HeldBackLake(armed.stack.lake.root, hold=2, fired=armed.fired)
    armed.stack.firehose.lake = armed.held


def _transform_fails(armed: Armed, ids: Sequence[str]) -> None:
    # batch 0 fails twice and then succeeds; batch 1 (valid lines) fails all 1 + 3
    # attempts, so its records go to processing-failed/ and `reingest-errors` lands them
    firehose = armed.stack.firehose
    firehose.transform = failing_attempts(firehose.transform, {0: 2, 1: 4}, armed.fired)


def _consumer_crash(armed: Armed, ids: Sequence[str]) -> None:
    armed.crash = CrashAfterHalf(settings.dynamodb(), crashes=3, min_records=25)
    armed.stack.mapping.handler = armed.crash.wrap(armed.stack.mapping.handler)


def _throttled(armed: Armed, ids: Sequence[str]) -> None:
    # 4 throttled calls in a row outlast botocore's 3 attempts once: a function error
    armed.aws.arm(FaultPlan(batch_write_throttled=4, batch_write_unprocessed=20))


def _s3_5xx(armed: Armed, ids: Sequence[str]) -> None:
    armed.aws.arm(FaultPlan(s3_5xx_key_part="/stream-firehose-", s3_5xx=6))


def _put_records(armed: Armed, ids: Sequence[str]) -> None:
    armed.aws.arm(FaultPlan(put_records_throttled=2, put_records_partial=12))


def _twice(armed: Armed, ids: Sequence[str]) -> None:
    stack = armed.stack
    stack.mapping.handler = twice(stack.mapping.handler, armed.fired, "consumer batches twice")
    stack.firehose.transform = twice(stack.firehose.transform, armed.fired, "transforms twice")
    stack.firehose.lake = TwiceWrittenLake(stack.lake.root, fired=armed.fired)
    armed.times = 2  # every POST too


def _poison(armed: Armed, ids: Sequence[str]) -> None:
    armed.poison = ids[len(ids) // 3]
    armed.aws.arm(FaultPlan(poison_line_ids=frozenset({armed.poison})))


def _kpl(armed: Armed, ids: Sequence[str]) -> None:
    pass  # the fault is in how the lines are sent


SCENARIOS = (
    Scenario("none (control)", "nothing", lambda armed, ids: None, ()),
    Scenario(
        "Firehose buffers late, out of order",
        "the first 2 S3 objects held back past a dbt build, then delivered newest first",
        _late,
        ("objects delivered late", "lines missing from the first build"),
    ),
    Scenario(
        "transformation fails, retried",
        "Lambda timeouts: one batch fails twice then succeeds, one fails all 4 attempts",
        _transform_fails,
        ("invocations failed", "Firehose invocations failed"),
    ),
    Scenario(
        "consumer crashes after half its writes",
        "the consumer dies after half its BatchWriteItem calls, 3 times; redelivered",
        _consumer_crash,
        ("consumer crashes", "consumer function errors"),
    ),
    Scenario(
        "DynamoDB throttling, UnprocessedItems",
        "4 BatchWriteItem calls throttled, 20 leave half their items unprocessed",
        _throttled,
        ("BatchWriteItem throttled", "items unprocessed"),
    ),
    Scenario(
        "S3 5xx on the quarantine write",
        "S3 answers 500 to 6 PUTs of the transformation's quarantine objects",
        _s3_5xx,
        ("s3 5xx", "reingested"),
    ),
    Scenario(
        "PutRecords partial failures",
        "2 PutRecords calls throttled whole, 12 with half their records refused",
        _put_records,
        ("PutRecords throttled", "records refused"),
    ),
    Scenario(
        "same batch delivered twice",
        "every POST, consumer batch, transformation and S3 object made twice",
        _twice,
        (
            "requests sent twice",
            "consumer batches twice",
            "objects written twice",
            "lake copies deduped by dbt",
        ),
    ),
    Scenario(
        "poison record",
        "DynamoDB refuses one line's item on every attempt",
        _poison,
        ("poison refused", "on-failure batches"),
    ),
    Scenario(
        "KPL aggregates",
        "the slice as KPL aggregates (aws-kinesis-agg) of 50 bare lines, onto the stream",
        _kpl,
        ("aggregates split",),
        kpl=True,
    ),
)


def send_api(armed: Armed, header: str, lines: Sequence[str], ids: Sequence[str]) -> Tally:
    """POST /invoices, PER_REQUEST lines a body, each body `armed.times` times (a client
    retry with the lines' own ids); a 503 is sent again, as the API asks."""
    stack, tally = armed.stack, Tally()
    for body, count in csv_bodies(header, lines, ids, PER_REQUEST):
        for time in range(armed.times):
            if time:
                armed.fired["requests sent twice"] += 1
            for _attempt in range(5):
                answer = stack.post(body)
                tally.statuses[answer["statusCode"]] = tally.statuses.get(answer["statusCode"], 0)
                tally.statuses[answer["statusCode"]] += 1
                if answer["statusCode"] != 503:
                    break
                armed.fired["503s sent again"] += 1  # Kinesis kept refusing some lines
            result = json.loads(answer["body"])
            tally.requests += 1
        tally.sent += count
        tally.accepted += result.get("accepted", 0)
        tally.rejected += result.get("rejected", 0)
        stack.pump()
    return tally


def put_direct(stack: LocalStack, records: Sequence[bytes]) -> list[str]:
    """Records put on the stream by a producer other than the API; their event ids (the
    transformation's for a bare record: stream, shard and sequence number)."""
    ids = []
    for i, data in enumerate(records):
        put = settings.kinesis().put_record(
            StreamName=stack.settings.stream_name, Data=data, PartitionKey=f"direct-{i}"
        )
        ids.append(f"stream:{stack.settings.stream_name}:{put['ShardId']}:{put['SequenceNumber']}")
    return ids


def put_kpl(
    stack: LocalStack, rows: Sequence[dict[str, str]], per_aggregate: int = 50
) -> list[str]:
    """The rows as bare JSON lines in KPL aggregates made by AWS's aggregator, put on
    the stream; each user record's event id (subsequence number added above 0)."""
    from aws_kinesis_agg.aggregator import RecordAggregator

    ids = []
    for start in range(0, len(rows), per_aggregate):
        aggregator = RecordAggregator()
        part = rows[start : start + per_aggregate]
        for row in part:
            assert aggregator.add_user_record(row["InvoiceNo"], json.dumps(row).encode()) is None
        key, _, data = aggregator.clear_and_get().get_contents()
        put = settings.kinesis().put_record(
            StreamName=stack.settings.stream_name, Data=data, PartitionKey=key
        )
        base = f"stream:{stack.settings.stream_name}:{put['ShardId']}:{put['SequenceNumber']}"
        ids += [base] + [f"{base}:{sub}" for sub in range(1, len(part))]
        stack.pump()
    return ids
