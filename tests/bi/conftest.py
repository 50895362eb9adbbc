"""One real run for every BI test: `online-retail run` on a real slice of the dataset (land,
batch job, dbt build, docs, dashboard) into a temporary lake, warehouse and target folder,
exactly as `make run` does on the full file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from support import write_csv

PROJECT_DIR = Path(__file__).resolve().parents[2]
BROKEN_LINE = 50  # index in the slice (0 = header) of the line given a bad quantity


@dataclass(frozen=True)
class BiRun:
    workdir: Path
    warehouse: Path
    target: Path  # dbt's target folder of this run (docs site, manifest, bi/)
    stdout: str

    def env(self) -> dict[str, str]:
        """The environment the run used, for further dbt or CLI calls on its warehouse."""
        return {
            **os.environ,
            "LAKE_ROOT": str(self.workdir / "lake"),
            "DUCKDB_PATH": str(self.warehouse),
            "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(self.workdir / "logs"),
        }

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


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
