"""Read the figures the dashboards show from the dbt marts in the DuckDB warehouse.

The SQL here only selects and orders: every figure is computed once, by dbt, so the HTML
dashboard, its PNGs and the notebook show exactly what Tableau and QuickSight read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from bi.warehouse import open_warehouse, table

# How many products per season and countries the charts show (tables list them all).
TOP_PRODUCTS_PER_SEASON = 5
TOP_COUNTRIES = 15


@dataclass(frozen=True)
class Period:
    """One row of rpt_revenue_weekly / monthly / quarterly."""

    start: date
    end: date
    gross_sales: Decimal
    returns: Decimal
    adjustments: Decimal
    net_revenue: Decimal
    invoices: int
    customers: int
    units: int


@dataclass(frozen=True)
class SeasonProduct:
    """One product of rpt_top_products_by_season within the top of its season."""

    season_start: date
    season_label: str
    revenue_rank: int
    stock_code: str
    description: str | None
    net_revenue: Decimal
    units: int


@dataclass(frozen=True)
class CountryRevenue:
    """One row of rpt_revenue_by_country."""

    country_name: str
    display_name: str
    region: str
    gross_sales: Decimal
    returns: Decimal
    net_revenue: Decimal
    invoices: int
    customers: int


@dataclass(frozen=True)
class SourceFile:
    """One batch manifest: a source file's line counts."""

    source_file: str
    rows_in: int
    rows_landed: int
    rows_quarantined: int
    finished_at: datetime | None


@dataclass(frozen=True)
class Headline:
    """Whole-period totals, with the definitions of the dbt semantic layer's metrics."""

    gross_sales: Decimal
    returns: Decimal
    adjustments: Decimal
    net_revenue: Decimal
    orders: int  # sale invoices
    customers: int  # distinct known customers with any line
    units: int

    @property
    def average_order_value(self) -> Decimal:
        """Gross sales per sale invoice (the `average_order_value` metric)."""
        return self.gross_sales / self.orders if self.orders else Decimal(0)


@dataclass(frozen=True)
class DashboardData:
    warehouse: str
    headline: Headline
    weekly: list[Period]
    monthly: list[Period]
    quarterly: list[Period]
    top_products: list[SeasonProduct]
    countries: list[CountryRevenue]
    source_files: list[SourceFile]
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return sum(f.rows_in for f in self.source_files)

    @property
    def rows_landed(self) -> int:
        return sum(f.rows_landed for f in self.source_files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.source_files)


def _periods(con: duckdb.DuckDBPyConnection, relation: str) -> list[Period]:
    rows = con.execute(
        "select period_start, period_end, gross_sales, returns, adjustments, net_revenue, "
        f"invoices, customers, units from {relation} order by period_start"
    ).fetchall()
    return [Period(*row) for row in rows]


def load_dashboard_data(warehouse: str | Path) -> DashboardData:
    """Everything the dashboard shows, read from the marts of one warehouse file."""
    warehouse = str(warehouse)
    with open_warehouse(warehouse) as con:

        def t(name: str) -> str:
            return table(con, warehouse, name)

        headline_row = con.execute(
            f"""
            select
                coalesce(sum(gross_amount), 0),
                coalesce(sum(returns_amount), 0),
                coalesce(sum(adjustments_amount), 0),
                coalesce(sum(net_amount), 0),
                count(*) filter (where invoice_type = 'sale'),
                (select count(distinct customer_id) from {t("fct_sales_lines")}),
                coalesce(sum(units), 0)
            from {t("fct_invoices")}
            """
        ).fetchone()
        top = con.execute(
            f"""
            select
                season_start, season_name, revenue_rank, stock_code, description,
                net_revenue, units
            from {t("rpt_top_products_by_season")}
            where revenue_rank <= ?
            order by season_start, revenue_rank, stock_code
            """,
            [TOP_PRODUCTS_PER_SEASON],
        ).fetchall()
        countries = con.execute(
            "select country_name, display_name, region, gross_sales, returns, net_revenue, "
            f"invoices, customers from {t('rpt_revenue_by_country')} "
            "order by net_revenue desc, country_name"
        ).fetchall()
        files = con.execute(
            "select source_file, rows_in, rows_landed, rows_quarantined, "
            f"cast(finished_at as timestamp) from {t('stg_online_retail__batch_manifests')} "
            "order by source_file"
        ).fetchall()
        reasons = con.execute(
            f"select failed_field, count(*) from {t('stg_online_retail__quarantined_lines')} "
            "group by failed_field order by count(*) desc, failed_field"
        ).fetchall()
        return DashboardData(
            warehouse=warehouse,
            headline=Headline(*headline_row),
            weekly=_periods(con, t("rpt_revenue_weekly")),
            monthly=_periods(con, t("rpt_revenue_monthly")),
            quarterly=_periods(con, t("rpt_revenue_quarterly")),
            top_products=[SeasonProduct(*row) for row in top],
            countries=[CountryRevenue(*row) for row in countries],
            source_files=[SourceFile(*row) for row in files],
            quarantine_reasons=dict(reasons),
        )
