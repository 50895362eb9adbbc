"""The fault-injection suite (issue 10): `make faults`, and tests/faults/ in `make test`.

For each fault of local_stack/fault_scenarios.py, one day of the dataset (plus bad lines
and records to quarantine) goes through the whole stream path on moto's server with the
fault injected; Firehose's error prefix is reingested (`make reingest-errors`, the
documented operator step); the S3 lake is mirrored and dbt builds a warehouse from it.
The same day goes once through the batch job and dbt. Then every line is looked for by
its identity (local_stack/fault_ledger.py) and the marts are compared with the batch
build's, to the penny. One table, one row per fault; exit 1 if any row fails.

    python -m local_stack.fault_suite [--workdir DIR]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from ingestion.batch.dataset import SHIPPED_COPY
from ingestion.batch.job import run_batch_job
from ingestion.lake import Lake, land_file
from ingestion.stream.reingest import reingest_errors
from local_stack import fault_server
from local_stack.csv_bodies import Tally
from local_stack.dbt_build import dbt_process, finish, mart_tables
from local_stack.fault_ledger import Row, count_row, render, warehouse_ids
from local_stack.fault_scenarios import SCENARIOS, Armed, Scenario, put_direct, put_kpl, send_api
from local_stack.fault_server import RemoteFaults
from local_stack.faults import FaultPlan, TickingClock
from local_stack.firehose import DESTINATION_BUFFER, MIB, Buffering
from local_stack.fixtures import bad_lines, dataset_selection
from local_stack.hops import count_hops
from local_stack.lake_mirror import mirror
from local_stack.stack import LocalStack
from local_stack.template_stack import TEMPLATE

DAY = "2010-12-19"  # 522 lines, 4 of them cancellations, 24 guests': ten replays, ten builds
DATASET_KEY = "raw/online_retail/online_retail.csv.gz"
INJECTED = 16  # bad inputs, of every kind fixtures.bad_lines makes
# Firehose's buffering: the processor's 1 MiB default and the minimum S3 interval
# (60 s, as the template allows with dynamic partitioning), on a clock that moves 60 s
# a poll, so a day arrives in several invocations and several S3 objects.
PROCESSOR = Buffering(1 * MIB, 60)
DESTINATION = Buffering(DESTINATION_BUFFER.size_bytes, 60)
SECONDS_A_POLL = 60.0
# seeds and models; no dbt tests: the suite's own counts are the tests here
DBT_RUN = ["build", "--quiet", "--exclude-resource-type", "test", "unit_test"]


def template_default(parameter: str) -> str:
    """A parameter's default in template.yaml (what a deploy gets unless told)."""
    from samtranslator.yaml_helper import yaml_parse  # CloudFormation's short forms too

    return str(yaml_parse(TEMPLATE.read_text())["Parameters"][parameter]["Default"])


# The event source mapping's retry bound, as deployed: a poison record holds its shard
# for 1 + this many attempts (docs/stream.md, "A failed write holds its shard").
RETRY_ATTEMPTS = int(template_default("ConsumerMaximumRetryAttempts"))


def read_slice() -> tuple[str, list[str], list[str]]:
    """The header, the day's lines and their event ids (the line's place in the file)."""
    with gzip.open(SHIPPED_COPY, "rt", encoding="utf-8", newline="") as f:
        lines = f.read().splitlines()
    indexes = dataset_selection(lines, day=DAY, count=None)
    return lines[0], [lines[i] for i in indexes], [f"{DATASET_KEY}:{i + 1}" for i in indexes]


class Builds:
    """dbt runs in the background, one at a time, beside the next scenario's replay."""

    def __init__(self) -> None:
        self.running: subprocess.Popen | None = None

    def start(self, lake: Path, warehouse: Path, workdir: Path) -> None:
        self.wait()
        self.running = dbt_process(DBT_RUN, str(lake), str(warehouse), str(workdir))

    def wait(self) -> None:
        if self.running is not None:
            finish(self.running)
            self.running = None


def replay(
    scenario: Scenario,
    aws: RemoteFaults,
    endpoint: str,
    slice_: tuple[str, list[str], list[str]],
    work: Path,
    builds: Builds,
) -> tuple[set[str], Armed, dict]:
    """One scenario on fresh resources: send, drain, reingest, mirror; the ids sent."""
    header, lines, ids = slice_
    bad_csv, junk = bad_lines(INJECTED)
    bad_ids = [f"fault-bad:{n}" for n in range(len(bad_csv))]
    clock = TickingClock(SECONDS_A_POLL)
    name = f"f{uuid.uuid4().hex[:8]}"
    with LocalStack(
        endpoint, name=name, processor_buffer=PROCESSOR, destination_buffer=DESTINATION
    ) as stack:
        stack.mapping.maximum_retry_attempts = RETRY_ATTEMPTS
        stack.firehose.clock = clock
        stack.firehose.poll = clock.ticking(stack.firehose.poll)
        armed = Armed(stack, aws)
        aws.arm(FaultPlan())
        scenario.arm(armed, ids)
        if scenario.kpl:
            names = header.split(",")
            rows = [dict(zip(names, r, strict=False)) for r in csv.reader(lines + bad_csv)]
            sent_ids = put_kpl(stack, rows)
            tally = Tally(requests=0, sent=len(rows), accepted=len(rows))
        else:
            tally = send_api(armed, header, [*lines, *bad_csv], [*ids, *bad_ids])
            sent_ids = [*ids, *bad_ids]
        direct = put_direct(stack, junk)
        # a bare record has no id of its own: the transformation names it by shard and
        # sequence number, reingest-errors by what the error document keeps
        bare = dict(zip(direct, junk, strict=True))
        if scenario.kpl:
            bare.update(zip(sent_ids, (json.dumps(row).encode() for row in rows), strict=True))
        sent_ids += direct
        stack.drain()
        armed.fired += aws.fired
        aws.arm(FaultPlan())  # the faults end; counting reads the services as they are
        lake = work / "lake"
        if armed.held is not None:
            # the objects held back arrive after a first build of the warehouse
            mirror(stack.lake, Lake(str(lake)))
            builds.start(lake, work / "stream.duckdb", work)
            builds.wait()
            fact, _ = warehouse_ids(str(work / "stream.duckdb"))
            armed.fired["lines missing from the first build"] += len(set(ids) - set(fact))
            armed.held.release()
        report = reingest_errors(stack.lake, stack.settings.stream_name)
        armed.fired["reingested"] += report.records_in
        hops = count_hops(stack, tally)
        checks = {"hops": hops.reconciles(), "on_failure": _on_failure_ids(armed)}
        checks["dynamodb"] = hops.dynamodb_line_ids
        checks["aliases"] = _reingest_aliases(stack, sent_ids, bare)
        mirror(stack.lake, Lake(str(lake)))
        builds.start(lake, work / "stream.duckdb", work)
    return set(sent_ids), armed, checks


def _reingest_aliases(
    stack: LocalStack, sent_ids: list[str], bare: dict[str, bytes]
) -> dict[str, str]:
    """The id reingest-errors gives each bare record (from its arrival time and bytes:
    `stream:<stream>:firehose-error:<arrival ms>-<digest>`, ingestion/stream/reingest.py),
    by the id the transformation gives it; the ledger counts both as the same line."""
    from ingestion.stream import settings
    from local_stack.kinesis_mapping import shard_readers

    arrived = {}
    for reader in shard_readers(settings.kinesis(), stack.settings.stream_name):
        while batch := reader.read(10_000):
            for r in batch:
                arrived[(r.shard_id, r.sequence_number)] = r.arrived_at
    aliases: dict[str, str] = {}
    copies: dict[str, int] = {}
    for event_id, data in bare.items():
        shard, sequence = event_id.split(":")[2:4]
        ms = int(arrived[(shard, sequence)].timestamp() * 1000)
        name = f"{ms}-{hashlib.sha256(data).hexdigest()[:16]}"
        copies[name] = n = copies.get(name, -1) + 1  # a copy's place among its twins
        suffix = f"-{n}" if n else ""
        aliases[event_id] = f"stream:{stack.settings.stream_name}:firehose-error:{name}{suffix}"
    return aliases


def _on_failure_ids(armed: Armed) -> set[str]:
    """The lines of the batches the mapping sent to its on-failure destination, read back
    from the stream at the sequence numbers the destination holds, as an operator would
    (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html)."""
    from ingestion.stream import settings
    from local_stack.kinesis_mapping import ShardReader

    ids = set()
    for failure in armed.stack.mapping.stats.on_failure:
        reader = ShardReader(
            settings.kinesis(), armed.stack.settings.stream_name, failure["shardId"]
        )
        reader.seek(failure["startSequenceNumber"])
        end = int(failure["endSequenceNumber"])
        while batch := [r for r in reader.read(1000) if int(r.sequence_number) <= end]:
            for r in batch:
                try:
                    ids.add(json.loads(r.data)["event_id"])
                except (ValueError, KeyError, TypeError):  # not from the API
                    ids.add(f"stream:{reader.stream_name}:{reader.shard_id}:{r.sequence_number}")
            if int(batch[-1].sequence_number) >= end:
                break
    return ids


def run_suite(
    workdir: Path, scenarios: Sequence[Scenario] = SCENARIOS, say: Callable[[str], None] = print
) -> list[Row]:
    """Every scenario, then the counts and the marts against the batch build."""
    started = time.monotonic()
    # the handlers log each fault they meet (at ERROR): the table is this run's output
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    slice_ = read_slice()
    header, lines, _ = slice_
    builds = Builds()
    # the batch path, once: the day as a file, the batch job, dbt
    source = workdir / "online_retail.csv.gz"
    source.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode()))
    batch_lake = Lake(str(workdir / "batch" / "lake"))
    run_batch_job(land_file(str(source), batch_lake), batch_lake)
    builds.start(workdir / "batch" / "lake", workdir / "batch" / "batch.duckdb", workdir / "batch")
    say(f"faults: {len(lines):,} lines of {DAY} + {INJECTED} bad inputs, {len(scenarios)} runs")
    server, endpoint = fault_server.start()
    aws = RemoteFaults(endpoint)
    runs = []
    try:
        for i, scenario in enumerate(scenarios):
            work = workdir / f"fault-{i}"
            t0 = time.monotonic()
            sent, armed, checks = replay(scenario, aws, endpoint, slice_, work, builds)
            runs.append((scenario, work, sent, armed.counters(), checks, armed.poison))
            say(f"  {scenario.name}: replayed in {time.monotonic() - t0:.1f}s")
    finally:
        server.kill()  # werkzeug's server waits for idle keep-alive connections on SIGTERM
        server.wait(timeout=30)
        builds.wait()
    batch_marts = mart_tables(str(workdir / "batch" / "batch.duckdb"))
    rows = [
        count_row(scenario, work, sent, fired, checks, poison, batch_marts)
        for scenario, work, sent, fired, checks, poison in runs
    ]
    say(f"  {time.monotonic() - started:.0f}s in all")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.fault_suite")
    parser.add_argument("--workdir", type=Path, help="keep the lakes and warehouses here")
    parser.add_argument("--only", help="run the faults whose name contains this")
    args = parser.parse_args(argv)
    scenarios = [s for s in SCENARIOS if not args.only or args.only in s.name]
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = run_suite(workdir, scenarios)
    print("\n".join(render(rows)))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
