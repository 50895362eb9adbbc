"""The fault suite's ledger: where every line sent ended, by its identity, and the table.

A line is `landed` if its event id is in the warehouse's fct_sales_lines, `quarantined`
if it is in the quarantine staging model with a reason; the lake's zones must hold the
same ids (the raw lake may hold a line twice: dbt's dedupe is what makes it once, so
it is checked through the warehouse). `lost` = sent and in neither; `doubled` = rows of
the fact or the quarantine model beyond one per event id, plus ids both landed and
quarantined. Anything else wrong (an id nobody sent, the lake and the warehouse
disagreeing, a hop that does not reconcile, marts that differ from the batch build's, a
fault that never fired) is a problem of the row, which then fails too.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from ingestion.lake import QUARANTINE_ZONE, TRANSFORMED_ZONE, Lake
from local_stack.dbt_build import mart_tables

if TYPE_CHECKING:
    from local_stack.fault_scenarios import Scenario


@dataclass
class Row:
    fault: str
    lines_in: int
    landed: int
    quarantined: int
    lost: int
    doubled: int
    fired: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and not self.problems


def lake_ids(lake: Lake, zone: str) -> list[str]:
    """Every event id in a zone's Parquet files, as often as it is there."""
    return [
        i
        for key in lake.files_under(zone)
        if key.endswith(".parquet")
        for i in pq.read_table(io.BytesIO(lake.read_bytes(key)), columns=["event_id"])[
            "event_id"
        ].to_pylist()
    ]


def warehouse_ids(warehouse: str) -> tuple[Counter[str], Counter[str]]:
    """(fact event ids, quarantined event ids with a reason), with their row counts."""
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as con:

        def schema_of(table: str) -> str:
            (found,) = con.execute(
                "select table_schema from information_schema.tables where table_name = ?",
                [table],
            ).fetchone()
            return found

        fact = con.execute(
            f'select event_id from "{schema_of("fct_sales_lines")}".fct_sales_lines'
        ).fetchall()
        model = "stg_online_retail__quarantined_lines"
        quarantined = con.execute(
            f'select event_id from "{schema_of(model)}".{model} '
            "where coalesce(failure_reason, '') <> ''"
        ).fetchall()
    return Counter(i for (i,) in fact), Counter(i for (i,) in quarantined)


def _as_sent(ids: Counter[str], sent_as: dict[str, str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for event_id, rows in ids.items():
        out[sent_as.get(event_id, event_id)] += rows
    return out


def count_row(
    scenario: Scenario,
    work: Path,
    sent: set[str],
    fired: Counter[str],
    checks: dict,
    poison: str | None,
    batch_marts: dict[str, list[tuple]],
) -> Row:
    warehouse = str(work / "stream.duckdb")
    fact, quarantine = warehouse_ids(warehouse)
    problems = []
    lake = Lake(str(work / "lake"))
    fired = Counter(fired)
    for zone, found, what in (
        (TRANSFORMED_ZONE, fact, "transformed zone and the fact table"),
        (QUARANTINE_ZONE, quarantine, "quarantine zone and the quarantine model"),
    ):
        in_lake = lake_ids(lake, zone)
        if set(in_lake) != set(found):
            problems.append(f"the lake's {what} differ")
        # copies the raw lake holds, which dbt's dedupe must have made one
        fired["lake copies deduped by dbt"] += len(in_lake) - len(set(in_lake))
    # a bare record reingested from Firehose's error prefix is the same line under the
    # id reingest-errors gives it: count it under the id it was sent with
    sent_as = {alias: event_id for event_id, alias in checks["aliases"].items()}
    fact, quarantine = _as_sent(fact, sent_as), _as_sent(quarantine, sent_as)
    landed, quarantined = set(fact), set(quarantine)
    if extra := (landed | quarantined) - sent:
        problems.append(f"{len(extra)} ids nobody sent, e.g. {sorted(extra)[0]}")
    doubled = sum(n - 1 for n in fact.values()) + sum(n - 1 for n in quarantine.values())
    doubled += len(landed & quarantined)

    hops = checks["hops"]
    # DynamoDB holds every landed line (a bare one under the transformation's id, as
    # sent) but those of the batches sent to the on-failure destination, maybe
    in_dynamodb = checks["dynamodb"]
    missing = landed - in_dynamodb
    if poison is not None:
        hops = [h for h in hops if not h.startswith("in DynamoDB")]
        if poison not in checks["on_failure"] or poison in in_dynamodb:
            problems.append("the poison record is not (only) in the on-failure destination")
    if missing - checks["on_failure"] or in_dynamodb - landed:
        problems.append(
            f"DynamoDB: {len(missing)} landed lines missing, {len(in_dynamodb - landed)} others"
        )
    problems += [f"hop: {h}" for h in hops]
    problems += [f"fault never fired: {name}" for name in scenario.proof if not fired[name]]
    stream_marts = mart_tables(warehouse)
    differing = [t for t in sorted(batch_marts) if stream_marts.get(t) != batch_marts[t]]
    if differing or set(stream_marts) != set(batch_marts):
        problems.append("marts differ from the batch build: " + ", ".join(differing))
    return Row(
        fault=scenario.name,
        lines_in=len(sent),
        landed=len(landed & sent),
        quarantined=len(quarantined & sent),
        lost=len(sent - landed - quarantined),
        doubled=doubled,
        fired={k: v for k, v in fired.items() if v},
        problems=problems,
    )


def render(rows: list[Row]) -> list[str]:
    """One table: fault | lines in | landed | quarantined | lost | doubled | marts."""
    width = max(len(r.fault) for r in rows)
    head = f"{'fault':<{width}}  {'lines in':>8}  {'landed':>7}  {'quarantined':>11}"
    out = [head + f"  {'lost':>4}  {'doubled':>7}  marts = batch", "-" * (len(head) + 30)]
    for r in rows:
        marts = "no" if any(p.startswith("marts differ") for p in r.problems) else "yes"
        out.append(
            f"{r.fault:<{width}}  {r.lines_in:>8,}  {r.landed:>7,}  {r.quarantined:>11,}"
            f"  {r.lost:>4}  {r.doubled:>7}  {marts}"
        )
    out.append("")
    for r in rows:
        fired = ", ".join(f"{k} {v:,}" for k, v in sorted(r.fired.items()))
        out.append(f"{r.fault}: {fired or 'no fault injected'}")
        out += [f"    PROBLEM: {p}" for p in r.problems]
    verdict = "every row: 0 lost, 0 doubled, marts equal to the batch build's, to the penny"
    out.append(verdict if all(r.ok for r in rows) else "FAILED: see the rows above")
    return out
