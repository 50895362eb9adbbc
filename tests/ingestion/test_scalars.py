"""Arrow constants built from their bytes equal pyarrow's own, and the batch job's clean
path never imports pandas (pyarrow would, on the first plain Python value)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from support import write_csv

from ingestion.contract.scalars import const, empty_table, int64_range
from ingestion.contract.schema import INVOICE_LINE_SCHEMA, QUARANTINE_SCHEMA

CASES = [
    ("is missing", pa.string()),
    ("", pa.string()),
    ("£ naïve", pa.string()),
    (True, pa.bool_()),
    (False, pa.bool_()),
    (100, pa.int64()),
    (-(2**63), pa.int64()),
    (2**31 - 1, pa.int64()),
    (-7, pa.int32()),
    (None, pa.string()),
    (None, pa.int64()),
    (datetime(2011, 12, 9, 12, 50, 0, 123456, tzinfo=UTC), pa.timestamp("us", tz="UTC")),
    (  # an aware time in another zone is the same instant
        datetime(2011, 12, 9, 13, 50, tzinfo=timezone(timedelta(hours=1))),
        pa.timestamp("us", tz="UTC"),
    ),
    (datetime(1960, 1, 1, tzinfo=UTC), pa.timestamp("us", tz="UTC")),
]


@pytest.mark.parametrize(("value", "type_"), CASES)
def test_a_constant_equals_pyarrows_scalar(value, type_) -> None:
    made = const(value, type_)
    assert made.type == type_
    assert made.equals(pa.scalar(value, type_))
    assert made.as_py() == value


@pytest.mark.parametrize("schema", [QUARANTINE_SCHEMA, INVOICE_LINE_SCHEMA])
def test_an_empty_table_equals_pyarrows(schema) -> None:
    assert empty_table(schema).equals(schema.empty_table(), check_metadata=True)


def test_a_range_of_line_numbers() -> None:
    assert int64_range(2, 4).equals(pa.array([2, 3, 4, 5], pa.int64()))
    assert len(int64_range(7, 0)) == 0


def test_the_batch_job_on_a_clean_file_imports_no_pandas(slice_lines, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "slice.csv.gz", slice_lines)
    script = (
        "import sys\n"
        "from ingestion.batch.job import run_batch_job\n"
        "from ingestion.lake import Lake, land_file\n"
        f"lake = Lake({str(tmp_path / 'lake')!r})\n"
        f"result = run_batch_job(land_file({str(path)!r}, lake), lake)\n"
        "assert result.rows_landed == result.rows_in > 0, result\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"  # pandas costs ~0.5 CPU s to import
