"""The Spark job equals the single-process job: row for row on the full dataset, line for
line on injected bad lines across many blocks, and a re-run replaces its own output.

One local[2] SparkSession serves the module; without Java or a working pyspark the tests
skip and say why.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from support import PROJECT_DIR, write_csv

from ingestion.batch import sources
from ingestion.batch.job import BatchResult, run_batch_job
from ingestion.batch.spark_job import local_session, main, run_spark_job
from ingestion.lake import (
    MANIFEST_ZONE,
    QUARANTINE_ZONE,
    TRANSFORMED_ZONE,
    Lake,
    land_file,
    output_name,
)

INGESTED_AT = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)  # one for both jobs: rows compare whole
DATASET = PROJECT_DIR / "data" / "online_retail.csv.gz"
SMALL_BLOCK = 24 * 1024  # bytes: the bad-line file becomes 6 blocks, one task each


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("java not found: pyspark needs a JRE (Debian: openjdk-17-jre-headless)")
    try:
        session = local_session(
            "local[2]",
            **{
                "spark.sql.shuffle.partitions": "2",
                "spark.default.parallelism": "2",
                "spark.driver.memory": "1g",
            },
        )
    except Exception as error:  # a JVM that cannot start, a pyspark that cannot talk to it
        pytest.skip(f"pyspark cannot start a local session: {error}")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def first_difference(expected: pa.Table, actual: pa.Table) -> str:
    for name in expected.column_names:
        a, b = expected[name].to_pylist(), actual[name].to_pylist()
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return f"column {name}, row {i}: {x!r} != {y!r}"
    return "schemas differ"


def assert_same_output(single: Lake, spark_lake: Lake) -> int:
    """Every file of the transformed and quarantine zones: same name, same rows in the same
    order, every column equal. Returns the number of rows compared."""
    keys = [k for zone in (TRANSFORMED_ZONE, QUARANTINE_ZONE) for k in single.files_under(zone)]
    assert keys == [
        k for zone in (TRANSFORMED_ZONE, QUARANTINE_ZONE) for k in spark_lake.files_under(zone)
    ]
    rows = 0
    for key in keys:
        expected, actual = pq.read_table(single.path(key)), pq.read_table(spark_lake.path(key))
        assert actual.schema.equals(expected.schema), key
        assert actual.num_rows == expected.num_rows, key
        assert actual.equals(expected), f"{key}: {first_difference(expected, actual)}"
        rows += actual.num_rows
    return rows


def assert_same_manifest(single: BatchResult, spark_result: BatchResult, lake: Lake) -> None:
    untimed = {"started_at", "finished_at"}
    expected = {k: v for k, v in vars(single).items() if k not in untimed}
    assert {k: v for k, v in vars(spark_result).items() if k not in untimed} == expected
    name = single.output_files[-1].rsplit("/", 1)[-1].removesuffix(".parquet")
    written = json.loads(lake.read_bytes(f"{MANIFEST_ZONE}/{name}.json"))
    assert {k: v for k, v in written.items() if k not in untimed} == expected


@pytest.fixture(scope="module")
def full_runs(spark, tmp_path_factory):
    """Both jobs on the whole dataset, landed as `make run` lands it."""
    lakes = [Lake(str(tmp_path_factory.mktemp(name))) for name in ("single", "spark")]
    keys = [land_file(str(DATASET), lake) for lake in lakes]
    assert keys[0] == keys[1]  # one arrival key: the day, the content digest, the name
    assert re.fullmatch(
        r"raw/online_retail/ingest_date=[\d-]{10}/[0-9a-f]{12}-online_retail\.csv\.gz", keys[0]
    )
    single = run_batch_job(keys[0], lakes[0], ingested_at=INGESTED_AT)
    spark_result = run_spark_job(spark, keys[1], lakes[1], ingested_at=INGESTED_AT)
    return lakes, single, spark_result


def test_the_full_dataset_lands_row_for_row_as_the_single_job_lands_it(full_runs) -> None:
    (single_lake, spark_lake), single, spark_result = full_runs
    assert spark_result.rows_in == 541_909
    assert spark_result.rows_in == spark_result.rows_landed + spark_result.rows_quarantined
    assert assert_same_output(single_lake, spark_lake) == 541_909
    assert_same_manifest(single, spark_result, spark_lake)
    assert len(spark_result.partitions) == 13


def test_lineage_names_the_exact_line_of_the_file(full_runs, dataset_lines) -> None:
    (_, spark_lake), _, spark_result = full_runs
    table = ds.dataset(spark_lake.path(TRANSFORMED_ZONE), format="parquet").to_table(
        columns=["event_id", "source_line_number", "invoice_no", "stock_code", "country"]
    )
    numbers = table["source_line_number"].to_pylist()
    assert sorted(numbers) == list(range(2, len(dataset_lines) + 1))  # every line, once
    assert table["event_id"].to_pylist() == [f"{spark_result.source_file}:{n}" for n in numbers]
    # the test's own reading of each numbered line holds the row's values
    values = table["invoice_no"].to_pylist(), table["stock_code"].to_pylist()
    for number, invoice_no, stock_code in zip(numbers, *values, strict=True):
        fields = next(csv.reader([dataset_lines[number - 1]]))
        assert (fields[0], fields[1].strip()) == (invoice_no, stock_code), number


def with_description(line: str, description: str) -> str:
    fields = next(csv.reader([line]))
    fields[2] = description
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def bad_file(slice_lines: list[str], path: Path) -> Path:
    """A real slice with bad lines, a blank line, a UTF-8 é early and a Latin-1 £ late
    (the reader switches encoding at that block), and no newline after the last line."""
    lines = list(slice_lines[:1501])
    lines[5] = lines[5].replace("12/1/2010", "13/45/2010")  # line 6: impossible date
    lines[9] = "536999,85123A,TOO SHORT,6"  # line 10: four fields
    lines[20] = lines[20].replace(",United Kingdom", ",")  # line 21: no country
    lines[29] = ""  # line 30: blank, not a record
    lines[49] = lines[49].replace(",6,", ",six,", 1)  # line 50: not a whole number
    lines[99] = with_description(lines[99], "CAFÉ, CRÈME ")  # line 100: quoted, a comma
    lines[1199] = with_description(lines[1199], "£5 VOUCHER")  # line 1200: Latin-1 from here
    head = "\n".join(lines[:1199]).encode("utf-8")
    tail = "\n".join(lines[1199:]).encode("latin-1")
    data = head + b"\n" + tail  # no final newline
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("name", ["bad_lines.csv", "bad_lines.csv.gz"])
def test_bad_lines_are_quarantined_as_the_single_job_does(
    spark, slice_lines, tmp_path, monkeypatch, name
) -> None:
    source = bad_file(slice_lines, tmp_path / name)
    lakes = [Lake(str(tmp_path / "single")), Lake(str(tmp_path / "spark"))]
    keys = [land_file(str(source), lake) for lake in lakes]
    monkeypatch.setattr(sources, "CHUNK_BYTES", SMALL_BLOCK)  # the single job's blocks too
    single = run_batch_job(keys[0], lakes[0], ingested_at=INGESTED_AT)
    spark_result = run_spark_job(
        spark, keys[1], lakes[1], ingested_at=INGESTED_AT, block_bytes=SMALL_BLOCK
    )
    assert source.stat().st_size > 4 * SMALL_BLOCK or name.endswith(".gz")
    assert assert_same_output(*lakes) == 1499  # 1,500 lines after the header, one blank
    assert_same_manifest(single, spark_result, lakes[1])
    assert spark_result.encoding == "latin-1"
    quarantine = pq.read_table(lakes[1].path(single.output_files[-1])).to_pylist()
    assert {(q["source_line_number"], q["field"]) for q in quarantine} == {
        (6, "InvoiceDate"),
        (10, "(line)"),
        (21, "Country"),
        (50, "Quantity"),
    }
    landed = ds.dataset(lakes[1].path(TRANSFORMED_ZONE), format="parquet").to_table()
    numbers, descriptions = landed["source_line_number"], landed["description"]
    by_line = dict(zip(numbers.to_pylist(), descriptions.to_pylist(), strict=True))
    assert (by_line[100], by_line[1200]) == ("CAFÉ, CRÈME", "£5 VOUCHER")


def test_a_rerun_replaces_its_output_and_the_single_jobs(spark, slice_lines, tmp_path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    key = land_file(str(write_csv(tmp_path / "online_retail.csv.gz", slice_lines)), lake)
    first = run_spark_job(spark, key, lake)
    files = lake.files_under("transformed") + lake.files_under("quarantine")
    for run in (run_spark_job, run_batch_job, run_spark_job):  # either job, either order
        again = run(spark, key, lake) if run is run_spark_job else run(key, lake)
        assert lake.files_under("transformed") + lake.files_under("quarantine") == files
        assert again.rows_landed == first.rows_landed
        table = ds.dataset(lake.path(TRANSFORMED_ZONE), format="parquet").to_table()
        assert table.num_rows == first.rows_landed
        assert len(set(table["event_id"].to_pylist())) == table.num_rows
    assert lake.files_under("tmp") == []  # the staging folder is emptied

    # the arrival's raw object corrected in place, then the same arrival run again
    december_only = [slice_lines[0], *(line for line in slice_lines[1:] if "/2010 " in line)]
    lake.write_bytes(key, write_csv(tmp_path / "december.csv.gz", december_only).read_bytes())
    shorter = run_spark_job(spark, key, lake)
    assert list(shorter.partitions) == ["2010-12"]
    assert len(lake.files_under(TRANSFORMED_ZONE)) == 1


def test_the_command_line_runs_the_job_outside_glue(spark, slice_lines, tmp_path, capsys) -> None:
    lake = Lake(str(tmp_path / "lake"))
    key = land_file(str(write_csv(tmp_path / "cli.csv", slice_lines[:201])), lake)
    assert main(["--source", key, "--lake-root", lake.root]) == 0  # reuses the session
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (printed["rows_in"], printed["rows_landed"]) == (200, 200)
    assert printed == json.loads(lake.read_bytes(f"{MANIFEST_ZONE}/{output_name(key)}.json"))
