"""Fixtures of the stream tests: the stack's resources on moto's server, per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ingestion.stream import settings
from local_stack.stack import create_stack


@pytest.fixture
def stream_env(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[settings.Settings]:
    """A bucket, stream and tables of their own on moto's server, named through the
    environment as on AWS; the handlers' clients start cold, as in a new container."""
    name = f"t{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("LAKE_ROOT", f"s3://{name}-lake")
    monkeypatch.setenv("STREAM_NAME", f"{name}-lines")
    monkeypatch.setenv("DELIVERY_STREAM_NAME", f"{name}-lines")
    monkeypatch.setenv("CUSTOMER_TABLE", f"{name}-customers")
    monkeypatch.setenv("INVOICE_TABLE", f"{name}-invoices")
    monkeypatch.setenv("IDEMPOTENCY_TABLE", f"{name}-idempotency")
    monkeypatch.setenv("STREAM_SHARDS", "2")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OnlineRetailTests")
    # moto answers a Query of a few thousand items in seconds on a busy laptop (AWS in
    # milliseconds): be as patient as the local stack is.
    monkeypatch.setenv("AWS_READ_TIMEOUT_SECONDS", "120")
    settings.cold_start()
    config = settings.current()
    create_stack(config, shards=2)
    yield config
    settings.cold_start()
