"""Helpers the tests share (tests/ is on sys.path through conftest.py)."""

from __future__ import annotations

import csv
import gzip
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
