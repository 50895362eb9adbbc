"""A throttled PutRecords loses nothing: a proxy in front of moto throttles like Kinesis.

moto never throttles, so the Kinesis client is pointed (AWS_ENDPOINT_URL_KINESIS, the
same setting as any endpoint) at a small HTTP proxy that answers the first PutRecords
with ProvisionedThroughputExceededException for the whole call, and the next ones with
a partial failure: it forwards half the records to moto and reports the other half
failed, in Kinesis' response shape. Everything else passes through unchanged.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_stream_api import HEADER, post, stream_contents

from ingestion.stream import settings


class ThrottlingProxy(ThreadingHTTPServer):
    def __init__(self, upstream: str, throttled_calls: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream, self.throttled_calls = upstream, throttled_calls
        self.put_calls = 0
        self.records_refused = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: ThrottlingProxy

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".PutRecords"):
            with self.server.lock:
                self.server.put_calls += 1
                call = self.server.put_calls
            if call <= self.server.throttled_calls:
                self._put_records(call, json.loads(body))
                return
        status, headers, data = self._forward(body)
        self._answer(status, data, headers.get("Content-Type", "application/x-amz-json-1.1"))

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
        }
        request = urllib.request.Request(
            self.server.upstream + self.path, body, headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def _put_records(self, call: int, request: dict) -> None:
        records = request["Records"]
        if call == 1:  # the whole call throttled
            self.server.records_refused += len(records)
            error = {"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded"}
            self._answer(400, json.dumps(error).encode())
            return
        keep = records[: len(records) // 2]
        status, _, data = self._forward(json.dumps({**request, "Records": keep}).encode())
        assert status == 200, data
        landed = json.loads(data)["Records"]
        refused = len(records) - len(keep)
        self.server.records_refused += refused
        failed = {
            "ErrorCode": "ProvisionedThroughputExceededException",
            "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream",
        }
        answer = {"FailedRecordCount": refused, "Records": landed + [failed] * refused}
        self._answer(200, json.dumps(answer).encode())

    def _answer(
        self, status: int, data: bytes, content_type: str = "application/x-amz-json-1.1"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def throttling_kinesis(stream_env, aws_env, monkeypatch) -> Iterator[ThrottlingProxy]:
    proxy = ThrottlingProxy(aws_env, throttled_calls=6)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    host, port = proxy.server_address
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", f"http://{host}:{port}")
    monkeypatch.setenv("PUT_RECORDS_BASE_DELAY_SECONDS", "0.01")
    settings.cold_start()  # a new container, with the new endpoint
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_throttled_put_records_are_retried_until_every_line_is_in_the_stream(
    throttling_kinesis, stream_env, slice_lines
):
    lines = slice_lines[1:1201]
    status, answer = post("\n".join([HEADER, *lines]).encode())
    assert status == 202
    assert answer["accepted"] == 1200 and answer["rejected"] == 0
    assert throttling_kinesis.records_refused >= 500 + 250  # the first call, then halves
    records = stream_contents(stream_env)
    ids = [r["event_id"] for r in records]
    assert len(ids) == 1200 and len(set(ids)) == 1200  # every line once, nothing lost
    assert sorted(r["source_line_number"] for r in records) == list(range(2, 1202))


def test_lines_kinesis_keeps_refusing_are_a_503_to_retry(
    throttling_kinesis, stream_env, monkeypatch, slice_lines
):
    throttling_kinesis.throttled_calls = 10_000
    monkeypatch.setenv("PUT_RECORDS_MAX_ATTEMPTS", "3")
    settings.cold_start()
    status, answer = post("\n".join(slice_lines[:9]).encode(), **{"Idempotency-Key": "k-1"})
    assert status == 503
    assert answer["unsent"] + answer["accepted"] == 8 and answer["unsent"] > 0
    assert "same Idempotency-Key" in answer["message"]
    sent_first = {r["event_id"] for r in stream_contents(stream_env)}
    # A 503 is not kept as the key's answer: the retry runs again, once Kinesis takes
    # lines, and sends the lines under the same ids (those already in collapse).
    throttling_kinesis.throttled_calls = 0
    status, answer = post("\n".join(slice_lines[:9]).encode(), **{"Idempotency-Key": "k-1"})
    assert status == 202 and answer["accepted"] == 8
    ids = {r["event_id"] for r in stream_contents(stream_env)}
    assert ids == {f"k-1:{n}" for n in range(2, 10)} and sent_first < ids
