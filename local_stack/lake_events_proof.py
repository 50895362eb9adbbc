"""The deploy proof's lake events (local_stack/deploy_proof.py): the template's partition
registrar and upload trigger, each under its own role, fed by the bucket's events as
local_stack/lake_events.py delivers them.

1. `firehose_to_registrar`: every object the replay wrote is new; Firehose's Parquet in
   the transformed zone reaches the registrar through the bucket's S3 notification, and
   its month is registered in Glue.
2. `upload_to_job`: POST /uploads (the API function), the client's PUT to the presigned
   URL, the upload's EventBridge event through the rule to the trigger, a Glue job run
   whose --source is the upload's key; the batch job plays that run (single-process, with
   the Glue job's role), and the registrar registers the month it landed. Glue's "Job State
   Change" of a run that fails is routed to the failure queue, of one that succeeds to
   nothing.

`lake_event_problems` turns the figures into the verdict's problems.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from ingestion.batch.job import run_batch_job
from ingestion.lake import Lake
from local_stack.events import context, rest_api_event
from local_stack.fixtures import dataset_selection
from local_stack.lake_events import (
    LakeEvents,
    glue_job_state_change,
    invoke_configs,
    overlapping,
    routed,
)
from local_stack.stack import LocalStack

UPLOAD_DAY = "2011-03-15"  # a month nothing else in the proof lands


def lake_events(stack: LocalStack) -> LakeEvents:
    """The bucket's event deliveries to the registrar and the upload trigger."""
    from ingestion.batch import upload_trigger
    from ingestion.catalog import partition_registrar

    assert stack.deployed is not None
    deployed = stack.deployed
    names = {n: c.name for n, c in deployed.functions.items()}
    functions = {
        "PartitionRegistrarFunction": partition_registrar.handler,
        "UploadTriggerFunction": upload_trigger.handler,
    }
    return LakeEvents(
        deployed.outputs["LakeBucketName"],
        deployed.properties["LakeBucket"]["NotificationConfiguration"],
        {n: stack.as_function(n, h) for n, h in functions.items()},
        names,
        invoke_configs(deployed.of_type("AWS::Lambda::EventInvokeConfig").values(), names),
        stack.acting,
    )


def registered(database: str) -> list[str]:
    """The invoice_lines partitions Glue holds, as YYYY-MM."""
    import boto3

    pages = boto3.client("glue").get_paginator("get_partitions")
    found = pages.paginate(DatabaseName=database, TableName="invoice_lines")
    return sorted("-".join(p["Values"]) for page in found for p in page["Partitions"])


def firehose_to_registrar(stack: LocalStack) -> tuple[LakeEvents, dict[str, Any]]:
    """Deliver what the replay wrote; the figures of the registrar's first work."""
    assert stack.deployed is not None
    events = lake_events(stack)
    events.seen = {}  # every object of the replay is new: Firehose's go to the registrar
    first = events.deliver()
    return events, {
        "overlapping": overlapping(events.configurations),
        "s3_notifications": first.s3_notifications,
        "registered_from_firehose": registered(stack.deployed.outputs["GlueDatabaseName"]),
        "failures": first.failures,
    }


def _queue_arn(url: str) -> str:
    import boto3

    got = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return got["Attributes"]["QueueArn"]


def _upload(stack: LocalStack, events: LakeEvents, lines: list[str]) -> dict[str, Any]:
    import boto3

    assert stack.deployed is not None
    request = json.dumps({"file_name": "march_export.csv"}).encode()
    event = rest_api_event(
        "POST", "/uploads", body=request, headers={"Content-Type": "application/json"}
    )
    answer = stack.api(event, context(stack.function_name("ApiFunction", "online-retail-api")))
    issued = json.loads(answer["body"])
    picked = dataset_selection(lines, day=UPLOAD_DAY, count=None)[:40]
    body = "\n".join([lines[0]] + [lines[i] for i in picked]) + "\n"
    put = urllib.request.Request(
        issued["upload_url"], data=body.encode(), method="PUT", headers=issued["headers"]
    )
    with urllib.request.urlopen(put) as response:  # the client's PUT (no role of the stack)
        response.read()
    delivered = events.deliver()
    started = (delivered.answers.get("UploadTriggerFunction") or [{}])[-1]
    figures: dict[str, Any] = {"key": issued["key"], "status": answer["statusCode"], **started}
    figures["failures"] = delivered.failures
    if not started.get("started"):
        return figures
    run = boto3.client("glue").get_job_run(JobName=started["job_name"], RunId=started["started"])
    figures["job_source"] = run["JobRun"]["Arguments"]["--source"]
    with stack.acting("BatchJob"):  # the run, played by the single-process job
        run_batch_job(figures["job_source"], Lake(stack.deployed.outputs["LakeRoot"]))
    landed = events.deliver()
    figures["registrar_invocations"] = landed.s3_notifications.get("PartitionRegistrarFunction", 0)
    figures["month"] = UPLOAD_DAY[:7]
    figures["registered"] = registered(stack.deployed.outputs["GlueDatabaseName"])
    figures["failures"] += landed.failures
    return figures


def upload_to_job(
    stack: LocalStack, events: LakeEvents, lines: list[str], figures: dict[str, Any]
) -> None:
    """The upload's whole way, and where its job's runs that end badly are routed."""
    assert stack.deployed is not None
    upload = _upload(stack, events, lines)
    figures["failures"] = figures.get("failures", []) + upload.pop("failures", [])
    figures["upload"] = upload
    figures["failure_queue"] = _queue_arn(stack.deployed.outputs["EventFailureQueueUrl"])
    job, run_id = upload.get("job_name", ""), upload.get("started") or ""
    figures["job_runs_routed"] = {}
    for state in ("FAILED", "TIMEOUT", "SUCCEEDED"):
        targets = routed(glue_job_state_change(job, run_id, state)).values()
        figures["job_runs_routed"][state] = [arn for arns in targets for arn in arns]


def lake_event_problems(figures: dict[str, Any]) -> list[str]:
    out = []
    if figures.get("overlapping"):
        out.append(f"overlapping S3 notifications: {figures['overlapping']}")
    if not figures.get("registered_from_firehose"):
        out.append("the registrar registered no partition of Firehose's objects")
    upload = figures.get("upload", {})
    if not upload or upload.get("job_source") != upload.get("key"):
        out.append(f"the upload did not start a job run on its key: {upload}")
    elif upload.get("month") not in upload.get("registered", []):
        out.append(f"the upload's month {upload.get('month')} was not registered")
    runs, queue = figures.get("job_runs_routed", {}), figures.get("failure_queue")
    if runs.get("FAILED") != [queue] or runs.get("TIMEOUT") != [queue] or runs.get("SUCCEEDED"):
        out.append(f"failed job runs not routed to the failure queue alone: {runs}")
    out += [f"lake event failed: {f}" for f in figures.get("failures", [])]
    return out
