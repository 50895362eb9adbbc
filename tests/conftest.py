"""Shared fixtures: small, real slices of the shipped dataset (data/ is in the repo)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
DATASET = PROJECT_DIR / "data" / "online_retail.csv.gz"


def read_dataset_lines() -> list[str]:
    with gzip.open(DATASET, "rt", encoding="utf-8", newline="") as f:
        return f.read().splitlines()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs on two workers (pytest-xdist, `--dist loadgroup`): each file stays
    on one worker, so its module fixtures (a stack, a dbt build, a PostgreSQL server) are
    made once, and tests/bi whole, as its files share one `online-retail run`."""
    tests = Path(__file__).resolve().parent
    for item in items:
        parts = item.path.resolve().relative_to(tests).parts
        group = "bi" if parts[0] == "bi" else "/".join(parts)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def dataset_lines() -> list[str]:
    """Every line of the real file, header first."""
    return read_dataset_lines()


@pytest.fixture(scope="session")
def slice_lines(dataset_lines: list[str]) -> list[str]:
    """A real slice in file order: the first 3,000 lines, every 150th line after them
    (all thirteen months), every line with a £ sign and the three adjustment lines."""
    header, body = dataset_lines[0], dataset_lines[1:]
    picked = [
        line
        for i, line in enumerate(body)
        if i < 3000 or i % 150 == 0 or "£" in line or line.startswith("A")
    ]
    return [header, *picked]


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    """moto's server, for real, on a free loopback port: boto3 and pyarrow talk HTTP to it."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every AWS client of this test at moto's server, with dummy credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_endpoint
