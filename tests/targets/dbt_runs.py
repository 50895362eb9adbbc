"""Running dbt on this project from the tests: one target, its own artefact folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]


def run_dbt(
    args: list[str], workdir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`dbt <args>` in the project, artefacts and logs under `workdir`, never the repo's."""
    full_env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",  # offline: no tracking calls
        **(env or {}),
    }
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(dbt), *args], cwd=PROJECT_DIR, env=full_env, capture_output=True, text=True
    )


def manifest(workdir: Path) -> dict[str, Any]:
    return json.loads((workdir / "target" / "manifest.json").read_text())


def mart_models(workdir: Path) -> list[str]:
    """Every model under models/marts/, from dbt's own manifest."""
    return sorted(
        node["name"]
        for node in manifest(workdir)["nodes"].values()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("models/marts/")
        and node["config"]["materialized"] in ("table", "incremental")
    )
