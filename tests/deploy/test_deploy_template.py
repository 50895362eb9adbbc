"""template.yaml takes its names from the code: every test here compares the two."""

from __future__ import annotations

import importlib
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest

from ingestion import lake
from ingestion.catalog import tables as catalog
from ingestion.contract import schema
from ingestion.stream import intake, items, output, producer, settings

FUNCTIONS = (
    "ApiFunction",
    "ConsumerFunction",
    "TransformFunction",
    "QueryFunction",
    "PartitionRegistrarFunction",
    "UploadTriggerFunction",
)
# Actions that take no resource ("Actions, resources, and condition keys" pages of X-Ray
# and CloudWatch): the only ones a statement may grant on Resource "*".
RESOURCELESS_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
}


def _module(handler: str) -> Any:
    """The module of a template handler string (module.attribute)."""
    return importlib.import_module(handler.rpartition(".")[0])


def _handler(resources: dict[str, Any], function: str) -> str:
    return resources[function]["Properties"]["Handler"]


def _without_location(table_input: dict[str, Any]) -> dict[str, Any]:
    storage = {k: v for k, v in table_input["StorageDescriptor"].items() if k != "Location"}
    return {**table_input, "StorageDescriptor": storage}


def test_glue_tables_equal_the_catalog_definitions(resources: dict[str, Any]) -> None:
    tables = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Glue::Table"
    }
    assert set(tables) == {t.name for t in catalog.LAKE_TABLES}
    for table in catalog.LAKE_TABLES:
        got = tables[table.name]
        assert got["DatabaseName"] == {"Ref": "GlueDatabase"}
        wanted = table.table_input("s3://bucket")
        assert _without_location(got["TableInput"]) == _without_location(wanted), table.name
        location = got["TableInput"]["StorageDescriptor"]["Location"]
        assert location == {"Fn::Sub": f"s3://${{LakeBucket}}/{table.zone}/"}


def test_invoice_lines_columns_are_the_schema_contract(resources: dict[str, Any]) -> None:
    table = resources["GlueTableInvoiceLines"]["Properties"]["TableInput"]
    assert table["StorageDescriptor"]["Columns"] == schema.glue_columns(schema.INVOICE_LINE_SCHEMA)
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [
        (name, "int") for name in schema.PARTITION_COLUMNS
    ]
    quarantine = resources["GlueTableQuarantinedLines"]["Properties"]["TableInput"]
    assert quarantine["StorageDescriptor"]["Columns"] == schema.glue_columns(
        schema.QUARANTINE_SCHEMA
    )


def test_glue_database_default_is_the_catalog_default(template: dict[str, Any]) -> None:
    default = template["Parameters"]["GlueDatabaseName"]["Default"]
    assert default == catalog.DEFAULT_GLUE_DATABASE


def test_firehose_partitions_on_the_keys_the_transformation_returns(
    resources: dict[str, Any],
) -> None:
    destination = resources["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    prefix_template, _ = destination["Prefix"]["Fn::Sub"]
    used = re.findall(r"!\{partitionKeyFromLambda:(\w+)\}", prefix_template)
    landed = pa.table({"invoiced_at": pa.array([datetime(2011, 3, 4, 12, 0)], pa.timestamp("us"))})
    returned = output.partition_keys(landed)[0]
    assert used == list(returned) == list(schema.PARTITION_COLUMNS)
    # year=YYYY/month=MM: the same Hive layout as the batch job's transformed zone
    assert prefix_template.startswith("${Zone}/year=")
    schema_config = destination["DataFormatConversionConfiguration"]["SchemaConfiguration"]
    assert schema_config["TableName"] == {"Ref": "GlueTableInvoiceLines"}
    # Firehose: format conversion needs a buffer of at least 64 MiB
    assert destination["BufferingHints"]["SizeInMBs"] == {"Ref": "FirehoseBufferSizeMiB"}


def test_dynamodb_keys_are_the_item_design(template: dict[str, Any]) -> None:
    keys = template["Mappings"]["TableKeys"]
    customers, invoices = items.CUSTOMERS_KEY, items.INVOICES_KEY
    assert (keys["Customer"]["Partition"], keys["Customer"]["Sort"]) == (
        customers.partition,
        customers.sort,
    )
    assert (keys["Invoice"]["Partition"], keys["Invoice"]["Sort"]) == (
        invoices.partition,
        invoices.sort,
    )
    assert keys["Idempotency"]["Partition"] == items.IDEMPOTENCY_KEY.partition
    assert keys["Idempotency"]["TimeToLive"] == items.IDEMPOTENCY_TTL_ATTRIBUTE


def test_lake_zones_are_the_code_zones(template: dict[str, Any]) -> None:
    zones = template["Mappings"]["Lake"]["Zones"]
    assert zones["Raw"] == lake.RAW_ZONE
    assert zones["Transformed"] == lake.TRANSFORMED_ZONE
    assert zones["Quarantine"] == lake.QUARANTINE_ZONE
    assert zones["Manifests"] == lake.MANIFEST_ZONE


def _resolver_routes(module: Any) -> set[tuple[str, str]]:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    apps = [v for v in vars(module).values() if isinstance(v, APIGatewayRestResolver)]
    assert len(apps) == 1, f"{module.__name__}: one REST resolver expected"
    routes = apps[0]._static_routes + apps[0]._dynamic_routes
    # Powertools writes path parameters <name>; API Gateway writes {name}
    return {(r.method, re.sub(r"<(\w+)>", r"{\1}", r.path)) for r in routes}


@pytest.mark.parametrize("function", ["ApiFunction", "QueryFunction"])
def test_api_routes_are_the_handler_routes(resources: dict[str, Any], function: str) -> None:
    events = resources[function]["Properties"]["Events"].values()
    in_template = {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for e in events
        if e["Type"] == "Api"
    }
    module = _module(_handler(resources, function))
    assert in_template == _resolver_routes(module)


def test_body_limit_is_the_handler_ceiling(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["MaxRequestBytes"]
    # with many shards the handler's limit reaches its ceiling: what Lambda can take
    ceiling = producer.request_limits(1_000).bytes
    assert parameter["Default"] == parameter["MaxValue"] == ceiling
    # Lambda's synchronous payload is 6 MB: the body must leave room for the event
    assert ceiling < 6 * 1000 * 1000
    # the parameter only lowers the derived limit, never raises it
    shards = template["Parameters"]["ShardCount"]["Default"]
    with mock.patch.dict(
        os.environ, {"STREAM_SHARDS": str(shards), "MAX_REQUEST_BYTES": str(ceiling)}, clear=True
    ):
        limits = settings.Settings.from_env().request_limits
    assert limits == producer.request_limits(int(shards))


def _environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    own = template["Resources"][function]["Properties"].get("Environment", {})
    return {**shared, **own.get("Variables", {})}


def test_every_setting_the_handlers_read_is_set(template: dict[str, Any]) -> None:
    source = Path(settings.__file__).read_text()
    read = set(re.findall(r"env\.get\(\s*\"([A-Z_]+)\"", source))
    assert read, "no environment names found in the settings module"
    everywhere = set().union(*(_environment(template, f) for f in FUNCTIONS))
    assert read <= everywhere, read - everywhere


@pytest.mark.parametrize("function", FUNCTIONS)
def test_powertools_service_is_the_handler_service(template: dict[str, Any], function: str) -> None:
    environment = _environment(template, function)
    service_ref = environment["POWERTOOLS_SERVICE_NAME"]["Fn::FindInMap"]
    service = template["Mappings"][service_ref[0]][service_ref[1]][service_ref[2]]
    module = _module(template["Resources"][function]["Properties"]["Handler"])
    assert module.logger.service == service
    for name in ("POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"):
        assert name in environment


def test_alarms_read_metrics_the_handlers_emit(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    emitted: dict[str, set[str]] = {}
    for function in FUNCTIONS:
        module = _module(resources[function]["Properties"]["Handler"])
        source = Path(module.__file__).read_text()
        names = set(re.findall(r"add_metric\(\s*name=\"(\w+)\"", source))
        if "answer.counts" in source:  # the API emits one metric per count of intake's Answer
            block = re.search(r"counts = \{(.*?)\}", Path(intake.__file__).read_text(), re.S)
            assert block, "intake.py: no counts dict"
            names |= set(re.findall(r"\"(\w+)\":", block.group(1)))
        emitted[module.logger.service] = names
    services = {v["Name"] for v in template["Mappings"]["Services"].values()}
    read = 0
    for name, r in resources.items():
        if r["Type"] != "AWS::CloudWatch::Alarm":
            continue
        for query in r["Properties"].get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric")
            if not metric or metric["Namespace"] != {"Fn::Sub": "OnlineRetail/${Stage}"}:
                continue
            (dimension,) = metric["Dimensions"]
            service = template["Mappings"]["Services"][dimension["Value"]["Fn::FindInMap"][1]]
            assert service["Name"] in services
            assert metric["MetricName"] in emitted[service["Name"]], (name, metric["MetricName"])
            read += 1
    assert read >= 7


def _statements(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, r in resources.items():
        if r["Type"] == "AWS::IAM::Role":
            for policy in r["Properties"].get("Policies", []):
                found += [(name, s) for s in policy["PolicyDocument"]["Statement"]]
        elif r["Type"] == "AWS::IAM::ManagedPolicy":
            found += [(name, s) for s in r["Properties"]["PolicyDocument"]["Statement"]]
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_action_and_star_resource_only_for_resourceless_actions(
    resources: dict[str, Any],
) -> None:
    statements = _statements(resources)
    assert len(statements) > 20
    for role, statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not [a for a in actions if "*" in a], (role, actions)
        targets = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if "*" in targets:
            assert set(actions) <= RESOURCELESS_ACTIONS, (role, actions)


def test_each_function_has_its_own_role(resources: dict[str, Any]) -> None:
    roles = [resources[f]["Properties"]["Role"]["Fn::GetAtt"][0] for f in FUNCTIONS]
    assert len(set(roles)) == len(FUNCTIONS)
    assert all(resources[r]["Type"] == "AWS::IAM::Role" for r in roles)


def test_handler_strings_name_callables_of_the_package(resources: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        handler = _handler(resources, function)
        assert handler.startswith("ingestion.")
        assert callable(getattr(_module(handler), handler.rpartition(".")[2]))
