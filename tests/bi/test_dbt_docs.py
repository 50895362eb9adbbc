"""The docs site that `online-retail run` generates (dbt docs generate --static): every
resource described, lineage from the lake to each BI exposure, and the single-file site
rendering offline in headless Chromium."""

from __future__ import annotations

import json
import shutil
from collections import deque
from pathlib import Path

import pytest
from bi_support import PROJECT_DIR, BiRun
from dom import Node, read_dom
from headless import dump_dom, screenshot

PACKAGE = "online_retail"
BI_EXPOSURES = (
    "exposure.online_retail.tableau_online_retail_workbook",
    "exposure.online_retail.quicksight_online_retail_dashboard",
)
# What the issue asks to be described (tests describe themselves by their names).
DESCRIBED_NODES = ("model", "seed", "snapshot")
LAKE_SOURCE = "source.online_retail.online_retail.invoice_lines"
LINEAGE_VIEW = (
    "g_v=1&g_i=%2Bexposure:quicksight_online_retail_dashboard"
    "%20%2Bexposure:tableau_online_retail_workbook"
    "&g_e=resource_type:test%20resource_type:unit_test"
)
SCREENSHOT_COPY = PROJECT_DIR / "target" / "bi-tests" / "docs_lineage.png"

# Appended to a copy of the site: once the lineage graph has been drawn, write what it
# shows (dbt docs' own graph service: the nodes and edges handed to cytoscape) into the DOM.
PROBE = """
<script>
setTimeout(function () {
  var service = angular.element(document.body).injector().get("graph");
  var shown = service.graph.elements.filter(function (e) {
    return e.data && e.data.display !== "none";
  });
  document.body.setAttribute("data-probe", JSON.stringify({
    nodes: shown.filter(function (e) { return e.data.unique_id; })
      .map(function (e) { return e.data.unique_id; }),
    edges: shown.filter(function (e) { return e.data.source && e.data.target; })
      .map(function (e) { return [e.data.source, e.data.target]; }),
    canvases: document.querySelectorAll("canvas").length
  }));
}, 3000);
</script>
"""


@pytest.fixture(scope="module")
def manifest(bi_run: BiRun) -> dict:
    return json.loads((bi_run.target / "manifest.json").read_text())


@pytest.fixture(scope="module")
def catalog(bi_run: BiRun) -> dict:
    return json.loads((bi_run.target / "catalog.json").read_text())


def _undescribed(manifest: dict, catalog: dict) -> list[str]:
    missing = []
    for uid, node in manifest["nodes"].items():
        if node["package_name"] != PACKAGE or node["resource_type"] not in DESCRIBED_NODES:
            continue
        if not node["description"].strip():
            missing.append(uid)
        # every column the warehouse really has, not only those the yml lists
        for column in catalog["nodes"].get(uid, {}).get("columns", {}).values():
            documented = node["columns"].get(column["name"].lower(), {})
            if not documented.get("description", "").strip():
                missing.append(f"{uid}.{column['name']}")
    for uid, source in manifest["sources"].items():
        if not source["description"].strip() or not source["source_description"].strip():
            missing.append(uid)
        for column in catalog["sources"].get(uid, {}).get("columns", {}).values():
            if not source["columns"].get(column["name"].lower(), {}).get("description"):
                missing.append(f"{uid}.{column['name']}")
    for uid, macro in manifest["macros"].items():
        if macro["package_name"] == PACKAGE and not macro["description"].strip():
            missing.append(uid)
    for kind in ("exposures", "metrics", "semantic_models"):
        for uid, item in manifest[kind].items():
            if not (item.get("description") or "").strip():
                missing.append(uid)
    for uid, model in manifest["semantic_models"].items():
        for part in ("entities", "dimensions", "measures"):
            missing += [
                f"{uid}.{item['name']}"
                for item in model[part]
                if not (item.get("description") or "").strip()
            ]
    return missing


def test_every_resource_and_column_has_a_description(manifest: dict, catalog: dict) -> None:
    kinds = {n["resource_type"] for n in manifest["nodes"].values()}
    assert {"model", "seed"} <= kinds
    assert manifest["sources"] and manifest["exposures"] and manifest["metrics"]
    assert _undescribed(manifest, catalog) == []


def test_lineage_runs_from_the_lake_through_staging_and_facts_to_each_bi_exposure(
    manifest: dict,
) -> None:
    parents = manifest["parent_map"]
    for exposure in BI_EXPOSURES:
        assert manifest["exposures"][exposure]["url"].startswith("https://")
        assert manifest["exposures"][exposure]["owner"]["email"]
        seen, queue = {exposure}, deque([exposure])
        while queue:
            for parent in parents.get(queue.popleft(), []):
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        assert LAKE_SOURCE in seen, exposure
        assert "model.online_retail.stg_online_retail__invoice_lines" in seen
        assert "model.online_retail.fct_sales_lines" in seen


@pytest.fixture(scope="module")
def site(bi_run: BiRun) -> Path:
    site = bi_run.target / "static_index.html"
    assert site.is_file()
    return site


def test_docs_site_draws_the_lineage_graph_up_to_both_exposures(site: Path, tmp_path: Path) -> None:
    probed = tmp_path / "static_index.html"
    probed.write_text(site.read_text("utf-8") + PROBE, encoding="utf-8")
    # the site's own graph view, selecting what feeds both dashboards (tests left out)
    url = f"{probed.as_uri()}#!/exposure/{BI_EXPOSURES[1]}?{LINEAGE_VIEW}"
    dom = read_dom(dump_dom(url, budget_ms=12_000))
    probe = json.loads(dom.body["data-probe"])
    assert probe["canvases"] >= 1  # cytoscape drew it
    children: dict[str, set[str]] = {}
    for source, target in probe["edges"]:
        children.setdefault(source, set()).add(target)
    reached, queue = {LAKE_SOURCE}, deque([LAKE_SOURCE])
    while queue:
        for child in children.get(queue.popleft(), set()) - reached:
            reached.add(child)
            queue.append(child)
    # the graph on screen connects the lake's source to both dashboards
    assert set(BI_EXPOSURES) <= reached
    shot = screenshot(url, tmp_path / "docs_lineage.png", width=1400, height=900)
    SCREENSHOT_COPY.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)


def test_docs_site_mart_page_lists_its_columns_and_tests(site: Path, catalog: dict) -> None:
    uid = "model.online_retail.fct_sales_lines"
    dom = read_dom(dump_dom(f"{site.as_uri()}#!/model/{uid}", budget_ms=15_000))
    rows = [n for n in dom.nodes if n.tag == "tr" and "column-row" in n.attrs.get("class", "")]

    def name(row: Node) -> str:
        return row.children[0].text.strip()  # the first cell holds the column's name

    shown = [name(row) for row in rows]
    expected = sorted(catalog["nodes"][uid]["columns"].values(), key=lambda c: c["index"])
    assert shown == [c["name"] for c in expected]
    tests_of = {name(row): _test_titles(row) for row in rows}
    assert {"Unique", "Not Null"} <= tests_of["event_id"]
    assert "Foreign Key" in tests_of["stock_code"]
    assert "Accepted Values" in tests_of["line_type"]


def _test_titles(row: Node) -> set[str]:
    titles, stack = set(), list(row.children)
    while stack:
        current = stack.pop()
        if current.tag == "span" and current.attrs.get("title"):
            titles.add(current.attrs["title"])
        stack.extend(current.children)
    return titles
