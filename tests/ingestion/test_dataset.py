"""The dataset: the shipped copy is verified; the UCI download is checked by content."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from support import parse_csv_lines, write_csv

from ingestion.batch.dataset import (
    CONTENT_SHA256,
    SHIPPED_COPY,
    SHIPPED_COPY_SHA256,
    WORKBOOK_NAME,
    content_digest,
    fetch_original,
    file_sha256,
)
from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.errors import OnlineRetailError


def test_the_shipped_copy_has_its_published_digest() -> None:
    assert file_sha256(SHIPPED_COPY) == SHIPPED_COPY_SHA256


def test_the_content_digest_of_the_shipped_copy_is_the_pinned_one() -> None:
    assert content_digest(SHIPPED_COPY) == (CONTENT_SHA256, 541_909)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_without_a_network_fetch_falls_back_to_the_shipped_copy(tmp_path) -> None:
    result = fetch_original(tmp_path, url=f"http://127.0.0.1:{closed_port()}/online+retail.zip")
    assert result.origin == "shipped copy"
    assert result.path == SHIPPED_COPY
    assert "could not download" in result.note


def workbook_zip(lines: list[str]) -> bytes:
    """A zip like UCI's: the sheet with typed cells, under the original's name."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(SOURCE_COLUMNS))
    for row in parse_csv_lines(lines):
        sheet.append(
            [
                row["InvoiceNo"],
                row["StockCode"],
                row["Description"] or None,
                int(row["Quantity"]),
                datetime.strptime(row["InvoiceDate"], "%m/%d/%Y %H:%M"),
                float(row["UnitPrice"]),
                float(row["CustomerID"]) if row["CustomerID"] else None,
                row["Country"],
            ]
        )
    xlsx = io.BytesIO()
    book.save(xlsx)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(WORKBOOK_NAME, xlsx.getvalue())
    return archive.getvalue()


@pytest.fixture
def served_zip(slice_lines) -> Iterator[str]:
    payload = workbook_zip(slice_lines[:400])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/online+retail.zip"
    server.shutdown()


def test_a_download_whose_content_matches_is_accepted(served_zip, slice_lines, tmp_path) -> None:
    expected, lines = content_digest(write_csv(tmp_path / "slice.csv", slice_lines[:400]))
    result = fetch_original(tmp_path / "downloads", url=served_zip, expected=expected)
    assert result.origin == "uci"
    assert result.path == Path(tmp_path / "downloads" / "online_retail.xlsx")
    assert f"{lines:,} lines, content verified" in result.note


def test_a_download_whose_content_differs_is_refused(served_zip, tmp_path) -> None:
    with pytest.raises(OnlineRetailError, match="content digest"):
        fetch_original(tmp_path, url=served_zip, expected=CONTENT_SHA256)
