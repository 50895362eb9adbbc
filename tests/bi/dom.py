"""A small reading of a DOM dump (stdlib html.parser): every element that carries a
data-value or data-chart, with the chart it sits in and its text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "link", "br", "img", "input", "hr", "source", "area", "base", "col", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    chart: str | None  # data-chart of the enclosing figure
    text: str = ""
    children: list[Node] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[Node] = []
        self.nodes: list[Node] = []
        self.body: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = values
        parent_chart = self.stack[-1].chart if self.stack else None
        node = Node(tag, values, values.get("data-chart", parent_chart))
        if self.stack:
            self.stack[-1].children.append(node)
        self.nodes.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        # pop to the matching element (tolerates the odd unclosed tag)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node.text += data


@dataclass
class Dom:
    body: dict[str, str]
    nodes: list[Node]

    def find(self, **attrs: str) -> list[Node]:
        """Elements whose attributes (data_chart=... for data-chart) have these values."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [n for n in self.nodes if all(n.attrs.get(k) == v for k, v in wanted.items())]

    def marks(self, chart: str, series: str) -> dict[str, str]:
        """data-key -> data-value of a chart's SVG marks of one series."""
        return {
            n.attrs["data-key"]: n.attrs["data-value"]
            for n in self.nodes
            if n.chart == chart
            and n.tag in ("rect", "circle")
            and n.attrs.get("data-series") == series
        }

    def table(self, chart: str) -> dict[str, dict[str, str]]:
        """data-key -> {data-field: shown text} of the table rows inside a chart."""
        return {
            row.attrs["data-key"]: {
                cell.attrs["data-field"]: cell.text
                for cell in row.children
                if "data-field" in cell.attrs
            }
            for row in self.nodes
            if row.chart == chart and row.tag == "tr" and "data-key" in row.attrs
        }


def read_dom(html: str) -> Dom:
    reader = _Reader()
    reader.feed(html)
    return Dom(reader.body, reader.nodes)
