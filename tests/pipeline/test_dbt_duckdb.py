"""The whole pipeline on DuckDB: batch job -> dbt build -> marts, checked against figures
this test computes itself from the source lines (csv + Decimal, no pyarrow, no SQL)."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import dbt_env, parse_csv_lines, run_dbt, write_csv

from ingestion.batch.job import run_batch_job
from ingestion.contract.schema import INVOICE_LINE_SCHEMA
from ingestion.lake import TRANSFORMED_ZONE, Lake, land_file

PROJECT_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.pipeline

# The test's own statement of which stock codes are not merchandise (postage, fees, manual
# lines, discounts, samples, vouchers, bad debt), written apart from the seed on purpose.
NOT_MERCHANDISE = {
    "POST",
    "DOT",
    "M",
    "m",
    "C2",
    "D",
    "S",
    "BANK CHARGES",
    "AMAZONFEE",
    "CRUK",
    "B",
}


def is_merchandise(stock_code: str) -> bool:
    return stock_code not in NOT_MERCHANDISE and not stock_code.startswith("gift_0001_")


def season_of(day: date) -> tuple[int, str]:
    """Meteorological season; December opens the winter of its own year."""
    name = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
            6: "summer", 7: "summer", 8: "summer"}.get(day.month, "autumn")  # fmt: skip
    return (day.year - 1 if day.month in (1, 2) else day.year), name


@dataclass
class Expected:
    """Mart figures computed from the raw lines."""

    lines: int
    net: Decimal
    by_month: dict[date, dict[str, Decimal | int]]
    by_week: dict[date, Decimal]
    by_quarter: dict[date, Decimal]
    by_country: dict[str, Decimal]
    season_leaders: dict[tuple[int, str], tuple[Decimal, set[str]]]
    customers: int
    invoices: int


def expected_from(rows: list[dict[str, str]]) -> Expected:
    months: dict[date, dict] = defaultdict(
        lambda: {"gross": Decimal(0), "returns": Decimal(0), "adjustments": Decimal(0),
                 "net": Decimal(0), "invoices": set(), "customers": set(), "units": 0}
    )  # fmt: skip
    weeks: dict[date, Decimal] = defaultdict(Decimal)
    quarters: dict[date, Decimal] = defaultdict(Decimal)
    countries: dict[str, Decimal] = defaultdict(Decimal)
    products: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        amount = int(row["Quantity"]) * Decimal(row["UnitPrice"])
        day = datetime.strptime(row["InvoiceDate"], "%m/%d/%Y %H:%M").date()
        invoice, stock = row["InvoiceNo"], row["StockCode"].strip()
        month = months[day.replace(day=1)]
        kind = {"C": "returns", "A": "adjustments"}.get(invoice[0], "gross")
        month[kind] += amount
        month["net"] += amount
        month["invoices"].add(invoice)
        if row["CustomerID"]:
            month["customers"].add(row["CustomerID"])
        if is_merchandise(stock):
            month["units"] += int(row["Quantity"])
            products[season_of(day)][stock] += amount
        weeks[day - timedelta(days=day.weekday())] += amount
        quarters[date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)] += amount
        countries[row["Country"]] += amount
    leaders = {}
    for season, revenue in products.items():
        best = max(revenue.values())
        leaders[season] = (best, {code for code, value in revenue.items() if value == best})
    return Expected(
        lines=len(rows),
        net=sum((m["net"] for m in months.values()), Decimal(0)),
        by_month={
            k: {**v, "invoices": len(v["invoices"]), "customers": len(v["customers"])}
            for k, v in months.items()
        },
        by_week=dict(weeks),
        by_quarter=dict(quarters),
        by_country=dict(countries),
        season_leaders=leaders,
        customers=len({r["CustomerID"] for r in rows if r["CustomerID"]}),
        invoices=len({r["InvoiceNo"] for r in rows}),
    )


def dbt_build(lake_root: Path, warehouse: Path, workdir: Path) -> subprocess.CompletedProcess:
    return run_dbt(["build"], workdir, dbt_env(workdir, lake_root, warehouse))


@dataclass
class Built:
    con: duckdb.DuckDBPyConnection
    expected: Expected
    quarantined: int

    def one(self, sql: str) -> tuple:
        return self.con.execute(sql).fetchone()

    def all(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()


def build(lines: list[str], good_rows: list[dict[str, str]], tmp: Path) -> Built:
    lake = Lake(str(tmp / "lake"))
    result = run_batch_job(
        land_file(str(write_csv(tmp / "online_retail.csv.gz", lines)), lake), lake
    )
    warehouse = tmp / "warehouse.duckdb"
    done = dbt_build(tmp / "lake", warehouse, tmp)
    assert done.returncode == 0, done.stdout[-6000:]
    assert "ERROR=0" in done.stdout and "WARN=0" in done.stdout, done.stdout[-3000:]
    return Built(duckdb.connect(str(warehouse), read_only=True), expected_from(good_rows),
                 result.rows_quarantined)  # fmt: skip


@pytest.fixture(scope="module")
def sliced(slice_lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A real slice with three broken lines injected: they must reach the quarantine mart."""
    lines = list(slice_lines)
    broken = {50: lines[50].replace(",6,", ",six,", 1), 51: "536999,X,TOO SHORT",
              52: lines[52].replace("12/1/2010", "2010-13-01")}  # fmt: skip
    assert broken[50] != lines[50] and broken[52] != lines[52]
    good = parse_csv_lines(
        [lines[0], *(line for i, line in enumerate(lines) if i and i not in broken)]
    )
    for index, text in broken.items():
        lines[index] = text
    return build(lines, good, tmp_path_factory.mktemp("slice"))


def test_monthly_revenue_equals_the_source_lines(sliced: Built) -> None:
    got = {
        r[0]: r[1:]
        for r in sliced.all(
            "select period_start, gross_sales, returns, adjustments, net_revenue, invoices, "
            "customers, units from rpt_revenue_monthly"
        )
    }
    assert set(got) == set(sliced.expected.by_month)
    for month, e in sliced.expected.by_month.items():
        assert got[month] == (e["gross"], e["returns"], e["adjustments"], e["net"],
                              e["invoices"], e["customers"], e["units"]), month  # fmt: skip


def test_weekly_and_quarterly_revenue_equal_the_source_lines(sliced: Built) -> None:
    weekly = dict(sliced.all("select period_start, net_revenue from rpt_revenue_weekly"))
    quarterly = dict(sliced.all("select period_start, net_revenue from rpt_revenue_quarterly"))
    assert weekly == sliced.expected.by_week
    assert quarterly == sliced.expected.by_quarter


def test_the_best_seller_of_each_season_is_the_one_the_lines_say(sliced: Built) -> None:
    rows = sliced.all(
        "select season_year, season, stock_code, net_revenue from rpt_top_products_by_season "
        "where revenue_rank = 1"
    )
    got: dict[tuple[int, str], tuple[Decimal, set[str]]] = {}
    for year, season, code, revenue in rows:
        got.setdefault((year, season), (revenue, set()))[1].add(code)
    assert got == sliced.expected.season_leaders


def test_revenue_by_country_and_the_dimensions_agree(sliced: Built) -> None:
    e = sliced.expected
    assert sliced.one("select count(*), sum(line_amount) from fct_sales_lines") == (e.lines, e.net)
    assert sliced.one("select count(*) from fct_invoices") == (e.invoices,)
    assert sliced.one("select count(*) from dim_customers") == (e.customers,)
    assert sliced.one("select count(*) from dim_customers where customer_id = 'unknown'") == (0,)
    by_country = sliced.all(
        "select country_name, sum(line_amount) from fct_sales_lines group by all"
    )
    assert dict(by_country) == e.by_country


def test_injected_bad_lines_reach_the_quarantine_and_the_counts_add_up(sliced: Built) -> None:
    assert sliced.quarantined == 3
    got = sliced.all(
        "select source_line_number, failed_field "
        "from stg_online_retail__quarantined_lines order by 1"
    )
    assert got == [(51, "Quantity"), (52, "(line)"), (53, "InvoiceDate")]
    rows_in, landed, quarantined = sliced.one(
        "select rows_in, rows_landed, rows_quarantined from stg_online_retail__batch_manifests"
    )
    assert rows_in == landed + quarantined == sliced.expected.lines + 3


@pytest.fixture(scope="module")
def full(dataset_lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(dataset_lines, parse_csv_lines(dataset_lines), tmp_path_factory.mktemp("full"))


def test_the_full_dataset_reconciles_to_the_penny(full: Built) -> None:
    assert full.expected.lines == 541_909
    assert full.quarantined == 0
    (net,) = full.one("select sum(net_revenue) from rpt_revenue_monthly")
    assert net == full.expected.net
    assert round(net, 2) == Decimal("9747747.93")
    (november,) = full.one(
        "select net_revenue from rpt_revenue_monthly where period_start = date '2011-11-01'"
    )
    assert november == full.expected.by_month[date(2011, 11, 1)]["net"]
    assert round(november, 2) == Decimal("1461756.25")
    assert full.one("select count(*) from dim_customers") == (4_372,)
    assert full.one("select count(*) from fct_invoices") == (25_900,)


def test_the_fact_builds_incrementally_and_a_rerun_adds_nothing(slice_lines, tmp_path) -> None:
    """New files are picked up without a full refresh; re-landing the same lines (new
    ingested_at, same event_ids) replaces rows instead of adding them."""
    lake = Lake(str(tmp_path / "lake"))
    warehouse = tmp_path / "warehouse.duckdb"
    first_half, second_half = slice_lines[:2001], [slice_lines[0], *slice_lines[2001:]]
    first = land_file(str(write_csv(tmp_path / "first.csv", first_half)), lake)
    run_batch_job(first, lake)
    assert dbt_build(tmp_path / "lake", warehouse, tmp_path).returncode == 0

    run_batch_job(land_file(str(write_csv(tmp_path / "second.csv", second_half)), lake), lake)
    run_batch_job(first, lake)  # the same file again: a replay
    done = dbt_build(tmp_path / "lake", warehouse, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "incremental model main.fct_sales_lines" in done.stdout

    rows = parse_csv_lines(slice_lines)
    net = sum(int(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in rows)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        got = con.execute(
            "select count(*), count(distinct event_id), sum(line_amount) from fct_sales_lines"
        ).fetchone()
        (monthly_net,) = con.execute("select sum(net_revenue) from rpt_revenue_monthly").fetchone()
    assert got == (len(rows), len(rows), net)
    assert monthly_net == net


def test_lines_delivered_again_by_the_stream_change_nothing(slice_lines, tmp_path) -> None:
    """The stream re-sends lines the batch job already landed (same event_ids, another
    source_file, a later ingested_at): every dbt test still passes, figures unchanged."""
    lake = Lake(str(tmp_path / "lake"))
    run_batch_job(land_file(str(write_csv(tmp_path / "day.csv", slice_lines[:1001])), lake), lake)
    landed = pq.read_table(lake.path(lake.files_under(TRANSFORMED_ZONE)[0]))
    again = landed.slice(0, 300)
    again = again.set_column(
        again.schema.get_field_index("source_file"),
        "source_file",
        pa.array(["raw/online_retail/stream/2026/11/27/request-1.csv"] * again.num_rows),
    )
    later = pa.scalar(datetime(2030, 1, 1, tzinfo=UTC), pa.timestamp("us", tz="UTC"))
    again = again.set_column(
        again.schema.get_field_index("ingested_at"), "ingested_at", pa.repeat(later, 300)
    )
    folder = lake.files_under(TRANSFORMED_ZONE)[0].rsplit("/", 1)[0]
    pq.write_table(again.cast(INVOICE_LINE_SCHEMA), lake.path(f"{folder}/stream-delivery.parquet"))

    done = dbt_build(tmp_path / "lake", tmp_path / "warehouse.duckdb", tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    rows = parse_csv_lines(slice_lines[:1001])
    net = sum(int(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in rows)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        got = con.execute("select count(*), sum(line_amount) from fct_sales_lines").fetchone()
        redelivered = con.execute(
            "select count(*) from fct_sales_lines where source_file like '%/stream/%'"
        ).fetchone()
    assert got == (len(rows), net)
    assert redelivered == (300,)  # the latest landing of each event is the one kept
