"""The run's summary for the terminal: line counts and net revenue by quarter, read
from the marts (what `online-retail run` and `online-retail summary` print)."""

from __future__ import annotations

from pathlib import Path

from bi.warehouse import open_warehouse, table


def summary(warehouse: str | Path) -> str:
    """Counts and net revenue by quarter, read from the marts."""
    with open_warehouse(warehouse) as con:
        rows_in, landed, quarantined = con.execute(
            f"select sum(rows_in), sum(rows_landed), sum(rows_quarantined) "
            f"from {table(con, warehouse, 'stg_online_retail__batch_manifests')}"
        ).fetchone()
        quarters = con.execute(
            f"select period_start, gross_sales, returns, adjustments, net_revenue "
            f"from {table(con, warehouse, 'rpt_revenue_quarterly')} order by period_start"
        ).fetchall()
    lines = [
        f"  rows in {rows_in:,} = landed {landed:,} + quarantined {quarantined:,}",
        "  quarter      gross sales      returns  adjustments   net revenue",
    ]
    for start, gross, returns, adjustments, net in quarters:
        label = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        lines.append(
            f"  {label}  {gross:>14,.2f} {returns:>12,.2f} {adjustments:>12,.2f} {net:>13,.2f}"
        )
    total = sum(q[4] for q in quarters)
    lines.append(f"  total    {'':>14} {'':>12} {'':>12} {total:>13,.2f}")
    return "\n".join(lines)
