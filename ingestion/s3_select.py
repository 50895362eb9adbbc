"""S3 Select over one object of the lake: the prototype's quick look at a file without
starting Athena or Redshift.

    online-retail select s3://bucket/lake/transformed/.../year=2011/month=09/x.parquet \
        "select s.invoice_no, s.quantity from s3object s where s.country = 'France'"

The input serialisation follows the key: `.parquet` (the transformed and quarantine
zones), `.json` (a batch manifest, one document), `.csv` / `.csv.gz` (the raw zone, with
its header row). S3 bills by bytes scanned; the result says how many.

Note that AWS closed S3 Select to new customers on 25 July 2024: accounts that never used
it get an error, and Athena (partition-pruned, over Parquet) is the way to query the lake.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ingestion.errors import OnlineRetailError, reaching_aws


@dataclass
class SelectResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    bytes_scanned: int | None = None
    bytes_returned: int | None = None


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri.removeprefix("s3://"):
        raise OnlineRetailError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bucket, key


def input_serialization(key: str) -> dict[str, Any]:
    """S3 Select's InputSerialization for a lake object, from its name."""
    name = key.lower()
    if name.endswith(".parquet"):
        return {"Parquet": {}}
    if name.endswith(".json"):
        # a manifest is one JSON document (a single object), not JSON lines
        return {"JSON": {"Type": "DOCUMENT"}, "CompressionType": "NONE"}
    if name.endswith((".csv", ".csv.gz")):
        return {
            # header names the columns (s.InvoiceNo); descriptions hold quoted commas
            "CSV": {"FileHeaderInfo": "USE", "QuoteCharacter": '"', "FieldDelimiter": ","},
            "CompressionType": "GZIP" if name.endswith(".gz") else "NONE",
        }
    raise OnlineRetailError(f"S3 Select reads Parquet, JSON or CSV; cannot tell what {key!r} is")


def parse_event_stream(events: Any) -> SelectResult:
    """Collect the JSON-lines Records events (a record may be split across events)."""
    result = SelectResult()
    payload = bytearray()
    for event in events:
        if "Records" in event:
            payload += event["Records"]["Payload"]
        elif "Stats" in event:
            details = event["Stats"]["Details"]
            result.bytes_scanned = details.get("BytesScanned")
            result.bytes_returned = details.get("BytesReturned")
    result.records = [json.loads(line) for line in payload.decode("utf-8").splitlines() if line]
    return result


def select(uri: str, expression: str, client: Any | None = None) -> SelectResult:
    """Run one S3 Select expression over one object; records come back as dicts."""
    import boto3

    bucket, key = split_uri(uri)
    client = client or boto3.client("s3")
    with reaching_aws("S3"):
        response = client.select_object_content(
            Bucket=bucket,
            Key=key,
            Expression=expression,
            ExpressionType="SQL",
            InputSerialization=input_serialization(key),
            OutputSerialization={"JSON": {"RecordDelimiter": "\n"}},
        )
        return parse_event_stream(response["Payload"])
