"""One real run for every BI test: `online-retail run` on a real slice of the dataset (land,
batch job, dbt build, docs, dashboard) into a temporary lake, warehouse and target folder,
exactly as `make run` does on the full file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bi_support import BROKEN_LINE, PROJECT_DIR, BiRun
from support import write_csv


@pytest.fixture(scope="session")
def bi_run(slice_lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> BiRun:
    workdir = tmp_path_factory.mktemp("bi_run")
    # one line the batch job must quarantine, so the ingestion chart has both kinds of rows
    lines = [*slice_lines[:BROKEN_LINE], slice_lines[BROKEN_LINE].replace(",6,", ",six,", 1),
             *slice_lines[BROKEN_LINE + 1 :]]  # fmt: skip
    assert lines[BROKEN_LINE] != slice_lines[BROKEN_LINE]
    source = write_csv(workdir / "online_retail_slice.csv.gz", lines)
    run = BiRun(workdir, workdir / "warehouse.duckdb", workdir / "target", "")
    cli = Path(sys.executable).with_name("online-retail")
    done = subprocess.run(
        [str(cli), "--lake", str(workdir / "lake"), "--warehouse", str(run.warehouse),
         "run", "--source", str(source)],
        cwd=PROJECT_DIR, env=run.env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    return BiRun(run.workdir, run.warehouse, run.target, done.stdout)
