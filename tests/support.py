"""Helpers the tests share (tests/ is on sys.path through conftest.py)."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
from pathlib import Path


def parse_csv_lines(lines: list[str]) -> list[dict[str, str]]:
    """The test's own reading of CSV lines, independent of the ingestion package."""
    return list(csv.DictReader(lines))


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    data = ("\n".join(lines) + "\n").encode(encoding)
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


PROJECT_DIR = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")


def dbt_env(workdir: Path, lake: Path | None = None, warehouse: Path | None = None) -> dict:
    """The environment for dbt on this project with its artefacts and logs under
    `workdir`, never the repo's target/ (builds run side by side)."""
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",  # offline: no tracking calls
    }
    if lake is not None:
        env["LAKE_ROOT"] = str(lake)
    if warehouse is not None:
        env["DUCKDB_PATH"] = str(warehouse)
    return env


def run_dbt(
    args: list[str], workdir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`dbt <args>` in the project, artefacts and logs under `workdir`."""
    return subprocess.run(
        [str(DBT), *args],
        cwd=PROJECT_DIR,
        env={**dbt_env(workdir), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
