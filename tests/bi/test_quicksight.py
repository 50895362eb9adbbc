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
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from bi.quicksight import (
    DEFINITIONS_DIR,
    Request,
    Settings,
    Waiting,
    build_requests,
    deploy,
    update_request,
    validate,
)
from ingestion.errors import OnlineRetailError

ACCOUNT = "123456789012"
# QuickSight principals live in the identity region, which may differ from the deployment's
ANALYSTS = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:group/default/analysts"
AUTHOR = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:user/default/jo.bloggs"
NO_WAIT = Waiting(interval=0, timeout=0, sleep=lambda _: None)
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
        "principal_arns": (ANALYSTS,),
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
@pytest.mark.parametrize("principals", [(ANALYSTS,), (ANALYSTS, AUTHOR)])
def test_every_request_and_its_update_match_botocore_model(engine: str, principals) -> None:
    requests = build_requests(settings(engine, principal_arns=principals))
    assert [r.operation for r in requests] == ["CreateDataSource", *["CreateDataSet"] * 6,
                                               "CreateDashboard"]  # fmt: skip
    for request in requests:
        validate(request, MODEL)
        validate(update_request(request, MODEL), MODEL)
        text = json.dumps(request.params)
        assert "${" not in text
        # every principal gets the resource's actions
        granted = [p["Principal"] for p in request.params["Permissions"]]
        assert granted == list(principals)
        assert len({json.dumps(p["Actions"]) for p in request.params["Permissions"]}) == 1


def test_permissions_need_the_principals_setting() -> None:
    env = {"QUICKSIGHT_ACCOUNT_ID": ACCOUNT}
    with pytest.raises(OnlineRetailError, match="QUICKSIGHT_PRINCIPAL_ARNS"):
        build_requests(Settings.from_env("athena", env))
    env["QUICKSIGHT_PRINCIPAL_ARNS"] = f" {ANALYSTS} , {AUTHOR} "
    assert Settings.from_env("athena", env).principal_arns == (ANALYSTS, AUTHOR)


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:root",  # an account root is no QuickSight principal
        f"arn:aws:iam::{ACCOUNT}:user/jo",  # nor an IAM user
        f"arn:aws:quicksight:us-east-1:{ACCOUNT}:dashboard/online-retail-athena",
        "arn:aws:quicksight:us-east-1:999999999999:group/default/analysts",  # other account
    ],
)
def test_a_principal_that_is_no_quicksight_user_or_group_is_refused(arn: str) -> None:
    with pytest.raises(OnlineRetailError, match="QUICKSIGHT_PRINCIPAL_ARNS") as refused:
        build_requests(settings("athena", principal_arns=(ANALYSTS, arn)))
    assert arn in str(refused.value)


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


def answer_publish_as_aws_does(client: Any, published: list[dict]) -> None:
    """moto has no UpdateDashboardPublishedVersion: answer it with AWS's documented
    response, and keep what was asked."""

    def publish(params: dict, **_: Any) -> tuple[AWSResponse, dict]:
        published.append(json.loads(params["body"] or b"{}") | {"url": params["url_path"]})
        dashboard = params["url_path"].split("/dashboards/")[1].split("/")[0]
        return AWSResponse(params["url_path"], 200, {}, None), {
            "DashboardId": dashboard,
            "DashboardArn": f"arn:aws:quicksight:eu-west-2:{ACCOUNT}:dashboard/{dashboard}",
            "Status": 200,
            "RequestId": "request-id",
        }

    client.meta.events.register("before-call.quicksight.UpdateDashboardPublishedVersion", publish)


def test_deploy_creates_everything_on_motos_server(aws_env: str) -> None:
    client = boto3.client("quicksight", region_name="eu-west-2", endpoint_url=aws_env)
    published: list[dict] = []
    answer_publish_as_aws_does(client, published)
    requests = build_requests(settings("athena"))
    done = deploy(client, requests, NO_WAIT)
    assert [operation for operation, _ in done] == [
        *(r.operation for r in requests),
        "UpdateDashboardPublishedVersion",
    ]
    assert [p["url"] for p in published] == [
        f"/accounts/{ACCOUNT}/dashboards/online-retail-athena/versions/1"
    ]
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
        stub.add_response("update_data_source", {"Arn": "arn:aws:quicksight:x", "Status": 200,
                          "UpdateStatus": "UPDATE_IN_PROGRESS"},
                          expected_params=update.params)  # fmt: skip
        built = {"DataSource": {"Status": "UPDATE_SUCCESSFUL"}}
        described = {"AwsAccountId": ACCOUNT, "DataSourceId": "online-retail-redshift"}
        stub.add_response("describe_data_source", built, described)
        assert deploy(client, [request], NO_WAIT) == [("UpdateDataSource", "arn:aws:quicksight:x")]
        stub.assert_no_pending_responses()


def stub_client() -> Any:
    return boto3.client("quicksight", region_name="eu-west-2",
                        aws_access_key_id="x", aws_secret_access_key="x")  # fmt: skip


def dashboard_version(status: str, number: int, errors: list | None = None) -> dict:
    arn = f"arn:aws:quicksight:eu-west-2:{ACCOUNT}:dashboard/online-retail-athena"
    version = {"Status": status, "VersionNumber": number, "Arn": f"{arn}/version/{number}"}
    return {"Dashboard": {"DashboardId": "online-retail-athena", "Arn": arn,
                          "Version": version | ({"Errors": errors} if errors else {})},
            "Status": 200}  # fmt: skip


def test_an_updated_dashboard_is_polled_until_built_then_published() -> None:
    """UpdateDashboard makes version 4 and returns at once; version 4 is published only
    when DescribeDashboard says it was built, and with its own number."""
    client, sleeps = stub_client(), []
    dashboard = build_requests(settings("athena"))[-1]
    update = update_request(dashboard, client.meta.service_model)
    arn = f"arn:aws:quicksight:eu-west-2:{ACCOUNT}:dashboard/online-retail-athena"
    describe = {"AwsAccountId": ACCOUNT, "DashboardId": "online-retail-athena", "VersionNumber": 4}
    with Stubber(client) as stub:
        stub.add_client_error("create_dashboard", "ResourceExistsException",
                              expected_params=dashboard.params)  # fmt: skip
        stub.add_response("update_dashboard", {"Arn": arn, "VersionArn": f"{arn}/version/4",
                          "CreationStatus": "UPDATE_IN_PROGRESS", "Status": 202},
                          expected_params=update.params)  # fmt: skip
        for status in ("UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_SUCCESSFUL"):
            stub.add_response("describe_dashboard", dashboard_version(status, 4), describe)
        stub.add_response("update_dashboard_published_version",
                          {"DashboardId": "online-retail-athena", "DashboardArn": arn},
                          describe)  # fmt: skip
        done = deploy(client, [dashboard], Waiting(interval=5, timeout=60, sleep=sleeps.append))
        stub.assert_no_pending_responses()
    assert done == [("UpdateDashboard", arn),
                    ("UpdateDashboardPublishedVersion", f"{arn}/version/4")]  # fmt: skip
    assert sleeps == [5, 5]


def test_a_dashboard_version_that_fails_is_not_published_and_says_why() -> None:
    client = stub_client()
    dashboard = build_requests(settings("athena"))[-1]
    arn = f"arn:aws:quicksight:eu-west-2:{ACCOUNT}:dashboard/online-retail-athena"
    errors = [{"Type": "COLUMN_TYPE_MISMATCH", "Message": "net_revenue is not numeric",
               "ViolatedEntities": [{"Path": "sheet/kpis"}]}]  # fmt: skip
    describe = {"AwsAccountId": ACCOUNT, "DashboardId": "online-retail-athena", "VersionNumber": 1}
    with Stubber(client) as stub:
        stub.add_response("create_dashboard", {"Arn": arn, "VersionArn": f"{arn}/version/1",
                          "CreationStatus": "CREATION_IN_PROGRESS", "Status": 202},
                          expected_params=dashboard.params)  # fmt: skip
        stub.add_response("describe_dashboard", dashboard_version("CREATION_FAILED", 1, errors),
                          describe)  # fmt: skip
        with pytest.raises(OnlineRetailError) as failed:
            deploy(client, [dashboard], Waiting(interval=0, timeout=60, sleep=lambda _: None))
        stub.assert_no_pending_responses()  # and no publish call: the Stubber would refuse it
    message = str(failed.value)
    assert "CREATION_FAILED" in message and "net_revenue is not numeric" in message
    assert "online-retail-athena" in message


def test_a_data_source_is_waited_for_before_its_data_sets() -> None:
    client, sleeps = stub_client(), []
    source, first_set = build_requests(settings("athena"))[:2]
    arn = f"arn:aws:quicksight:eu-west-2:{ACCOUNT}:datasource/online-retail-athena"
    describe = {"AwsAccountId": ACCOUNT, "DataSourceId": "online-retail-athena"}
    with Stubber(client) as stub:
        stub.add_response("create_data_source", {"Arn": arn,
                          "CreationStatus": "CREATION_IN_PROGRESS", "Status": 202},
                          expected_params=source.params)  # fmt: skip
        for status in ("CREATION_IN_PROGRESS", "CREATION_SUCCESSFUL"):
            stub.add_response(
                "describe_data_source", {"DataSource": {"Arn": arn, "Status": status}}, describe
            )
        stub.add_response("create_data_set", {"Arn": "arn:aws:quicksight:set", "Status": 201},
                          expected_params=first_set.params)  # fmt: skip
        done = deploy(client, [source, first_set], Waiting(interval=1, sleep=sleeps.append))
        stub.assert_no_pending_responses()
    assert [operation for operation, _ in done] == ["CreateDataSource", "CreateDataSet"]
    assert sleeps == [1]


def test_a_data_source_that_fails_stops_the_deploy_with_its_error() -> None:
    client = stub_client()
    source, first_set = build_requests(settings("athena"))[:2]
    arn = f"arn:aws:quicksight:eu-west-2:{ACCOUNT}:datasource/online-retail-athena"
    failed_source = {
        "Arn": arn,
        "Status": "CREATION_FAILED",
        "ErrorInfo": {"Type": "ACCESS_DENIED", "Message": "no access to workgroup"},
    }
    with Stubber(client) as stub:
        stub.add_response("create_data_source", {"Arn": arn,
                          "CreationStatus": "CREATION_IN_PROGRESS", "Status": 202})  # fmt: skip
        stub.add_response("describe_data_source", {"DataSource": failed_source})
        with pytest.raises(OnlineRetailError, match=r"ACCESS_DENIED.*no access to workgroup"):
            deploy(client, [source, first_set], NO_WAIT)
        stub.assert_no_pending_responses()  # the data sets were never attempted


def test_a_resource_still_in_progress_after_the_timeout_is_an_error() -> None:
    client, clock = stub_client(), iter(range(0, 1000, 30))
    source = build_requests(settings("athena"))[0]
    arn = f"arn:aws:quicksight:eu-west-2:{ACCOUNT}:datasource/online-retail-athena"
    with Stubber(client) as stub:
        stub.add_response("create_data_source", {"Arn": arn,
                          "CreationStatus": "CREATION_IN_PROGRESS", "Status": 202})  # fmt: skip
        for _ in range(3):  # at 30, 60 and 90 s of a wait from 0 to 90 s
            stub.add_response(
                "describe_data_source",
                {"DataSource": {"Arn": arn, "Status": "CREATION_IN_PROGRESS"}},
            )
        waiting = Waiting(interval=30, timeout=90, sleep=lambda _: None, clock=lambda: next(clock))
        with pytest.raises(OnlineRetailError, match="still CREATION_IN_PROGRESS after 90 s"):
            deploy(client, [source], waiting)
        stub.assert_no_pending_responses()
