"""QuickSight definitions: every request (create and update) valid for botocore's model of
the API, consistent with the marts and with each other, and deployed to moto's server."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import botocore.session
import pytest
from bi_support import BiRun
from botocore.stub import Stubber

from bi.quicksight import (
    DEFINITIONS_DIR,
    Request,
    Settings,
    build_requests,
    deploy,
    update_request,
    validate,
)
from ingestion.errors import OnlineRetailError

ACCOUNT = "123456789012"
MODEL = botocore.session.get_session().get_service_model("quicksight")
# How the marts' DuckDB types must be declared to QuickSight.
QS_TYPE = {
    "VARCHAR": "STRING", "INTEGER": "INTEGER", "BIGINT": "INTEGER", "BOOLEAN": "BOOLEAN",
    "DATE": "DATETIME", "TIMESTAMP": "DATETIME", "TIMESTAMP WITH TIME ZONE": "DATETIME",
}  # fmt: skip


def settings(engine: str, **overrides: Any) -> Settings:
    values = {
        "account_id": ACCOUNT,
        "region": "eu-west-2",
        "engine": engine,
        "redshift_host": "online-retail.example.eu-west-2.redshift-serverless.amazonaws.com",
        "redshift_secret_arn": f"arn:aws:secretsmanager:eu-west-2:{ACCOUNT}:secret:redshift-bi",
        "principal_arn": f"arn:aws:quicksight:eu-west-2:{ACCOUNT}:group/default/analysts",
    }
    return Settings(**{**values, **overrides})


def walk(value: Any) -> list[dict]:
    """Every dict inside a JSON value."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@pytest.mark.parametrize("engine", ["athena", "redshift"])
@pytest.mark.parametrize("principal", [True, False])
def test_every_request_and_its_update_match_botocore_model(engine: str, principal: bool) -> None:
    requests = build_requests(settings(engine, **({} if principal else {"principal_arn": None})))
    assert [r.operation for r in requests] == ["CreateDataSource", *["CreateDataSet"] * 6,
                                               "CreateDashboard"]  # fmt: skip
    for request in requests:
        validate(request, MODEL)
        validate(update_request(request, MODEL), MODEL)
        text = json.dumps(request.params)
        assert "${" not in text
        assert ("Permissions" in request.params) is principal


def test_a_broken_definition_is_refused() -> None:
    dashboard = build_requests(settings("athena"))[-1]
    params = json.loads(json.dumps(dashboard.params))
    sheet = params["Definition"]["Sheets"][0]
    bar = next(v["BarChartVisual"] for v in sheet["Visuals"] if "BarChartVisual" in v)
    bar["ChartConfiguration"]["Orientation"] = "SIDEWAYS"  # not an enum value
    del sheet["Visuals"][0]["KPIVisual"]["VisualId"]  # a required member
    params["DashboardId"] = "online retail"  # breaks the id pattern
    with pytest.raises(OnlineRetailError) as refused:
        validate(Request("CreateDashboard", params), MODEL)
    message = str(refused.value)
    assert "SIDEWAYS" in message and "VisualId" in message and "online retail" in message


def test_redshift_needs_its_host_and_secret() -> None:
    with pytest.raises(OnlineRetailError, match="QUICKSIGHT_REDSHIFT_SECRET_ARN"):
        build_requests(settings("redshift", redshift_secret_arn=None))


def test_data_sets_declare_the_marts_columns_and_types(bi_run: BiRun) -> None:
    data_sets = json.loads((DEFINITIONS_DIR / "data_sets.json").read_text())
    for data_set in data_sets:
        table = data_set["PhysicalTableMap"]["mart"]["RelationalTable"]
        columns = bi_run.query(
            "select column_name, data_type from information_schema.columns "
            "where table_name = ? order by ordinal_position",
            [table["Name"]],
        )
        assert columns, table["Name"]
        expected = [
            {"Name": name, "Type": "DECIMAL" if kind.startswith("DECIMAL") else QS_TYPE[kind]}
            for name, kind in columns
        ]
        assert table["InputColumns"] == expected, table["Name"]


@pytest.mark.parametrize("engine", ["athena", "redshift"])
def test_the_dashboard_reads_only_declared_data_sets_and_columns(engine: str) -> None:
    requests = build_requests(settings(engine))
    data_sets = {
        r.params["DataSetId"]: {
            c["Name"]
            for c in r.params["PhysicalTableMap"]["mart"]["RelationalTable"]["InputColumns"]
        }
        for r in requests
        if r.operation == "CreateDataSet"
    }
    source_arn = requests[0].params["DataSourceId"]
    for r in requests[1:-1]:
        assert r.params["PhysicalTableMap"]["mart"]["RelationalTable"]["DataSourceArn"].endswith(
            f":datasource/{source_arn}"
        )
    definition = requests[-1].params["Definition"]
    declared = {}
    for declaration in definition["DataSetIdentifierDeclarations"]:
        data_set_id = declaration["DataSetArn"].rsplit("dataset/", 1)[1]
        assert data_set_id in data_sets
        declared[declaration["Identifier"]] = data_sets[data_set_id]
    references = [d for d in walk(definition) if {"DataSetIdentifier", "ColumnName"} <= set(d)]
    assert len(references) > 20
    for reference in references:
        assert reference["ColumnName"] in declared[reference["DataSetIdentifier"]], reference
    sheet = definition["Sheets"][0]
    visual_ids = {next(iter(v.values()))["VisualId"] for v in sheet["Visuals"]}
    laid_out = {
        e["ElementId"] for e in sheet["Layouts"][0]["Configuration"]["GridLayout"]["Elements"]
    }
    assert visual_ids == laid_out
    field_ids = [d["FieldId"] for d in walk(sheet["Visuals"]) if "FieldId" in d and "Column" in d]
    assert len(field_ids) == len(set(field_ids))  # QuickSight refuses duplicate field ids


def test_deploy_creates_everything_on_motos_server(aws_env: str) -> None:
    client = boto3.client("quicksight", region_name="eu-west-2", endpoint_url=aws_env)
    requests = build_requests(settings("athena"))
    done = deploy(client, requests)
    assert [operation for operation, _ in done] == [r.operation for r in requests]
    source = client.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId="online-retail-athena")
    assert source["DataSource"]["Type"] == "ATHENA"
    assert source["DataSource"]["DataSourceParameters"] == {
        "AthenaParameters": {"WorkGroup": "primary"}
    }
    dashboards = client.list_dashboards(AwsAccountId=ACCOUNT)["DashboardSummaryList"]
    assert [d["DashboardId"] for d in dashboards] == ["online-retail-athena"]
    assert all(re.search(r":(data-?set|datasource|dashboard)/", arn) for _, arn in done)


def test_deploy_updates_what_exists() -> None:
    """moto's create never says a resource exists, so the update path runs on botocore's
    Stubber, which also checks each call's parameters against the model."""
    client = boto3.client("quicksight", region_name="eu-west-2",
                          aws_access_key_id="x", aws_secret_access_key="x")  # fmt: skip
    request = build_requests(settings("redshift"))[0]
    update = update_request(request, client.meta.service_model)
    assert "Permissions" not in update.params and "Type" not in update.params
    with Stubber(client) as stub:
        stub.add_client_error("create_data_source", "ResourceExistsException",
                              expected_params=request.params)  # fmt: skip
        stub.add_response("update_data_source", {"Arn": "arn:aws:quicksight:x", "Status": 200},
                          expected_params=update.params)  # fmt: skip
        assert deploy(client, [request]) == [("UpdateDataSource", "arn:aws:quicksight:x")]
        stub.assert_no_pending_responses()
