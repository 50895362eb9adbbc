"""`make check-deploy` runs inside `make test`: the template lints, passes checkov (or says
why not), translates with AWS's SAM translator, the CI workflow passes actionlint, and the
template, created as a stack on moto's server, carries the stream replay (reconciled hop by
hop) with every AWS call allowed by its role and every grant used or explained.

One run of check-deploy serves every test here (it is the slow part of the suite)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROOF = PROJECT_DIR / "build" / "check-deploy" / "proof.json"
ROLES = {
    "ApiFunction",
    "ConsumerFunction",
    "TransformFunction",
    "QueryFunction",
    "PartitionRegistrarFunction",
    "UploadTriggerFunction",
    "DeliveryStream",
    "BatchJob",
    "CatalogCommand",
}


@pytest.fixture(scope="module")
def check_deploy() -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    if not (PROJECT_DIR / ".venv-tools" / "bin" / "checkov").exists():
        pytest.skip("checkov lives in .venv-tools: run `make tools` (make test does)")
    PROOF.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "scripts/check_deploy.py"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    figures = json.loads(PROOF.read_text()) if PROOF.exists() else {}
    return done, figures


def test_check_deploy_passes(check_deploy: tuple[Any, dict[str, Any]]) -> None:
    done, _ = check_deploy
    verdict = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0 and verdict.startswith("check-deploy: PASS"), done.stdout
    assert "stack on moto: created " in verdict and "replay reconciled" in verdict, verdict
    assert "0 denied, 0 wildcard actions, 0 unused grants unexplained" in verdict, verdict


def test_the_stack_holds_what_moto_can_create(check_deploy: tuple[Any, dict[str, Any]]) -> None:
    _, figures = check_deploy
    created = list(figures["created"].values())
    for kind, count in {
        "AWS::S3::Bucket": 1,
        "AWS::Kinesis::Stream": 1,
        "AWS::DynamoDB::Table": 3,
        "AWS::SQS::Queue": 2,
        "AWS::SNS::Topic": 1,
        "AWS::Lambda::Function": 6,
        "AWS::Events::Rule": 2,
        "AWS::Lambda::LayerVersion": 1,
        "AWS::ApiGateway::RestApi": 1,
    }.items():
        assert created.count(kind) == count, kind
    made = figures["made_by_api"]
    assert sum(v == "Glue CreateTable" for v in made.values()) == 4
    assert any("PutRestApi" in v for v in made.values())
    assert sum(v == "Lambda PutFunctionEventInvokeConfig" for v in made.values()) == 2
    # what neither moto nor the runner can make is named, with its reason
    assert set(figures["lint_only"]) == {"ApiGatewayAccount", "LakeBucketPolicy"}


def _batch_landed(lines: list[str]) -> int:
    """Lines the batch job lands from the same dataset lines (the other path, computed here)."""
    from ingestion.batch.job import run_batch_job
    from ingestion.lake import RAW_ZONE, Lake

    with tempfile.TemporaryDirectory() as folder:
        lake = Lake(folder)
        key = f"{RAW_ZONE}/slice.csv"
        lake.write_bytes(key, ("\n".join(lines) + "\n").encode())
        return run_batch_job(key, lake).rows_landed


def test_the_replay_on_the_stack_reconciles_every_hop(
    check_deploy: tuple[Any, dict[str, Any]],
) -> None:
    import gzip

    from ingestion.batch.dataset import verified_shipped_copy
    from local_stack.fixtures import bad_lines

    _, figures = check_deploy
    hops, count = figures["hops"], figures["lines"]
    with gzip.open(verified_shipped_copy(), "rt", encoding="utf-8", newline="") as f:
        lines = f.read().splitlines()[: count + 1]
    bad_csv, bad_records = bad_lines(8)
    landed = _batch_landed(lines)
    assert figures["reconciles"] == []
    assert hops["sent"] == count + len(bad_csv)
    assert hops["rejected_at_api"] == hops["quarantined_api"] == len(bad_csv)
    assert hops["in_kinesis_ids"] == hops["accepted"] + len(bad_records)
    assert hops["in_parquet_ids"] == landed
    assert hops["in_dynamodb_invoice_ids"] == hops["in_dynamodb_customer_ids"] == landed
    assert hops["quarantined_stream"] == len(bad_records) + (count - landed)
    assert figures["queries"] == {
        "/invoices/{invoice_no}": 200,
        "/customers/{customer_id}/invoices": 200,
    }


def test_every_call_allowed_and_every_grant_used_or_explained(
    check_deploy: tuple[Any, dict[str, Any]],
) -> None:
    _, figures = check_deploy
    roles = {r["principal"]: r for r in figures["roles"]}
    assert set(roles) == ROLES
    for name, role in roles.items():
        assert role["calls"] > 0, name
        assert role["denied"] == [], name
        assert role["wildcard_actions"] == [], name
        assert role["unexplained"] == [], name
    # the calls the code is known to make were recorded against the right roles
    assert "kinesis:PutRecords" in roles["ApiFunction"]["used"]
    assert "dynamodb:BatchWriteItem" in roles["ConsumerFunction"]["used"]
    assert "kinesis:GetRecords" in roles["ConsumerFunction"]["used"]  # the mapping's reads
    assert "dynamodb:Query" in roles["QueryFunction"]["used"]
    assert "lambda:InvokeFunction" in roles["DeliveryStream"]["used"]
    assert "s3:DeleteObject" in roles["BatchJob"]["used"]
    assert {
        "glue:BatchCreatePartition",
        "glue:UpdatePartition",
        "glue:BatchDeletePartition",
    } <= set(roles["CatalogCommand"]["used"])
    assert roles["PartitionRegistrarFunction"]["used"] == ["glue:BatchCreatePartition"]
    assert roles["UploadTriggerFunction"]["used"] == ["glue:StartJobRun"]


def test_lake_events_register_partitions_and_start_the_job_on_an_upload(
    check_deploy: tuple[Any, dict[str, Any]],
) -> None:
    """Firehose's Parquet reaches the registrar by the bucket's S3 notification; a file PUT
    to the URL POST /uploads gave reaches the upload trigger through EventBridge, whose job
    run carries the key; the month the run lands is registered from its objects."""
    _, figures = check_deploy
    events = figures["lake_events"]
    assert events["overlapping"] == [] and events["failures"] == []
    assert events["s3_notifications"] == {"PartitionRegistrarFunction": 1}  # Firehose's object
    assert events["registered_from_firehose"] == ["2010-12"]
    upload = events["upload"]
    assert upload["status"] == 201
    assert upload["key"].startswith("raw/online_retail/uploads/ingest_date=")
    assert upload["job_source"] == upload["source"] == upload["key"]
    assert upload["job_name"].endswith("-batch") and upload["started"]
    assert upload["registrar_invocations"] >= 1
    assert upload["month"] in upload["registered"]
    # a run of the job that ends badly is kept in the failure queue, a good one nowhere
    queue = events["failure_queue"]
    assert events["job_runs_routed"] == {"FAILED": [queue], "TIMEOUT": [queue], "SUCCEEDED": []}
