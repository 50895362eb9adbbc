"""GET /customers/{customer_id}/invoices and GET /invoices/{invoice_no} over DynamoDB."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from support import parse_csv_lines
from test_stream_consumers import HEADER, kinesis_records

from ingestion.stream.handlers import kinesis_consumer, query_api
from local_stack.events import context, http_api_event, kinesis_event, rest_api_event


def get(path: str, resource: str, params: dict[str, str], query=None, http=False):
    if http:
        event = http_api_event(
            "GET",
            path,
            route=resource.replace("<", "{").replace(">", "}"),
            path_parameters=params,
            query=query,
        )
        response = query_api.handler(event, context("query"))
    else:
        event = rest_api_event(
            "GET",
            path,
            resource=resource.replace("<", "{").replace(">", "}"),
            path_parameters=params,
            query=query,
        )
        response = query_api.handler(event, context("query"))
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def stored(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:501]])
    event = kinesis_event(kinesis_records(rows), stream_env.stream_name, "consumer")
    assert kinesis_consumer.handler(event, context("consumer"))["batchItemFailures"] == []
    return rows


@pytest.mark.parametrize("http", [False, True], ids=["rest-v1", "http-v2"])
def test_an_invoice_with_all_its_lines(stored, http):
    invoice_no = stored[0]["InvoiceNo"]
    mine = [r for r in stored if r["InvoiceNo"] == invoice_no]
    status, body = get(
        f"/invoices/{invoice_no}",
        "/invoices/<invoice_no>",
        {"invoice_no": invoice_no},
        query={"limit": "100"},
        http=http,
    )
    assert status == 200
    assert len(body["lines"]) == len(mine)
    assert body["customer_id"] == mine[0]["CustomerID"]
    assert sorted((x["stock_code"], x["quantity"]) for x in body["lines"]) == sorted(
        (r["StockCode"], int(r["Quantity"])) for r in mine
    )


def test_a_customers_invoices_page_by_page(stored):
    customer = "17850"
    theirs = [r for r in stored if r["CustomerID"] == customer]
    invoices = {r["InvoiceNo"] for r in theirs}
    assert len(invoices) > 3
    seen, token, pages = [], None, 0
    while True:
        query = {"limit": "2", **({"next_token": token} if token else {})}
        status, body = get(
            f"/customers/{customer}/invoices",
            "/customers/<customer_id>/invoices",
            {"customer_id": customer},
            query=query,
        )
        assert status == 200
        seen += body["invoices"]
        pages += 1
        token = body["next_token"]
        if not token:
            break
    assert sorted(i["invoice_no"] for i in seen) == sorted(invoices)
    assert pages >= len(invoices) // 2
    amount = sum(Decimal(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in theirs)
    assert sum(Decimal(i["amount"]) for i in seen) == amount


def test_unknown_keys_are_404_and_malformed_ones_400(stored):
    assert get("/invoices/999999", "/invoices/<invoice_no>", {"invoice_no": "999999"})[0] == 404
    status, body = get("/invoices/12x", "/invoices/<invoice_no>", {"invoice_no": "12x"})
    assert status == 400 and body["parameter"] == "invoice_no"
    path, resource = "/customers/17850/invoices", "/customers/<customer_id>/invoices"
    params = {"customer_id": "17850"}
    assert get(path, resource, params, query={"limit": "0"})[0] == 400
    assert get(path, resource, params, query={"next_token": "!!"})[0] == 400
    status, _ = get("/customers/abc/invoices", resource, {"customer_id": "abc"})
    assert status == 400
