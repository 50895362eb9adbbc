"""The semantic layer: the metrics the dashboards show, queried with MetricFlow's CLI on
the DuckDB warehouse of the run, equal the reporting marts."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from bi_support import PROJECT_DIR, BiRun

# mf(metrics, group_by, where=None) -> the rows of `mf query --csv`
Query = Callable[..., list[dict[str, str]]]
METRICS = {
    "net_revenue", "gross_sales", "returns", "adjustments",
    "orders", "customers", "average_order_value", "units",
}  # fmt: skip
# What a metric can be grouped by: day/week/month/quarter, season, country, product.
GROUP_BYS = {
    "metric_time__day", "metric_time__week", "metric_time__month", "metric_time__quarter",
    "invoice_day__season_name", "country__display_name", "product__description",
}  # fmt: skip


def test_every_dashboard_figure_has_one_metric(bi_run: BiRun) -> None:
    manifest = json.loads((bi_run.target / "manifest.json").read_text())
    metrics = {m["name"]: m for m in manifest["metrics"].values()}
    assert set(metrics) == METRICS
    assert all(m["label"] and m["description"] for m in metrics.values())
    assert metrics["average_order_value"]["type"] == "ratio"
    semantic = json.loads((bi_run.target / "semantic_manifest.json").read_text())
    dimensions = {
        f"{entity['name']}__{dimension['name']}"
        for model in semantic["semantic_models"]
        for entity in model["entities"]
        if entity["type"] == "primary"
        for dimension in model["dimensions"]
    }
    assert {g for g in GROUP_BYS if not g.startswith("metric_time")} <= dimensions


@pytest.fixture(scope="module")
def mf(bi_run: BiRun, tmp_path_factory: pytest.TempPathFactory) -> Query:
    """`mf query` on the run's warehouse. MetricFlow reads <project>/target/semantic_manifest
    .json whatever DBT_TARGET_PATH says, so it runs in a copy of the project made of links
    whose target/ is this run's."""
    executable = Path(sys.executable).with_name("mf")
    if not executable.exists():
        pytest.skip("MetricFlow's CLI (dbt-metricflow) is not installed")
    project = tmp_path_factory.mktemp("mf_project")
    for name in ("dbt_project.yml", "models", "macros", "seeds", "tests", "analyses"):
        (project / name).symlink_to(PROJECT_DIR / name)
    (project / "target").mkdir()
    shutil.copy(bi_run.target / "semantic_manifest.json", project / "target")

    def query(metrics: list[str], group_by: list[str], where: str | None = None) -> list[dict]:
        out = project / "out.csv"
        args = ["query", "--metrics", ",".join(metrics), "--group-by", ",".join(group_by),
                "--csv", str(out)]  # fmt: skip
        if where:
            args += ["--where", where]
        done = subprocess.run(
            [str(executable), *args], cwd=project, env=bi_run.env(),
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0 and out.exists(), (done.stdout + done.stderr)[-3000:]
        with out.open(newline="") as f:
            return list(csv.DictReader(f))

    return query


def _money(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.001"))


def _day(text: str) -> date:
    return datetime.fromisoformat(text).date()


@pytest.mark.parametrize("grain", ["week", "month", "quarter"])
def test_revenue_by_period_equals_the_revenue_reports(bi_run: BiRun, mf: Query, grain: str) -> None:
    rows = mf(
        ["gross_sales", "returns", "adjustments", "net_revenue", "customers"],
        [f"metric_time__{grain}"],
    )
    money = ("gross_sales", "returns", "adjustments", "net_revenue")
    got = {
        _day(row[f"metric_time__{grain}"]): (
            *(_money(row[name]) for name in money),
            int(row["customers"]),
        )
        for row in rows
    }
    expected = {
        start: (gross, returns, adjustments, net, customers)
        for start, gross, returns, adjustments, net, customers in bi_run.query(
            "select period_start, gross_sales, returns, adjustments, net_revenue, customers "
            f"from rpt_revenue_{grain}ly"
        )
    }
    assert got == expected


def test_orders_and_average_order_value_by_month_equal_the_invoices(
    bi_run: BiRun, mf: Query
) -> None:
    got = {
        _day(row["metric_time__month"]): (int(row["orders"]), Decimal(row["average_order_value"]))
        for row in mf(["orders", "average_order_value"], ["metric_time__month"])
    }
    expected = bi_run.query(
        "select cast(date_trunc('month', invoice_date) as date), count(*), "
        "sum(gross_amount) / count(*) from fct_invoices where invoice_type = 'sale' group by 1"
    )
    assert set(got) == {month for month, _, _ in expected}
    for month, orders, average in expected:
        assert got[month][0] == orders
        assert abs(got[month][1] - Decimal(average)) < Decimal("0.000001"), month


def test_product_revenue_by_season_equals_the_seasonal_ranking(bi_run: BiRun, mf: Query) -> None:
    rows = mf(
        ["net_revenue", "units"],
        ["invoice_day__season_name", "product"],
        where="{{ Dimension('sales_line__product_category') }} = 'merchandise'",
    )
    got = {
        (row["invoice_day__season_name"], row["product"]): (
            _money(row["net_revenue"]),
            int(row["units"]),
        )
        for row in rows
    }
    expected = {
        (season, code): (net, units)
        for season, code, net, units in bi_run.query(
            "select season_name, stock_code, net_revenue, units from rpt_top_products_by_season"
        )
    }
    assert got == expected


def test_revenue_by_country_equals_the_country_report(bi_run: BiRun, mf: Query) -> None:
    got = {row["country"]: _money(row["net_revenue"]) for row in mf(["net_revenue"], ["country"])}
    assert got == dict(bi_run.query("select country_name, net_revenue from rpt_revenue_by_country"))
