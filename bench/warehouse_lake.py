"""The warehouse benchmark's lakes: the real transformed zone at 1x, 10x and 100x.

How a scaled lake is made, and why. The batch job is run once, on the real file, into
`<cache>/base`; a lake at N x is then N copies of that transformed zone, written straight
as Parquet (not N runs of the batch job over a scaled CSV: the job is `make bench`'s
subject, and at 100x it would cost the better part of an hour on two shared cores for
the same Parquet). Copy k (k = 0 .. N-1) is what the batch job would have written for a
k-th retailer's file, `online_retail_x{k:03d}.csv.gz`:

- invoice numbers + 1,000,000 * k (the C/A prefix kept) and customer ids + 100,000 * k:
  distinct invoices and customers multiply by N, so fct_invoices and dim_customers grow
  as a warehouse's do; stock codes and countries stay (one catalogue, one world);
- source_file and event_id (`<source_file>:<line>`, the job's own rule) name the copy,
  and a batch manifest per copy says rows_in = rows landed, so every reconciliation test
  holds at every scale;
- dates are unchanged: 13 months, Dec 2010 - Dec 2011. Shifting each copy by whole
  years, as `make bench`'s CSV does, would give 100x a 200-year calendar, past the
  27 years int_dates_spined spans, and reports of 100 unrelated years; kept in place,
  every month is N times the real month, which is what "a retailer N times this one"
  looks like in the revenue marts;
- ingested_at is the night after the invoice day (02:00 UTC), not the one instant of
  the batch run: the lake looks like a year of nightly landings, so an incremental run
  and a test window over "the last days landed" see what they would in production.

The new day (what the incremental build picks up) is one more file landed the night
after the last day: every copy's lines of 9 December 2011, moved to 10 December, with
invoice numbers + 500,000 (new invoices) and the copy's customers, ingested at
2011-12-11 02:00 UTC. It is N times the real day (1,632 * N lines).

Everything streams a partition file at a time (the largest 1x partition is ~85,000
rows), so memory is flat with N; a finished lake is marked `.complete` and reused.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.batch.job import run_batch_job
from ingestion.contract.schema import INVOICE_LINE_SCHEMA
from ingestion.lake import (
    MANIFEST_ZONE,
    PARQUET_OPTIONS,
    QUARANTINE_ZONE,
    TRANSFORMED_ZONE,
    Lake,
    land_file,
)

INVOICE_STRIDE = 1_000_000
CUSTOMER_STRIDE = 100_000
NEW_DAY_INVOICE_OFFSET = 500_000
LAST_DAY = date(2011, 12, 9)
NEW_DAY = LAST_DAY + timedelta(days=1)
LANDED_AT = time(2, 0)  # nightly landing, UTC
NEW_DAY_FILE = f"raw/online_retail/online_retail_{NEW_DAY.isoformat()}.csv.gz"


def _landing(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), LANDED_AT, tzinfo=UTC)


def copy_source_file(copy: int) -> str:
    return f"raw/online_retail/online_retail_x{copy:03d}.csv.gz"


def base_lake(cache: Path, dataset: Path) -> Lake:
    """The real file through the batch job, once: the 1x transformed zone."""
    root = cache / "base"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        lake = Lake(str(root / "lake"))
        run_batch_job(land_file(str(dataset), lake), lake)
        (root / ".complete").write_text("")
    return Lake(str(root / "lake"))


class _Copier:
    """One 1x partition, ready to be written again as copy k."""

    def __init__(self, table: pa.Table) -> None:
        invoice = table["invoice_no"]
        first = pc.utf8_slice_codeunits(invoice, 0, 1)
        lettered = pc.invert(pc.utf8_is_digit(first))
        self.prefix = pc.if_else(lettered, first, "")
        digits = pc.if_else(lettered, pc.utf8_slice_codeunits(invoice, 1), invoice)
        self.invoice = pc.cast(digits, pa.int64())
        self.customer = pc.cast(table["customer_id"], pa.int64())
        # landed the night after the invoice day: midnight + 1 day + LANDED_AT, in UTC
        midnight = pc.floor_temporal(table["invoiced_at"], unit="day")
        night_after = pc.add(midnight, pa.scalar(timedelta(days=1, hours=LANDED_AT.hour)))
        landed = pc.cast(night_after, pa.timestamp("us", tz="UTC"))  # naive values are UTC
        self.table = _set(table, "ingested_at", landed)

    def copy(self, k: int, source_file: str, invoice_offset: int = 0) -> pa.Table:
        table = self.table
        if k or invoice_offset:
            shifted = pc.add(self.invoice, k * INVOICE_STRIDE + invoice_offset)
            invoice = pc.binary_join_element_wise(self.prefix, pc.cast(shifted, pa.string()), "")
            customer = pc.cast(pc.add(self.customer, k * CUSTOMER_STRIDE), pa.string())
            table = _set(table, "invoice_no", invoice)
            table = _set(table, "customer_id", customer)
        line = pc.cast(table["source_line_number"], pa.string())
        table = _set(table, "source_file", pa.repeat(pa.scalar(source_file), table.num_rows))
        return _set(table, "event_id", pc.binary_join_element_wise(source_file, line, ":"))


def _set(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, table.schema.field(index), values)


def _manifest(lake: Lake, source_file: str, rows: int, finished: datetime) -> None:
    name = source_file.rsplit("/", 1)[-1].replace(".", "_")
    at = finished.isoformat()
    manifest = {"source_file": source_file, "encoding": "utf-8", "rows_in": rows}
    manifest |= {"rows_landed": rows, "rows_quarantined": 0, "started_at": at, "finished_at": at}
    lake.write_bytes(f"{MANIFEST_ZONE}/{name}.json", json.dumps(manifest).encode())


def _partition_keys(base: Lake) -> list[str]:
    return sorted(base.files_under(TRANSFORMED_ZONE))


def scaled_lake(cache: Path, dataset: Path, factor: int, log=print) -> Lake:
    """N copies of the base lake's transformed zone (cached: made once)."""
    root = cache / f"x{factor}"
    lake = Lake(str(root / "lake"))
    if (root / ".complete").exists():
        return lake
    base = base_lake(cache, dataset)
    shutil.rmtree(root, ignore_errors=True)
    lake = Lake(str(root / "lake"))
    empty_quarantine = pq.read_schema(base.path(base.files_under(QUARANTINE_ZONE)[0]))
    rows = 0
    for key in _partition_keys(base):
        copier = _Copier(pq.read_table(base.path(key), schema=INVOICE_LINE_SCHEMA))
        folder = key.rsplit("/", 1)[0]
        lake.ensure_dir(folder)
        for k in range(factor):
            part = copier.copy(k, copy_source_file(k))
            name = copy_source_file(k).rsplit("/", 1)[-1].replace(".", "_")
            pq.write_table(part, lake.path(f"{folder}/{name}.parquet"), **PARQUET_OPTIONS)
            rows += part.num_rows
        log(f"    {factor}x lake: {folder.split('/', 3)[-1]} written ({rows:,} lines so far)")
    lake.ensure_dir(QUARANTINE_ZONE)
    lake.ensure_dir(MANIFEST_ZONE)
    for k in range(factor):
        per_copy = rows // factor
        name = copy_source_file(k).rsplit("/", 1)[-1].replace(".", "_")
        pq.write_table(
            empty_quarantine.empty_table(), lake.path(f"{QUARANTINE_ZONE}/{name}.parquet")
        )
        _manifest(lake, copy_source_file(k), per_copy, _landing(LAST_DAY))
    (root / ".complete").write_text(str(rows))
    return lake


def new_day_keys() -> tuple[str, str]:
    """The lake keys of the new day's Parquet file and its manifest."""
    stem = NEW_DAY_FILE.rsplit("/", 1)[-1].replace(".", "_")
    folder = f"{TRANSFORMED_ZONE}/year={NEW_DAY.year}/month={NEW_DAY.month:02d}"
    return f"{folder}/{stem}.parquet", f"{MANIFEST_ZONE}/{stem}.json"


def land_new_day(cache: Path, dataset: Path, lake: Lake, factor: int) -> int:
    """Write the new day's file (every copy's last day, a day later) into `lake`."""
    base = base_lake(cache, dataset)
    key = next(k for k in _partition_keys(base) if f"month={LAST_DAY.month:02d}" in k
               and f"year={LAST_DAY.year}" in k)  # fmt: skip
    table = pq.read_table(base.path(key), schema=INVOICE_LINE_SCHEMA)
    day = pc.cast(pc.floor_temporal(table["invoiced_at"], unit="day"), pa.date32())
    table = table.filter(pc.equal(day, pa.scalar(LAST_DAY)))
    table = _set(table, "invoiced_at", pc.add(table["invoiced_at"], pa.scalar(timedelta(days=1))))
    copier = _Copier(table)
    parts = []
    for k in range(factor):
        part = copier.copy(k, NEW_DAY_FILE, invoice_offset=NEW_DAY_INVOICE_OFFSET)
        parts.append(part)
    day_table = pa.concat_tables(parts)
    numbers = pa.array(range(2, day_table.num_rows + 2), pa.int64())
    day_table = _set(day_table, "source_line_number", numbers)
    day_table = _set(
        day_table,
        "event_id",
        pc.binary_join_element_wise(NEW_DAY_FILE, pc.cast(numbers, pa.string()), ":"),
    )
    parquet_key, _ = new_day_keys()
    lake.ensure_dir(parquet_key.rsplit("/", 1)[0])
    pq.write_table(day_table.cast(INVOICE_LINE_SCHEMA), lake.path(parquet_key), **PARQUET_OPTIONS)
    _manifest(lake, NEW_DAY_FILE, day_table.num_rows, _landing(NEW_DAY))
    return day_table.num_rows


def remove_new_day(lake: Lake) -> None:
    for key in new_day_keys():
        if Path(lake.path(key)).exists():
            lake.delete(key)
