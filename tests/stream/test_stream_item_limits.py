"""DynamoDB's 400 KB item limit and hot partitions, with the largest real invoice.

Invoice 573585 has 1,114 lines and no customer. Sent three times without an
Idempotency-Key (a client retrying), its lines must still fit DynamoDB's items, every
line must be stored and answered by GET /invoices/{invoice_no}, and lines without a
customer must not pile up under one partition key.
"""

from __future__ import annotations

import csv
from collections import Counter
from decimal import Decimal

import pytest
from dynamodb_sizes import ITEM_LIMIT_BYTES, item_size
from test_stream_api import HEADER, post
from test_stream_query_api import get

from ingestion.stream import settings
from ingestion.stream.handlers import kinesis_consumer
from local_stack.kinesis_mapping import EventSourceMapping

INVOICE = "573585"
FILE_KEY = "raw/online_retail/online_retail.csv.gz"


@pytest.fixture(scope="module")
def largest_invoice(dataset_lines):
    """(file line number, line) of every line of invoice 573585, in file order."""
    lines = [
        (n, line) for n, line in enumerate(dataset_lines, start=1) if line.startswith(f"{INVOICE},")
    ]
    assert len(lines) == 1114
    return lines


def consume(config: settings.Settings) -> EventSourceMapping:
    mapping = EventSourceMapping(
        kinesis_consumer.handler, "consumer", config.stream_name, batch_size=1000
    )
    while mapping.poll():
        pass
    return mapping


def scan(table: str) -> list[dict]:
    pages = settings.dynamodb().get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [item for page in pages for item in page["Items"]]


def invoice_pages(invoice_no: str) -> list[dict]:
    lines, token = [], None
    while True:
        query = {"limit": "100", **({"next_token": token} if token else {})}
        status, body = get(
            f"/invoices/{invoice_no}",
            "/invoices/<invoice_no>",
            {"invoice_no": invoice_no},
            query=query,
        )
        assert status == 200
        lines += body["lines"]
        token = body["next_token"]
        if not token:
            return lines


def amount(lines: list[str]) -> Decimal:
    rows = csv.DictReader([HEADER, *lines])
    return sum((Decimal(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in rows), Decimal(0))


def test_the_largest_invoice_sent_three_times_fits_every_item_and_loses_nothing(
    stream_env, largest_invoice
):
    body = "\n".join([HEADER, *(line for _, line in largest_invoice)]).encode()
    for _ in range(3):  # no Idempotency-Key and no line ids: three requests of new lines
        status, answer = post(body)
        assert (status, answer["accepted"]) == (202, 1114)
    mapping = consume(stream_env)
    # Before: the guest's one item of the invoice grew past 400 KB on the second copy,
    # PutItem failed, and the shard was retried until its records went to the
    # on-failure destination.
    assert mapping.stats.reported_failures == 0 and mapping.stats.on_failure == []
    items = scan(stream_env.invoice_table) + scan(stream_env.customer_table)
    sizes = [item_size(i) for i in items]
    assert max(sizes) <= ITEM_LIMIT_BYTES
    assert max(sizes) < 2 * 1024  # items of one line (or one invoice summary) stay small
    # every line of every request is stored once (the GET is the next test's)
    lines = [i for i in items if "LineId" in i]
    assert len({i["LineId"]["S"] for i in lines}) == len(lines) == 3 * 1114
    stored = sum(Decimal(i["Quantity"]["N"]) * Decimal(i["UnitPrice"]["N"]) for i in lines)
    assert stored == 3 * amount([line for _, line in largest_invoice])
    (summary,) = [i for i in items if "LineCount" in i]
    assert (summary["LineCount"]["N"], Decimal(summary["Amount"]["N"])) == (str(3 * 1114), stored)


def test_the_largest_invoice_retried_with_its_line_ids_is_answered_once(
    stream_env, largest_invoice
):
    header = f"event_id,{HEADER}"
    rows = [f"{FILE_KEY}:{n},{line}" for n, line in largest_invoice]
    body = "\n".join([header, *rows]).encode()
    for _ in range(3):  # a client naming its lines, retrying without an Idempotency-Key
        assert post(body)[0] == 202
    mapping = consume(stream_env)
    assert mapping.stats.reported_failures == 0
    assert max(item_size(i) for i in scan(stream_env.customer_table)) <= ITEM_LIMIT_BYTES

    lines = invoice_pages(INVOICE)
    assert sorted(line["event_id"] for line in lines) == sorted(
        f"{FILE_KEY}:{n}" for n, _ in largest_invoice
    )
    expected = amount([line for _, line in largest_invoice])
    assert (
        sum(Decimal(line["quantity"]) * Decimal(line["unit_price"]) for line in lines) == expected
    )

    # the guest's invoice list shows it once, with its lines counted once
    invoices, token = [], None
    while True:
        query = {"limit": "100", **({"next_token": token} if token else {})}
        status, page = get(
            "/customers/UNKNOWN/invoices",
            "/customers/<customer_id>/invoices",
            {"customer_id": "UNKNOWN"},
            query=query,
        )
        assert status == 200
        invoices += page["invoices"]
        token = page["next_token"]
        if not token:
            break
    assert [(i["invoice_no"], i["lines"], Decimal(i["amount"])) for i in invoices] == [
        (INVOICE, 1114, expected)
    ]


def test_lines_without_a_customer_are_spread_over_many_partition_keys(stream_env, slice_lines):
    # guest lines from all over the year (every 150th line of the file after the first 3,000)
    guests = [line for line in slice_lines[3001:] if line.split(",")[-2] == ""][:300]
    guest_invoices = {line.split(",")[0] for line in guests}
    assert len(guest_invoices) > 150
    assert post("\n".join([HEADER, *guests]).encode())[0] == 202
    consume(stream_env)
    # Before: every guest line was under the one customer key UNKNOWN.
    keys = {
        table: Counter(next(iter(i[k].values())) for i in scan(table) for k in [_partition(table)])
        for table in (stream_env.customer_table, stream_env.invoice_table)
    }
    assert len(keys[stream_env.customer_table]) >= 8
    assert max(keys[stream_env.customer_table].values()) < len(guest_invoices) / 4
    assert len(keys[stream_env.invoice_table]) >= len(guest_invoices) / 2


def _partition(table: str) -> str:
    schema = settings.dynamodb().describe_table(TableName=table)["Table"]["KeySchema"]
    return next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
