"""The template's lake events take their names from the code: the registrar's S3
notification is on the zone Firehose and the batch job write, the upload rule on the
prefix POST /uploads hands out, the two do not overlap, the Glue job's arguments are the
ones the Spark job resolves, and each function gets pyarrow's layer only if it imports it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_architecture import import_closure

from ingestion.batch import spark_job, upload_trigger
from ingestion.catalog import tables as catalog
from ingestion.lake import TRANSFORMED_ZONE
from ingestion.stream import request_bodies
from local_stack.lake_events import overlapping


def _resolve(template: dict[str, Any], node: Any) -> Any:
    """A Fn::Sub over Fn::FindInMap of the template's mappings, as CloudFormation does."""
    if isinstance(node, dict) and "Fn::FindInMap" in node:
        m, k, v = node["Fn::FindInMap"]
        return template["Mappings"][m][k][v]
    if isinstance(node, dict) and "Fn::Sub" in node:
        text, variables = node["Fn::Sub"]
        for name, value in variables.items():
            text = text.replace("${" + name + "}", _resolve(template, value))
        return text
    return node


def _registrar_notification(resources: dict[str, Any]) -> dict[str, Any]:
    (event,) = resources["PartitionRegistrarFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "S3" and event["Properties"]["Bucket"] == {"Ref": "LakeBucket"}
    return event["Properties"]


def _upload_rule(resources: dict[str, Any]) -> dict[str, Any]:
    (event,) = resources["UploadTriggerFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "EventBridgeRule"
    return event["Properties"]


def test_the_registrar_is_notified_of_the_transformed_zone(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    notification = _registrar_notification(resources)
    assert notification["Events"] == "s3:ObjectCreated:*"
    (rule,) = notification["Filter"]["S3Key"]["Rules"]
    assert rule["Name"] == "prefix"
    assert _resolve(template, rule["Value"]) == f"{TRANSFORMED_ZONE}/"


def test_the_upload_rule_matches_the_prefix_post_uploads_hands_out(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    pattern = _upload_rule(resources)["Pattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "LakeBucket"}]
    (key,) = pattern["detail"]["object"]["key"]
    prefix = _resolve(template, key["prefix"])
    assert prefix == f"{request_bodies.UPLOAD_ZONE}/" == upload_trigger.UPLOAD_PREFIX
    notification = resources["LakeBucket"]["Properties"]["NotificationConfiguration"]
    assert notification["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}


def test_the_two_consumers_of_the_bucket_do_not_overlap(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """S3 rejects overlapping notification configurations; here the registrar's and a
    notification on the uploads prefix (what the rule filters) are disjoint too."""
    (rule,) = _registrar_notification(resources)["Filter"]["S3Key"]["Rules"]
    transformed = _resolve(template, rule["Value"])
    configurations = [
        {
            "Event": "s3:ObjectCreated:*",
            "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": p}]}},
        }
        for p in (transformed, upload_trigger.UPLOAD_PREFIX)
    ]
    assert overlapping(configurations) == []
    assert overlapping([configurations[0], configurations[0]]) == [(0, 1)]  # not vacuous


def test_the_registrar_role_grants_what_register_partitions_calls(
    resources: dict[str, Any],
) -> None:
    statements = resources["PartitionRegistrarFunctionRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    (glue,) = [s for s in statements if str(s["Action"]).startswith("glue:")]
    source = Path(catalog.__file__).with_name("glue.py").read_text()
    body = source.split("def register_partitions", 1)[1]
    called = {"".join(p.title() for p in c.split("_")) for c in re.findall(r"glue\.(\w+)\(", body)}
    assert {glue["Action"]} == {f"glue:{c}" for c in called} == {"glue:BatchCreatePartition"}
    table_arn = glue["Resource"][-1]["Fn::Sub"]
    assert table_arn.endswith(f":table/${{GlueDatabase}}/{catalog.INVOICE_LINES.name}")
    environment = resources["PartitionRegistrarFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["GLUE_DATABASE"] == {"Ref": "GlueDatabase"}
    # LAKE_ROOT spelled as the bucket's name (no Ref: it would close a dependency cycle)
    bucket_name = resources["LakeBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert environment["LAKE_ROOT"] == {"Fn::Sub": f"s3://{bucket_name}"}


def test_the_trigger_starts_the_template_job_with_the_arguments_spark_job_resolves(
    resources: dict[str, Any],
) -> None:
    trigger = resources["UploadTriggerFunction"]["Properties"]
    assert trigger["Environment"]["Variables"]["BATCH_JOB_NAME"] == {"Ref": "BatchJob"}
    statements = resources["UploadTriggerFunctionRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    (start,) = [s for s in statements if s["Action"] == "glue:StartJobRun"]
    assert start["Resource"]["Fn::Sub"].endswith(":job/${BatchJob}")
    # spark_job._arguments: getResolvedOptions(argv, ["JOB_NAME", "source", "lake_root"])
    source = Path(spark_job.__file__).read_text()
    wanted = re.search(r"wanted = \[(.*?)\]", source)
    assert wanted, "spark_job._arguments: no getResolvedOptions list"
    names = set(re.findall(r"\"(\w+)\"", wanted.group(1)))
    defaults = resources["BatchJob"]["Properties"]["DefaultArguments"]
    given = {k.removeprefix("--") for k in defaults} | {
        k.removeprefix("--")
        for k in upload_trigger.job_arguments(
            upload_trigger.Upload("b", "k", "raw/online_retail/uploads/x.csv")
        )
    }
    assert names - {"JOB_NAME"} <= given  # Glue passes --JOB_NAME itself
    assert "--source" not in defaults  # each run's own


def test_the_job_role_may_write_the_spark_staging_folder(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """Without --TempDir the Spark job stages a gzip source's blocks in the lake
    (run_spark_job's default); the job's role writes there and a lifecycle rule expires it."""
    default = re.search(r"lake\.uri\(['\"]([^'\"]+)['\"]\)", Path(spark_job.__file__).read_text())
    assert default, "run_spark_job: no default staging folder found"
    assert "--TempDir" not in resources["BatchJob"]["Properties"]["DefaultArguments"]
    assert template["Mappings"]["Lake"]["Zones"]["SparkStaging"] == default.group(1)
    statements = resources["BatchJobRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    (write,) = [s for s in statements if s["Sid"] == "WriteZones"]
    zones = [r["Fn::Sub"][1]["Zone"]["Fn::FindInMap"][2] for r in write["Resource"]]
    assert "SparkStaging" in zones and "s3:DeleteObject" in write["Action"]
    rules = resources["LakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (staging,) = [r for r in rules if r["Id"] == "spark-staging"]
    assert staging["ExpirationInDays"] == 1


def test_the_trigger_starts_only_what_the_spark_job_reads() -> None:
    source = Path(spark_job.__file__).read_text()
    accepted = re.search(r"source_file\.lower\(\)\.endswith\(\((.*?)\)\)", source)
    assert accepted, "spark_job.plan_blocks: no suffix check found"
    assert set(re.findall(r"\"([.\w]+)\"", accepted.group(1))) == set(upload_trigger.SPARK_SUFFIXES)
    # POST /uploads hands out URLs for exactly those: a workbook would sit unprocessed
    assert set(request_bodies.UPLOAD_TYPES) <= set(upload_trigger.SPARK_SUFFIXES)


def test_failed_batch_runs_and_dead_letters_reach_the_failure_queue(
    resources: dict[str, Any],
) -> None:
    rule = resources["BatchJobFailedRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["jobName"] == [{"Ref": "BatchJob"}]
    assert set(rule["EventPattern"]["detail"]["state"]) == {"FAILED", "TIMEOUT", "ERROR"}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["EventFailureQueue", "Arn"]}
    upload_rule = _upload_rule(resources)
    assert upload_rule["DeadLetterConfig"]["Arn"] == target["Arn"]
    # the queue lets EventBridge send for exactly these two rules
    (statement,) = resources["EventFailureQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allowed = [
        a["Fn::Sub"].rsplit(":rule/", 1)[1]
        for a in statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    ]
    assert allowed == [upload_rule["RuleName"]["Fn::Sub"], rule["Name"]["Fn::Sub"]]
    for function in ("PartitionRegistrarFunction", "UploadTriggerFunction"):
        config = resources[function]["Properties"]["EventInvokeConfig"]
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == target["Arn"]
        assert config["MaximumRetryAttempts"] == 2


FUNCTIONS = [
    "ApiFunction",
    "ConsumerFunction",
    "TransformFunction",
    "QueryFunction",
    "PartitionRegistrarFunction",
    "UploadTriggerFunction",
]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_has_the_arrow_layer_exactly_when_it_imports_pyarrow(
    resources: dict[str, Any], function: str
) -> None:
    properties = resources[function]["Properties"]
    imports = any(
        m.split(".")[0] == "pyarrow"
        for m in import_closure(properties["Handler"].rpartition(".")[0])
    )
    assert bool(properties.get("Layers")) == imports, function


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_its_log_group_and_alarms(
    resources: dict[str, Any], function: str
) -> None:
    assert resources[f"{function}LogGroup"]["Properties"]["LogGroupName"] == {
        "Fn::Sub": f"/aws/lambda/${{{function}}}"
    }
    for metric in ("Errors", "Throttles"):
        alarm = resources[f"{function}{metric}Alarm"]["Properties"]
        assert alarm["MetricName"] == metric
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
