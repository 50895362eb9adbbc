"""An upload landed (S3 "Object Created" via EventBridge) -> a run of the Glue batch job.

POST /uploads hands out a presigned PUT URL for a new key under
`raw/online_retail/uploads/ingest_date=YYYY-MM-DD/` (ingestion/stream/request_bodies.py).
The lake bucket sends its events to EventBridge, and a rule on that prefix invokes this
handler, which starts the Glue Spark job (`ingestion.batch.spark_job`) with the object's
key, relative to the lake root, as `--source`; the job's `--lake_root` is one of its
default arguments in the template.

    handler string   ingestion.batch.upload_trigger.handler
    trigger          EventBridge rule: source aws.s3, detail-type "Object Created", the lake
                     bucket, key prefix raw/online_retail/uploads/
    environment      BATCH_JOB_NAME, LAKE_ROOT
    IAM              glue:StartJobRun on the batch job; nothing on S3 (the event names the key)

A workbook (.xlsx) is not started: the Spark job reads CSV only (the single-process job,
`online-retail batch`, reads workbooks); it is logged and counted as UploadsSkipped. A
start beyond the job's MaxConcurrentRuns waits in Glue's job run queue (the template
enables it); any refusal by Glue (throttling, ConcurrentRunsExceededException without
queuing) raises, so Lambda's asynchronous retries run it again and then its on-failure
destination keeps the event.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingestion.errors import OnlineRetailError

# = ingestion.stream.request_bodies.UPLOAD_ZONE + "/": stream and batch may not import
# each other, and ingestion.lake would bring pyarrow into a function that needs none
# (tests/deploy holds this equal to both, and the template's rule pattern to it).
UPLOAD_PREFIX = "raw/online_retail/uploads/"
# What spark_job.plan_blocks reads; a test holds this equal to its refusal.
SPARK_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz")

logger = Logger(service="online-retail-upload-trigger")
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OnlineRetail"),
    service="online-retail-upload-trigger",
)


@dataclass(frozen=True)
class Upload:
    """An uploaded object, its key relative to the lake root (the job's --source)."""

    bucket: str
    key: str
    source: str

    @property
    def for_spark(self) -> bool:
        return self.source.lower().endswith(SPARK_SUFFIXES)


def upload_in_event(event: dict[str, Any], lake_root: str) -> Upload | None:
    """The upload an EventBridge "Object Created" event names, or None for any other
    object (another bucket, outside the lake root, outside the uploads prefix). Unlike
    S3's own notifications, EventBridge carries the key as it is, not URL-encoded:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html"""
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        return None
    detail = event.get("detail", {})
    bucket, key = detail.get("bucket", {}).get("name"), detail.get("object", {}).get("key")
    if not bucket or not key:
        raise OnlineRetailError(f"Object Created event without bucket or key: {detail}")
    if not lake_root.startswith("s3://"):
        raise OnlineRetailError(f"{lake_root!r} is not an s3:// lake", setting="LAKE_ROOT")
    root_bucket, _, prefix = lake_root.removeprefix("s3://").partition("/")
    prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    if bucket != root_bucket or not key.startswith(prefix):
        return None
    source = key[len(prefix) :]
    if not source.startswith(UPLOAD_PREFIX) or source.endswith("/"):
        return None
    return Upload(bucket, key, source)


def job_arguments(upload: Upload) -> dict[str, str]:
    """StartJobRun's Arguments: what spark_job._arguments resolves on Glue besides the
    defaults (--lake_root) the job definition carries."""
    return {"--source": upload.source}


@functools.cache
def glue() -> Any:
    """One Glue client per container (boto3 honours AWS_ENDPOINT_URL for the local stack)."""
    return boto3.client("glue")


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    upload = upload_in_event(event, os.environ["LAKE_ROOT"])
    if upload is None:
        logger.info("not an upload: nothing started", extra={"event_id": event.get("id")})
        return {"started": None}
    if not upload.for_spark:
        logger.warning("upload not for the Spark job (CSV only)", extra={"key": upload.key})
        metrics.add_metric(name="UploadsSkipped", unit=MetricUnit.Count, value=1)
        return {"started": None, "skipped": upload.source}
    job_name = os.environ["BATCH_JOB_NAME"]
    run = glue().start_job_run(JobName=job_name, Arguments=job_arguments(upload))
    logger.info("batch job started", extra={"key": upload.key, "job_run_id": run["JobRunId"]})
    metrics.add_metric(name="UploadJobsStarted", unit=MetricUnit.Count, value=1)
    return {"started": run["JobRunId"], "job_name": job_name, "source": upload.source}
