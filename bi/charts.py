"""Static PNGs of the dashboard's charts (for the README), drawn with matplotlib from the
same figures as the HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bi.dashboard import HOME_COUNTRY, period_label
from bi.marts import TOP_COUNTRIES, DashboardData, Period

if TYPE_CHECKING:  # matplotlib is imported lazily: only this module draws
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# The dashboard's palette (templates/dashboard.css), so the PNGs look like the page.
GROSS, RETURNS, ADJUSTMENTS, NET, BAR = "#2f6f9f", "#c8553d", "#8d8d8d", "#1b1b1b", "#3f8f6b"

PNG_NAMES = {
    "weekly": "revenue_weekly.png",
    "monthly": "revenue_monthly.png",
    "quarterly": "revenue_quarterly.png",
    "top_products": "top_products_by_season.png",
    "countries": "revenue_by_country.png",
}


def _pounds(value: float, _position: object = None) -> str:
    if abs(value) >= 1e6:
        return f"£{value / 1e6:.1f}M"
    if abs(value) >= 1e3:
        return f"£{value / 1e3:.0f}k"
    return f"£{value:.0f}"


def _revenue(ax: Axes, grain: str, periods: list[Period]) -> None:
    from matplotlib.ticker import FuncFormatter

    xs = range(len(periods))
    gross = [float(p.gross_sales) for p in periods]
    returns = [float(p.returns) for p in periods]
    adjustments = [float(p.adjustments) for p in periods]
    ax.bar(xs, gross, color=GROSS, label="Gross sales")
    ax.bar(xs, returns, color=RETURNS, label="Returns")
    # adjustments stack below the returns when negative, above the gross when positive
    base = [g if a >= 0 else r for g, r, a in zip(gross, returns, adjustments, strict=True)]
    ax.bar(xs, adjustments, bottom=base, color=ADJUSTMENTS, label="Adjustments")
    ax.plot(xs, [float(p.net_revenue) for p in periods], color=NET, marker="o", markersize=3,
            label="Net revenue")  # fmt: skip
    ax.axhline(0, color="#98a2ad", linewidth=0.8)
    # explicit limits: bars with a `bottom` can fall outside matplotlib's autoscaled range
    hi = max([g + max(a, 0) for g, a in zip(gross, adjustments, strict=True)] + [0])
    lo = min([r + min(a, 0) for r, a in zip(returns, adjustments, strict=True)] + [0])
    pad = (hi - lo) * 0.08 or 1
    ax.set_ylim(lo - pad, hi + pad)
    every = 4 if grain == "weekly" else 1
    ax.set_xticks(list(xs)[::every], [period_label(grain, p.start) for p in periods][::every])
    ax.tick_params(axis="x", labelrotation=45 if grain == "weekly" else 0, labelsize=8)
    ax.yaxis.set_major_formatter(FuncFormatter(_pounds))
    ax.grid(axis="y", color="#d8dde3")
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", ncols=4, frameon=False, fontsize=8)
    ax.set_title(f"{grain.capitalize()} revenue: gross sales, returns and net revenue", loc="left")


def write_pngs(data: DashboardData, out_dir: str | Path) -> list[Path]:
    """One PNG per chart of the dashboard; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig: Figure, key: str) -> None:
        path = out / PNG_NAMES[key]
        fig.tight_layout()
        # no timestamps in the metadata, so a re-run on the same data writes the same bytes
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)
        written.append(path)

    for grain in ("weekly", "monthly", "quarterly"):
        fig, ax = plt.subplots(figsize=(11, 4))
        _revenue(ax, grain, getattr(data, grain))
        save(fig, grain)

    seasons: dict[str, list] = {}
    for product in data.top_products:
        seasons.setdefault(product.season_label, []).append(product)
    fig, axes = plt.subplots(len(seasons), 1, figsize=(11, 2.1 * max(len(seasons), 1)))
    for ax, (label, products) in zip(
        axes if len(seasons) > 1 else [axes], seasons.items(), strict=True
    ):
        names = [f"{p.revenue_rank}. {p.description or p.stock_code}" for p in products]
        values = [float(p.net_revenue) for p in products]
        ax.barh(names[::-1], values[::-1], color=BAR)
        ax.xaxis.set_major_formatter(FuncFormatter(_pounds))
        ax.tick_params(labelsize=8)
        ax.set_title(label, loc="left", fontsize=10)
    fig.suptitle("Top products per season by net revenue", x=0.01, ha="left")
    save(fig, "top_products")

    abroad = [c for c in data.countries if c.country_name != HOME_COUNTRY][:TOP_COUNTRIES]
    home = next((c for c in data.countries if c.country_name == HOME_COUNTRY), None)
    fig, ax = plt.subplots(figsize=(11, 5))
    ax.barh([c.display_name for c in abroad][::-1],
            [float(c.net_revenue) for c in abroad][::-1], color=BAR)  # fmt: skip
    ax.xaxis.set_major_formatter(FuncFormatter(_pounds))
    ax.tick_params(labelsize=8)
    note = ""
    if home is not None and data.headline.net_revenue:
        share = home.net_revenue / data.headline.net_revenue
        note = f" (the UK, not shown: {_pounds(float(home.net_revenue))}, {share:.1%})"
    ax.set_title(f"Net revenue by country outside the UK{note}", loc="left")
    save(fig, "countries")
    return written
