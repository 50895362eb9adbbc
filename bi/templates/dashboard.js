// Draws the dashboard from the JSON data island above: plain DOM and SVG, no library, so
// the page works from file:// with no network. Every mark carries data-key / data-value
// (the exact mart value, as a decimal string) so a test can compare it to the warehouse.
"use strict";

const DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
const SVG_NS = "http://www.w3.org/2000/svg";

// Intl.NumberFormat formats decimal strings exactly (no trip through a float), rounding
// half away from zero: the displayed pence are the mart's value rounded, nothing else.
const MONEY = new Intl.NumberFormat("en-GB", {
  style: "currency", currency: "GBP", minimumFractionDigits: 2, maximumFractionDigits: 2,
});
const COUNT = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 });
const COMPACT = new Intl.NumberFormat("en-GB", {
  style: "currency", currency: "GBP", notation: "compact", maximumFractionDigits: 1,
});
const money = (v) => MONEY.format(v);
const count = (v) => COUNT.format(v);

function el(tag, attrs, parent, text) {
  const node = ["svg", "g", "rect", "line", "path", "circle", "text", "title"].includes(tag)
    ? document.createElementNS(SVG_NS, tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

// A linear scale and round tick values for the y axis.
function scale(d0, d1, r0, r1) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}
function ticks(lo, hi, n) {
  const span = hi - lo || 1;
  const raw = span / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= n) || mag * 10;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) {
    out.push(Math.abs(v) < step / 1e6 ? 0 : v);  // no "-£0" from float steps
  }
  return out;
}

function legend(parent, items) {
  const box = el("div", { class: "legend" }, parent);
  for (const [label, color] of items) {
    const item = el("span", {}, box);
    el("i", { style: `background:${color}` }, item);
    item.appendChild(document.createTextNode(label));
  }
}

function table(parent, name, columns, rows) {
  const details = el("details", {}, parent);
  el("summary", {}, details, "Figures");
  const t = el("table", { "data-table": name }, details);
  const head = el("tr", {}, el("thead", {}, t));
  for (const [label] of columns) el("th", {}, head, label);
  const body = el("tbody", {}, t);
  for (const row of rows) {
    const tr = el("tr", { "data-key": row.key }, body);
    for (const [, field, format] of columns) {
      el("td", { "data-field": field, "data-value": row[field] }, tr, format(row[field]));
    }
  }
}

const SERIES = [
  ["gross_sales", "Gross sales", "var(--gross)"],
  ["returns", "Returns", "var(--returns)"],
  ["adjustments", "Adjustments", "var(--adjustments)"],
];

// Columns above and below zero (gross up; returns and adjustments down when negative) and
// net revenue as a line, one x band per period.
function revenueChart(figure, periods, labelEvery) {
  legend(figure, [...SERIES.map(([, l, c]) => [l, c]), ["Net revenue", "var(--net)"]]);
  const W = 1120, H = 320, L = 78, R = 28, T = 12, B = 44;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" }, figure);
  const num = (p, f) => Number(p[f]);
  const up = periods.map((p) => num(p, "gross_sales") + Math.max(num(p, "adjustments"), 0));
  const down = periods.map((p) => num(p, "returns") + Math.min(num(p, "adjustments"), 0));
  const lo = Math.min(0, ...down), hi = Math.max(0, ...up, ...periods.map((p) => num(p, "net_revenue")));
  const pad = (hi - lo) * 0.04;  // headroom so the tallest bar does not touch the frame
  const y = scale(lo - (lo < 0 ? pad : 0), hi + pad, H - B, T);
  const band = (W - L - R) / Math.max(periods.length, 1);
  const grid = el("g", { class: "grid" }, svg);
  for (const v of ticks(lo, hi, 6)) {
    el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v) }, grid);
    el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, grid, COMPACT.format(v));
  }
  el("line", { class: "zero", x1: L, x2: W - R, y1: y(0), y2: y(0) }, svg);
  const bars = el("g", {}, svg);
  const netPoints = [];
  periods.forEach((p, i) => {
    const x = L + i * band + band * 0.15, w = band * 0.7;
    let top = 0, bottom = 0;  // running stack ends above and below zero
    for (const [field, label, color] of SERIES) {
      const v = num(p, field);
      const from = v >= 0 ? top : bottom, to = from + v;
      if (v >= 0) top = to; else bottom = to;
      const rect = el("rect", {
        x, width: w, y: Math.min(y(from), y(to)), height: Math.abs(y(to) - y(from)),
        fill: color, "data-series": field, "data-key": p.key, "data-value": p[field],
      }, bars);
      el("title", {}, rect, `${p.label} ${label}: ${money(p[field])}`);
    }
    netPoints.push([x + w / 2, y(num(p, "net_revenue"))]);
    if (i % labelEvery === 0) {
      el("text", { x: x + w / 2, y: H - B + 16, "text-anchor": "middle" }, svg, p.label);
    }
  });
  el("path", {
    d: netPoints.map(([px, py], i) => `${i ? "L" : "M"}${px},${py}`).join(""),
    fill: "none", stroke: "var(--net)", "stroke-width": 2,
  }, svg);
  periods.forEach((p, i) => {
    const dot = el("circle", {
      cx: netPoints[i][0], cy: netPoints[i][1], r: 3, fill: "var(--net)",
      "data-series": "net_revenue", "data-key": p.key, "data-value": p.net_revenue,
    }, svg);
    el("title", {}, dot, `${p.label} net revenue: ${money(p.net_revenue)}`);
  });
  table(figure, figure.dataset.chart, [
    ["Period", "label", String],
    ["Gross sales", "gross_sales", money],
    ["Returns", "returns", money],
    ["Adjustments", "adjustments", money],
    ["Net revenue", "net_revenue", money],
    ["Invoices", "invoices", count],
    ["Customers", "customers", count],
  ], periods);
}

// Horizontal bars with the label on the left and the formatted value on the right.
function barList(parent, items, width, L) {
  const row = 24, R = 100, H = items.length * row + 6;
  const svg = el("svg", { viewBox: `0 0 ${width} ${H}`, role: "img" }, parent);
  const max = Math.max(...items.map((d) => Number(d.value)), 0);
  const x = scale(0, max || 1, 0, width - L - R);
  items.forEach((d, i) => {
    const top = 3 + i * row;
    const room = Math.floor(L / 7.6);  // characters that fit left of the bars (11px caps)
    const label = d.label.length > room ? d.label.slice(0, room - 1) + "…" : d.label;
    el("text", { x: L - 8, y: top + 15, "text-anchor": "end" }, svg, label);
    const rect = el("rect", {
      x: L, y: top + 3, height: row - 8, width: Math.max(x(Math.max(Number(d.value), 0)), 1),
      fill: "var(--bar)", "data-series": "net_revenue", "data-key": d.key, "data-value": d.value,
    }, svg);
    el("title", {}, rect, `${d.label}: ${money(d.value)}`);
    el("text", {
      class: "value-label", x: L + Math.max(x(Math.max(Number(d.value), 0)), 1) + 6, y: top + 15,
      "data-key": d.key,
    }, svg, money(d.value));
  });
}

function topProducts(figure) {
  const grid = el("div", { class: "seasons" }, figure);
  for (const season of DATA.seasons) {
    const panel = el("div", { "data-season": season.start }, grid);
    el("h3", {}, panel, season.label);
    barList(panel, season.products.map((p) => ({
      key: `${season.start}/${p.stock_code}`,
      label: `${p.rank}. ${p.description || p.stock_code}`,
      value: p.net_revenue,
    })), 560, 250);
  }
}

function countries(figure) {
  const all = DATA.countries;
  const home = all.find((c) => c.country_name === DATA.home_country);
  const abroad = all.filter((c) => c !== home);
  if (home) {
    el("p", { class: "note", "data-key": home.country_name, "data-value": home.net_revenue }, figure,
      `${home.display_name}: ${money(home.net_revenue)} (${DATA.home_share} of net revenue). ` +
      `The ${abroad.length} other countries, largest first:`);
  }
  barList(figure, abroad.slice(0, DATA.top_countries).map((c) => ({
    key: c.country_name, label: c.display_name, value: c.net_revenue,
  })), 1120, 230);
  table(figure, "revenue-by-country", [
    ["Country", "display_name", String],
    ["Region", "region", String],
    ["Gross sales", "gross_sales", money],
    ["Returns", "returns", money],
    ["Net revenue", "net_revenue", money],
    ["Invoices", "invoices", count],
    ["Customers", "customers", count],
  ], all.map((c) => ({ ...c, key: c.country_name })));
}

function kpiTiles(parent, tiles) {
  for (const [metric, label, value, format] of tiles) {
    const tile = el("div", { class: "kpi", "data-metric": metric, "data-value": value }, parent);
    el("div", { class: "label" }, tile, label);
    el("div", { class: "value" }, tile, format(value));
  }
}

function ingestion(figure) {
  const run = DATA.ingestion;
  const tiles = el("div", { class: "kpis" }, figure);
  kpiTiles(tiles, [
    ["rows_in", "Source lines read", run.rows_in, count],
    ["rows_landed", "Landed in the lake", run.rows_landed, count],
    ["rows_quarantined", "Quarantined", run.rows_quarantined, count],
    ["source_files", "Source files", run.files.length, count],
  ]);
  // One bar: landed and quarantined side by side, adding up to the lines read.
  const W = 1120, H = 34, x = scale(0, run.rows_in || 1, 0, W);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", style: "margin-top:10px" }, figure);
  let at = 0;
  for (const [field, color] of [["rows_landed", "var(--bar)"], ["rows_quarantined", "var(--returns)"]]) {
    const rect = el("rect", {
      x: x(at), y: 4, height: H - 8, width: x(run[field]), fill: color,
      "data-series": field, "data-key": "all", "data-value": run[field],
    }, svg);
    el("title", {}, rect, `${field.replace("rows_", "")}: ${count(run[field])}`);
    at += run[field];
  }
  const reasons = Object.entries(run.quarantine_reasons);
  el("p", { class: "note" }, figure, reasons.length
    ? "Quarantined by field: " + reasons.map(([f, n]) => `${f} ${count(n)}`).join(", ")
    : "No line was quarantined.");
  table(figure, "ingestion", [
    ["Source file", "source_file", String],
    ["Lines read", "rows_in", count],
    ["Landed", "rows_landed", count],
    ["Quarantined", "rows_quarantined", count],
    ["Finished", "finished_at", String],
  ], run.files.map((f) => ({ ...f, key: f.source_file })));
  figure.querySelector("details").open = true;
}

function render() {
  const h = DATA.headline;
  document.getElementById("subtitle").textContent =
    `${DATA.first_day} to ${DATA.last_day} · amounts in pounds sterling · read from the dbt marts`;
  kpiTiles(document.getElementById("kpis"), [
    ["net_revenue", "Net revenue", h.net_revenue, money],
    ["gross_sales", "Gross sales", h.gross_sales, money],
    ["returns", "Returns", h.returns, money],
    ["orders", "Orders", h.orders, count],
    ["customers", "Customers", h.customers, count],
    ["average_order_value", "Average order value", h.average_order_value, money],
    ["units", "Units", h.units, count],
  ]);
  const chart = (name) => document.querySelector(`figure[data-chart="${name}"]`);
  revenueChart(chart("revenue-weekly"), DATA.revenue.weekly, 4);
  revenueChart(chart("revenue-monthly"), DATA.revenue.monthly, 1);
  revenueChart(chart("revenue-quarterly"), DATA.revenue.quarterly, 1);
  topProducts(chart("top-products"));
  countries(chart("revenue-by-country"));
  ingestion(chart("ingestion"));
  document.getElementById("footer").textContent =
    `Generated ${DATA.generated_at} from ${DATA.warehouse}. Definitions: dbt docs (make docs).`;
  for (const figure of document.querySelectorAll("figure[data-chart]")) {
    figure.dataset.marks = figure.querySelectorAll("svg [data-value]").length;
  }
  document.body.dataset.rendered = "true";
}

try {
  render();
} catch (error) {
  // Say so on the page (and to a test reading the DOM) instead of leaving it half drawn.
  document.body.dataset.rendered = "error";
  document.body.dataset.error = String(error && error.stack || error);
  throw error;
}
