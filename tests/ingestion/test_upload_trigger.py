"""An upload's EventBridge event starts the Glue batch job on its key (POST /uploads ->
the batch job), called directly as Lambda would call it, against moto's Glue; anything
else starts nothing, and a refusal by Glue fails the invocation so Lambda retries it."""

from __future__ import annotations

import uuid

import boto3
import pytest

from ingestion.batch import upload_trigger
from ingestion.errors import OnlineRetailError
from local_stack.events import context
from local_stack.lake_events import eventbridge_event

UPLOAD = "raw/online_retail/uploads/ingest_date=2026-11-30/5f0b2c1e7a1d4e7f9c7e3d1f0a2b4c6d.csv.gz"


@pytest.fixture
def job(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A Glue job on moto, and the trigger's environment naming it (a new container)."""
    name = f"batch-{uuid.uuid4().hex[:8]}"
    boto3.client("glue").create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://lake/artifacts/glue/spark_job.py"},
        ExecutionProperty={"MaxConcurrentRuns": 1},
    )
    monkeypatch.setenv("BATCH_JOB_NAME", name)
    monkeypatch.setenv("LAKE_ROOT", "s3://lake")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    upload_trigger.glue.cache_clear()
    return name


def _runs(job: str) -> list[dict]:
    return boto3.client("glue").get_job_runs(JobName=job)["JobRuns"]


def test_an_upload_starts_a_run_with_its_key_as_source(job: str) -> None:
    answer = upload_trigger.handler(eventbridge_event("lake", UPLOAD, 1024), context("trigger"))
    (run,) = _runs(job)
    assert run["Id"] == answer["started"]
    assert run["Arguments"] == {"--source": UPLOAD}


def test_the_key_is_taken_relative_to_a_lake_root_with_a_prefix(
    job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKE_ROOT", "s3://lake/online-retail/")
    key = f"online-retail/{UPLOAD}"
    upload_trigger.handler(eventbridge_event("lake", key, 1024), context("trigger"))
    (run,) = _runs(job)
    assert run["Arguments"] == {"--source": UPLOAD}


@pytest.mark.parametrize(
    ("bucket", "key"),
    [
        ("other-bucket", UPLOAD),  # another bucket's upload
        ("lake", "raw/online_retail/ingest_date=2026-11-30/3f2a9c0d1e2b-x.csv"),  # a landing
        ("lake", "transformed/online_retail/invoice_lines/year=2011/month=03/x.parquet"),
        ("lake", "raw/online_retail/uploads/ingest_date=2026-11-30/"),  # a folder marker
    ],
)
def test_anything_but_an_upload_starts_nothing(job: str, bucket: str, key: str) -> None:
    answer = upload_trigger.handler(eventbridge_event(bucket, key, 0), context("trigger"))
    assert answer == {"started": None}
    assert _runs(job) == []


def test_a_workbook_is_skipped_not_failed(job: str) -> None:
    key = UPLOAD.replace(".csv.gz", ".xlsx")
    answer = upload_trigger.handler(eventbridge_event("lake", key, 10), context("trigger"))
    assert answer == {"started": None, "skipped": key}
    assert _runs(job) == []


def test_a_refused_start_fails_the_invocation_for_lambda_to_retry(job: str) -> None:
    """Glue refuses a start beyond MaxConcurrentRuns (moto's runs finish at once, so the
    refusal is stubbed); the error propagates: Lambda's asynchronous retries, then the
    on-failure destination."""
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    with Stubber(upload_trigger.glue()) as glue:
        glue.add_client_error(
            "start_job_run", "ConcurrentRunsExceededException", "Concurrent runs exceeded"
        )
        with pytest.raises(ClientError, match="ConcurrentRunsExceeded"):
            upload_trigger.handler(eventbridge_event("lake", UPLOAD, 1024), context("trigger"))


def test_an_event_without_a_key_is_an_error_not_a_silent_skip(job: str) -> None:
    event = eventbridge_event("lake", UPLOAD, 1)
    del event["detail"]["object"]["key"]
    with pytest.raises(OnlineRetailError):
        upload_trigger.handler(event, context("trigger"))
