"""What the BI tests share (a module of its own: two conftest.py files would clash on
import by name)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

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
