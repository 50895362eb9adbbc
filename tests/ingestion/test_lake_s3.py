"""The same batch job with the lake on S3 (moto's server), as it runs in production."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow.dataset as ds
from support import write_csv

from ingestion.batch.job import run_batch_job
from ingestion.lake import RAW_ZONE, TRANSFORMED_ZONE, Lake, land_file, output_name


def test_the_batch_job_reads_and_writes_an_s3_lake(aws_env, slice_lines, tmp_path) -> None:
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    lake = Lake(f"s3://{bucket}/online-retail")

    source = write_csv(tmp_path / "slice.csv.gz", slice_lines)
    key = land_file(str(source), lake)
    result = run_batch_job(key, lake)
    # landed again the next day: the arrival already in the bucket, nothing copied
    assert land_file(str(source), lake, datetime.now(UTC) + timedelta(days=1)) == key
    raw = s3.list_objects_v2(Bucket=bucket, Prefix=f"online-retail/{RAW_ZONE}/")["Contents"]
    assert [o["Key"] for o in raw] == [f"online-retail/{key}"]

    assert result.rows_landed == len(slice_lines) - 1
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"online-retail/{TRANSFORMED_ZONE}/")
    keys = sorted(o["Key"] for o in listed["Contents"])
    assert len(keys) == 13
    assert keys[0].endswith(f"year=2010/month=12/{output_name(key)}.parquet")
    table = ds.dataset(
        lake.path(TRANSFORMED_ZONE),
        filesystem=lake.filesystem,
        format="parquet",
        partitioning="hive",
    ).to_table()
    assert table.num_rows == result.rows_landed

    again = run_batch_job(key, lake)  # idempotent on S3 too
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"online-retail/{TRANSFORMED_ZONE}/")
    assert sorted(o["Key"] for o in listed["Contents"]) == keys
    assert again.rows_landed == result.rows_landed
