"""The offline dashboard: one self-contained HTML file drawn from the marts.

The page holds its data as a JSON island and draws the charts with a small inline script
(templates/dashboard.js): no CDN, no external script or style, so it opens from file://
with no network. Amounts travel as decimal strings, so the page shows the marts' values
exactly (rounded to the penny only when displayed).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from bi.marts import (
    TOP_COUNTRIES,
    DashboardData,
    Period,
    load_dashboard_data,
)

HOME_COUNTRY = "United Kingdom"
DASHBOARD_FILE_NAME = "online_retail_dashboard.html"


TEMPLATES_DIR = Path(__file__).parent / "templates"


def _template(name: str) -> str:
    return (TEMPLATES_DIR / name).read_text("utf-8")


def _plain(value: object) -> object:
    """JSON-ready values: decimals as exact strings, dates in ISO form."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def period_label(grain: str, start: date) -> str:
    """How a period is named on the charts: ISO week, month or quarter."""
    if grain == "weekly":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "monthly":
        return start.strftime("%b %Y")
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def _periods(grain: str, periods: list[Period]) -> list[dict[str, object]]:
    return [
        {"key": p.start.isoformat(), "label": period_label(grain, p.start), **asdict(p)}
        for p in periods
    ]


def dashboard_payload(data: DashboardData, generated_at: datetime | None = None) -> dict:
    """The JSON the page draws from (also what a test can read back)."""
    seasons: dict[date, dict[str, object]] = {}
    for product in data.top_products:
        season = seasons.setdefault(
            product.season_start,
            {"start": product.season_start, "label": product.season_label, "products": []},
        )
        season["products"].append(
            {
                "rank": product.revenue_rank,
                "stock_code": product.stock_code,
                "description": product.description,
                "net_revenue": product.net_revenue,
                "units": product.units,
            }
        )
    total = data.headline.net_revenue
    home = next((c for c in data.countries if c.country_name == HOME_COUNTRY), None)
    share = f"{home.net_revenue / total:.1%}" if home and total else "n/a"
    days = [p.start for p in data.monthly] + [p.end for p in data.monthly]
    payload = {
        "warehouse": data.warehouse,
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "first_day": min(days) if days else None,
        "last_day": max(days) if days else None,
        "headline": {
            **asdict(data.headline),
            "average_order_value": data.headline.average_order_value.quantize(Decimal("0.001")),
        },
        "revenue": {
            "weekly": _periods("weekly", data.weekly),
            "monthly": _periods("monthly", data.monthly),
            "quarterly": _periods("quarterly", data.quarterly),
        },
        "seasons": list(seasons.values()),
        "countries": [asdict(c) for c in data.countries],
        "home_country": HOME_COUNTRY,
        "home_share": share,
        "top_countries": TOP_COUNTRIES,
        "ingestion": {
            "rows_in": data.rows_in,
            "rows_landed": data.rows_landed,
            "rows_quarantined": data.rows_quarantined,
            "files": [asdict(f) for f in data.source_files],
            "quarantine_reasons": data.quarantine_reasons,
        },
    }
    return _plain(payload)


def render_dashboard(data: DashboardData, generated_at: datetime | None = None) -> str:
    """The whole page as one string."""
    # "</" inside the JSON island would end the <script> element early.
    island = json.dumps(dashboard_payload(data, generated_at), ensure_ascii=False)
    island = island.replace("</", "<\\/").replace("<!--", "<\\!--")
    page = _template("dashboard.html")
    for marker, text in (
        ("/*STYLE*/", _template("dashboard.css")),
        ("/*SCRIPT*/", _template("dashboard.js")),
        ("/*DATA*/", island),
    ):
        page = page.replace(marker, text, 1)
    return page


def write_dashboard(warehouse: str | Path, out_dir: str | Path) -> Path:
    """Read the marts and write the dashboard into out_dir; returns the file's path."""
    path = Path(out_dir) / DASHBOARD_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_dashboard(load_dashboard_data(warehouse)), encoding="utf-8")
    return path
