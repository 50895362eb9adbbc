"""The SQL lints clean in the dialect of every target: DuckDB (the committed .sqlfluff's
dialect) and each warehouse's, so SQL one engine rejects is caught before it runs there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
SQL_PATHS = ["models", "macros", "tests", "analyses"]


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "redshift", "athena"])
def test_the_project_lints_clean_in_the_targets_dialect(dialect: str) -> None:
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    done = subprocess.run(
        [
            str(sqlfluff),
            "lint",
            *SQL_PATHS,
            "--dialect",
            dialect,
            "--processes",
            "2",
            "--format",
            "github-annotation-native",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:]
