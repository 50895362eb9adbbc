"""Replay dataset lines through the whole stream path on a laptop, and count every hop
(`online-retail stream`, `make stream`): create template.yaml as a stack on moto's server
(every name from its Outputs), send the lines, drain the consumers, mirror the lake for
dbt, build the warehouse and reconcile.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingestion.lake import Lake
from local_stack.csv_bodies import Tally, send_lines
from local_stack.dbt_build import fact_rows_for, run_dbt
from local_stack.fixtures import bad_lines, put_direct
from local_stack.hops import HopCounts, count_hops
from local_stack.lake_mirror import mirror
from local_stack.stack import LocalStack


@dataclass
class ReplayReport:
    tally: Tally
    hops: HopCounts
    mapping: dict[str, Any]
    firehose: dict[str, Any]
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def lines(self) -> list[str]:
        h, t = self.hops, self.tally
        fact = "-" if h.in_fact_table is None else f"{h.in_fact_table:,}"
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(t.statuses.items()))
        out = [
            f"  lines sent            {h.sent:>9,}  in {t.requests} requests "
            f"({statuses}) in {t.seconds:.1f}s",
            f"  accepted by the API   {h.accepted:>9,}",
            f"  rejected by the API   {h.rejected_at_api:>9,}  -> quarantine (stream-api-*)",
            f"  in Kinesis            {h.in_kinesis:>9,}  records, {h.in_kinesis_ids:,} event ids",
            f"  in Parquet            {h.in_parquet:>9,}  rows, {h.in_parquet_ids:,} event ids, "
            f"{len(self.firehose['objects'])} objects",
            f"  quarantined (stream)  {h.quarantined_stream:>9,}  -> quarantine "
            "(stream-firehose-*)",
            f"  in DynamoDB           {h.in_dynamodb_invoice_ids:>9,}  lines (invoice table), "
            f"{h.in_dynamodb_customer_ids:,} (customer table)",
            f"  in the fact table     {fact:>9}",
        ]
        broken = h.reconciles()
        out.append(
            "  reconciled: " + ("every hop, exactly" if not broken else "NO: " + "; ".join(broken))
        )
        return out


def run_replay(
    lines: Sequence[str],
    indexes: Sequence[int],
    *,
    dataset_key: str,
    local_lake: Lake,
    warehouse: str | None,
    rate: float = 0.0,
    per_request: int = 500,
    shards: int = 2,
    inject_bad: int = 0,
    say: Any = print,
    inside: Callable[[LocalStack], None] | None = None,
) -> ReplayReport:
    """Start the stack, send the lines (`lines[0]` is the header), drain, mirror the
    lake for dbt, build the warehouse (unless `warehouse` is None) and count every hop.
    `inside` runs with the stack after the count (the deploy proof's further calls)."""
    selected = [lines[i] for i in indexes]
    # The line's identity in the dataset, as the batch job names it (header = line 1).
    event_ids = [f"{dataset_key}:{i + 1}" for i in indexes]
    bad_csv, bad_records = bad_lines(inject_bad)
    run_id = uuid.uuid4().hex[:8]
    selected += bad_csv
    event_ids += [f"replay-{run_id}-bad:{n}" for n in range(len(bad_csv))]
    with LocalStack(shards=shards, template=True) as stack:
        assert stack.deployed is not None
        say(
            f"1/4 template.yaml as stack {stack.deployed.name} on "
            f"{os.environ['AWS_ENDPOINT_URL']} (moto): {stack.deployed.summary()}"
        )
        say(
            f"    from its Outputs: {stack.settings.lake_root}, stream "
            f"{stack.settings.stream_name} ({shards} shards), tables "
            f"{stack.settings.customer_table}, {stack.settings.invoice_table}"
        )
        say(
            f"2/4 POST /invoices: {len(selected):,} lines, {per_request} per request"
            + (f", {rate:,.0f} lines/s" if rate else "")
        )
        put_direct(stack, bad_records)
        tally = send_lines(stack, lines[0], selected, event_ids, per_request=per_request, rate=rate)
        stack.drain()
        hops = count_hops(stack, tally)
        if inside is not None:
            inside(stack)
        copied = mirror(stack.lake, local_lake)
        say(f"3/4 drained; copied {copied} objects of the S3 lake to {local_lake.uri('')}")
        report = ReplayReport(
            tally=tally,
            hops=hops,
            mapping=asdict(stack.mapping.stats),
            firehose=asdict(stack.firehose.stats),
            run_id=run_id,
        )
    if warehouse is not None:
        say("4/4 dbt build")
        run_dbt(["build", "--quiet"], local_lake.root, warehouse)
        report.hops.in_fact_table = fact_rows_for(warehouse, event_ids)
    return report
