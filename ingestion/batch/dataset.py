"""The UCI Online Retail dataset: the copy shipped in data/, and the original from UCI.

The original is an Excel workbook inside a zip. Its bytes are not pinned (UCI may re-zip
it), so `fetch_original` checks what matters: the workbook's content digest, the digest
of its lines after the cleaning rules, must equal the shipped copy's. The shipped copy
itself is checked against the file digest published with it.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.fs as pafs

from ingestion.batch.sources import ReadReport, read_source
from ingestion.contract.cleaning import Lineage, clean_batch
from ingestion.contract.schema import COLUMN_NAMES
from ingestion.errors import OnlineRetailError

# The repository: ingestion/batch/dataset.py is two folders below it.
PROJECT_DIR = Path(__file__).resolve().parents[2]
SHIPPED_COPY = PROJECT_DIR / "data" / "online_retail.csv.gz"
SHIPPED_COPY_SHA256 = "860145820894f47617f679fb7bc4866cbf6b54c40cc553fa0fd89144599a0104"
UCI_URL = "https://archive.ics.uci.edu/static/public/352/online+retail.zip"
WORKBOOK_NAME = "Online Retail.xlsx"

# sha256 of the cleaned lines of the full dataset (see content_digest): the shipped CSV
# and UCI's workbook must both give it.
CONTENT_SHA256 = "cfcc09da9d7dd169d329e2d3cc95d58fab8bff46203fb33e88cc609eecf0cc4f"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def content_digest(path: Path) -> tuple[str, int]:
    """sha256 over the cleaned contract columns of every line, in file order, and the
    number of lines: equal for any faithful copy, whatever its format or encoding."""
    digest = hashlib.sha256()
    lines = 0
    read_at = datetime.now(UTC)
    columns = list(COLUMN_NAMES.values())
    for chunk in read_source(str(path.resolve()), pafs.LocalFileSystem(), ReadReport()):
        lineage = Lineage.of_file(path.name, read_at, chunk.line_numbers)
        result = clean_batch(chunk.lines, lineage)
        for row in result.landed.select(columns).to_pylist():
            digest.update(repr(tuple(row.values())).encode())
        lines += result.landed.num_rows + result.quarantined.num_rows + len(chunk.malformed)
    return digest.hexdigest(), lines


def verified_shipped_copy() -> Path:
    actual = file_sha256(SHIPPED_COPY)
    if actual != SHIPPED_COPY_SHA256:
        raise OnlineRetailError(
            f"{SHIPPED_COPY}: sha256 {actual}, expected {SHIPPED_COPY_SHA256}; "
            "restore it with `git checkout data/`"
        )
    return SHIPPED_COPY


@dataclass
class FetchResult:
    path: Path
    origin: str  # "uci" or "shipped copy"
    note: str


def fetch_original(
    target_dir: Path, url: str = UCI_URL, timeout: float = 30.0, expected: str = CONTENT_SHA256
) -> FetchResult:
    """Download the workbook from UCI and check its content; fall back to the shipped
    copy when there is no network (the usual case on CI and in tests)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except OSError as error:  # URLError, timeouts and refused connections
        shipped = verified_shipped_copy()
        return FetchResult(shipped, "shipped copy", f"could not download {url} ({error})")
    except ValueError as error:  # not a URL at all: the user's mistake, not the network's
        raise OnlineRetailError(f"cannot download {url!r}: {error}", setting="--url") from error
    target_dir.mkdir(parents=True, exist_ok=True)
    workbook = target_dir / "online_retail.xlsx"
    with (
        zipfile.ZipFile(io.BytesIO(payload)) as archive,
        archive.open(WORKBOOK_NAME) as src,
        workbook.open("wb") as out,
    ):
        shutil.copyfileobj(src, out)
    actual, lines = content_digest(workbook)
    if actual != expected:
        raise OnlineRetailError(
            f"{workbook}: content digest {actual} over {lines:,} lines, expected {expected}"
        )
    return FetchResult(workbook, "uci", f"downloaded {url}; {lines:,} lines, content verified")
