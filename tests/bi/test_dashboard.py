"""The offline dashboard that `online-retail run` writes: one self-contained page whose
charts render in headless Chromium with the marts' figures, checked against the test's own
queries of the warehouse (and of the slice it was built from)."""

from __future__ import annotations

import dataclasses
import re
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from bi_support import PROJECT_DIR, BiRun
from dom import Dom, read_dom
from headless import dump_dom, screenshot

from bi.charts import PNG_NAMES, write_pngs
from bi.dashboard import render_dashboard
from bi.marts import load_dashboard_data

CHARTS = {
    "revenue-weekly", "revenue-monthly", "revenue-quarterly",
    "top-products", "revenue-by-country", "ingestion",
}  # fmt: skip
SERIES = ("gross_sales", "returns", "adjustments", "net_revenue")
# Where people look at the screenshot (target/ is git-ignored build output).
SCREENSHOT_COPY = PROJECT_DIR / "target" / "bi-tests" / "dashboard.png"


def pounds(value: Decimal) -> str:
    """How the page must show an amount: to the penny, half away from zero, £ sign."""
    q = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"-£{-q:,.2f}" if q.is_signed() else f"£{q:,.2f}"


def as_decimals(marks: dict[str, str]) -> dict[str, Decimal]:
    return {key: Decimal(value) for key, value in marks.items()}


@pytest.fixture(scope="module")
def page(bi_run: BiRun) -> Path:
    return bi_run.target / "bi" / "online_retail_dashboard.html"


@pytest.fixture(scope="module")
def dom(page: Path) -> Dom:
    return read_dom(dump_dom(page.as_uri()))


def test_the_run_writes_one_self_contained_dashboard(bi_run: BiRun, page: Path) -> None:
    assert page.is_file() and "dashboard" in page.name
    assert str(page) in bi_run.stdout
    html = page.read_text("utf-8")
    # nothing is fetched: no script/style/image by reference, no URL but SVG's namespace
    assert not re.search(r"<script[^>]*\ssrc=|<link\b|<img\b|@import|url\(", html)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg"}


def test_every_chart_renders_with_data(dom: Dom) -> None:
    assert dom.body.get("data-rendered") == "true", dom.body.get("data-error")
    figures = {n.attrs["data-chart"]: n for n in dom.nodes if "data-chart" in n.attrs}
    assert set(figures) == CHARTS
    for name, figure in figures.items():
        assert int(figure.attrs["data-marks"]) > 0, name


@pytest.mark.parametrize("grain", ["weekly", "monthly", "quarterly"])
def test_revenue_charts_and_tables_show_the_marts(bi_run: BiRun, dom: Dom, grain: str) -> None:
    rows = bi_run.query(
        f"select period_start, {', '.join(SERIES)}, invoices from rpt_revenue_{grain}"
    )
    assert rows
    chart = f"revenue-{grain}"
    for i, series in enumerate(SERIES, start=1):
        expected = {row[0].isoformat(): row[i] for row in rows}
        assert as_decimals(dom.marks(chart, series)) == expected, series
    cells = dom.table(chart)
    for start, gross, returns, adjustments, net, invoices in rows:
        shown = cells[start.isoformat()]
        assert shown["gross_sales"] == pounds(gross)
        assert shown["returns"] == pounds(returns)
        assert shown["adjustments"] == pounds(adjustments)
        assert shown["net_revenue"] == pounds(net)
        assert shown["invoices"] == f"{invoices:,}"


def test_top_products_and_countries_show_the_marts(bi_run: BiRun, dom: Dom) -> None:
    products = bi_run.query(
        "select season_start, stock_code, net_revenue from rpt_top_products_by_season "
        "where revenue_rank <= 5"
    )
    assert as_decimals(dom.marks("top-products", "net_revenue")) == {
        f"{start.isoformat()}/{code}": revenue for start, code, revenue in products
    }
    abroad = bi_run.query(
        "select country_name, net_revenue from rpt_revenue_by_country "
        "where country_name <> 'United Kingdom' order by net_revenue desc, country_name limit 15"
    )
    assert as_decimals(dom.marks("revenue-by-country", "net_revenue")) == dict(abroad)
    every_country = bi_run.query("select country_name, net_revenue from rpt_revenue_by_country")
    shown = {key: row["net_revenue"] for key, row in dom.table("revenue-by-country").items()}
    assert shown == {country: pounds(net) for country, net in every_country}


def test_headline_figures_equal_the_sales_lines(bi_run: BiRun, dom: Dom) -> None:
    # the metric definitions, written here against the line-grain fact
    net, gross, returns, orders, customers, units = bi_run.query(
        """
        select
            sum(line_amount),
            sum(line_amount) filter (where line_type = 'sale'),
            sum(line_amount) filter (where line_type = 'cancellation'),
            count(distinct invoice_no) filter (where line_type = 'sale'),
            count(distinct customer_id),
            sum(quantity) filter (where is_product)
        from fct_sales_lines
        """
    )[0]
    tiles = {n.attrs["data-metric"]: n for n in dom.find(**{"class": "kpi"})}
    shown = {metric: tile.children[1].text for metric, tile in tiles.items()}
    assert shown["net_revenue"] == pounds(net)
    assert shown["gross_sales"] == pounds(gross)
    assert shown["returns"] == pounds(returns)
    assert shown["orders"] == f"{orders:,}"
    assert shown["customers"] == f"{customers:,}"
    assert shown["units"] == f"{units:,}"
    assert shown["average_order_value"] == pounds(gross / orders)


def test_ingestion_counts_are_the_runs(bi_run: BiRun, dom: Dom, slice_lines: list[str]) -> None:
    rows_in, landed, quarantined = bi_run.query(
        "select sum(rows_in), sum(rows_landed), sum(rows_quarantined) "
        "from stg_online_retail__batch_manifests"
    )[0]
    assert rows_in == len(slice_lines) - 1 == landed + quarantined  # the header is no row
    assert quarantined == 1  # the line conftest broke
    tiles = {n.attrs["data-metric"]: n.children[1].text for n in dom.find(**{"class": "kpi"})}
    assert tiles["rows_in"] == f"{rows_in:,}"
    assert tiles["rows_landed"] == f"{landed:,}"
    assert tiles["rows_quarantined"] == f"{quarantined:,}"
    assert tiles["source_files"] == "1"
    assert as_decimals(dom.marks("ingestion", "rows_landed")) == {"all": landed}
    assert as_decimals(dom.marks("ingestion", "rows_quarantined")) == {"all": quarantined}
    notes = [n.text for n in dom.nodes if n.chart == "ingestion" and n.tag == "p"]
    assert notes == ["Quarantined by field: Quantity 1"]


def test_screenshot_of_the_dashboard(page: Path, dom: Dom) -> None:
    from PIL import Image

    shot = screenshot(page.as_uri(), page.with_name("dashboard.png"))
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    # drawn charts, not a blank or error page: the palette's colours and many more
    assert colours is not None and len(colours) > 50
    SCREENSHOT_COPY.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)


def test_markup_in_the_data_cannot_break_the_page(bi_run: BiRun, tmp_path: Path) -> None:
    data = load_dashboard_data(bi_run.warehouse)
    hostile = '</script><script>document.body.dataset.rendered="broken"</script>&amp;'
    first = dataclasses.replace(data.top_products[0], description=hostile)
    page = tmp_path / "dashboard.html"
    page.write_text(
        render_dashboard(dataclasses.replace(data, top_products=[first, *data.top_products[1:]])),
        encoding="utf-8",
    )
    dom = read_dom(dump_dom(page.as_uri()))
    assert dom.body.get("data-rendered") == "true"
    titles = [n.text for n in dom.nodes if n.chart == "top-products" and n.tag == "title"]
    assert any(hostile in title for title in titles)


def test_pngs_of_the_charts(bi_run: BiRun, tmp_path: Path) -> None:
    from PIL import Image

    written = write_pngs(load_dashboard_data(bi_run.warehouse), tmp_path)
    assert sorted(p.name for p in written) == sorted(PNG_NAMES.values())
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width >= 1000
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20, path.name
