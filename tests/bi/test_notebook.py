"""The analysts' notebook runs top to bottom on the run's warehouse (nbclient), and its
answers are the marts'."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from bi_support import PROJECT_DIR, BiRun

NOTEBOOK = PROJECT_DIR / "notebooks" / "online_retail_questions.ipynb"


@pytest.fixture(scope="module")
def executed(bi_run: BiRun) -> object:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel inherits this environment: DUCKDB_PATH names the run's warehouse
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DUCKDB_PATH", str(bi_run.warehouse))
        nbclient.NotebookClient(
            notebook, timeout=180, kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        ).execute()  # fmt: skip
    return notebook


def test_the_committed_notebook_has_no_outputs() -> None:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")


def test_every_cell_runs_and_the_chart_is_drawn(executed: object) -> None:
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(o.get("output_type") != "error" for c in code for o in c.outputs)
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1


def test_the_answers_are_the_marts(executed: object, bi_run: BiRun) -> None:
    text = executed.cells[-1].outputs[0]["text"]
    answers = json.loads(text)
    leaders: dict[str, set[str]] = {}
    for season, code in bi_run.query(
        "select season_name, stock_code from rpt_top_products_by_season where revenue_rank = 1"
    ):
        leaders.setdefault(season, set()).add(code)
    assert set(answers["best_seller_by_season"]) == set(leaders)
    for season, code in answers["best_seller_by_season"].items():
        assert code in leaders[season], season
    monthly = dict(bi_run.query("select period_start, net_revenue from rpt_revenue_monthly"))
    assert {
        month: Decimal(value).quantize(Decimal("0.001"))
        for month, value in answers["monthly_net_revenue"].items()
    } == {start.isoformat(): net for start, net in monthly.items()}
    quarterly = bi_run.query("select period_start, net_revenue from rpt_revenue_quarterly")
    assert {
        quarter: Decimal(value).quantize(Decimal("0.001"))
        for quarter, value in answers["quarterly_net_revenue"].items()
    } == {f"{start.year}-Q{(start.month - 1) // 3 + 1}": net for start, net in quarterly}
