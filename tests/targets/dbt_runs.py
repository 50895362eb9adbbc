"""Running dbt on this project from the tests: one target, its own artefact folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]


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
