"""Tableau's Redshift data source: filled in from the environment, no secret written, and
every table and column it names exists in the marts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from bi_support import BiRun

from bi.tableau import render_tds
from ingestion.errors import OnlineRetailError

ENV = {
    "REDSHIFT_HOST": "online-retail.123456789012.eu-west-2.redshift-serverless.amazonaws.com",
    "REDSHIFT_USER": "bi_reader",
    "REDSHIFT_PASSWORD": "not-to-be-written",
    "REDSHIFT_SCHEMA": "marts",
}


@pytest.fixture(scope="module")
def tds() -> ET.Element:
    return ET.fromstring(render_tds(ENV).encode("utf-8"))


def test_connection_comes_from_the_environment_and_holds_no_secret(tds: ET.Element) -> None:
    (connection,) = [c for c in tds.iter("connection") if c.get("class") == "redshift"]
    assert connection.get("server") == ENV["REDSHIFT_HOST"]
    assert connection.get("username") == "bi_reader"
    assert connection.get("port") == "5439"  # dbt's redshift target's default
    assert connection.get("dbname") == "dev"
    assert connection.get("schema") == "marts"
    text = ET.tostring(tds, encoding="unicode")
    assert "not-to-be-written" not in text and "password=" not in text.lower()
    assert "${" not in text


def test_a_missing_setting_is_named() -> None:
    with pytest.raises(OnlineRetailError, match="REDSHIFT_HOST") as refused:
        render_tds({"REDSHIFT_USER": "x"})
    assert refused.value.setting == "REDSHIFT_HOST"


def test_xml_special_characters_in_settings_are_escaped() -> None:
    root = ET.fromstring(render_tds({**ENV, "REDSHIFT_USER": "a&b'<c>"}).encode("utf-8"))
    users = {c.get("username") for c in root.iter("connection") if c.get("username")}
    assert users == {"a&b'<c>"}


def test_tables_joins_and_fields_exist_in_the_marts(tds: ET.Element, bi_run: BiRun) -> None:
    columns: dict[str, set[str]] = {}
    for table, column in bi_run.query(
        "select table_name, column_name from information_schema.columns"
    ):
        columns.setdefault(table, set()).add(column)
    tables = {
        r.get("name"): r.get("table") for r in tds.iter("relation") if r.get("type") == "table"
    }
    assert set(tables) == {"fct_sales_lines", "dim_products", "dim_dates", "dim_countries",
                           "dim_customers"}  # fmt: skip
    for name, qualified in tables.items():
        assert qualified == f"[marts].[{name}]"
    joined = [e.get("op") for e in tds.iter("expression") if e.get("op", "").startswith("[")]
    assert len(joined) == 8  # four joins, two sides each
    for side in joined:
        table, column = re.fullmatch(r"\[(\w+)\]\.\[(\w+)\]", side).groups()
        assert column in columns[table], side
    # every field a measure or dimension names is a mart column or another defined field
    every_column = set().union(*(columns[t] for t in tables))
    fields = list(tds.iter("column"))
    captions = {f.get("caption") for f in fields}
    for field in fields:
        calculation = field.find("calculation")
        if calculation is None:
            names = [field.get("name").strip("[]")]
        else:
            names = re.findall(r"\[([^\]]+)\]", calculation.get("formula"))
        for name in names:
            assert name in every_column or name in captions, (field.get("caption"), name)
