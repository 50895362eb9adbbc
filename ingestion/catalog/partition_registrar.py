"""S3 ObjectCreated events on the transformed zone -> Glue partitions of invoice_lines.

Firehose's dynamic partitioning (and the batch job) write new `year=YYYY/month=MM/`
prefixes whenever invoices of a new month arrive; Athena and Redshift Spectrum read only
the partitions registered in the Glue Data Catalog, so a new prefix is invisible until it
is registered. This handler registers each object's partition as it is created. It is
idempotent (a partition that exists is success), so S3 delivering an event twice or late
changes nothing. `online-retail catalog` still reconciles (updates and prunes).

    handler string   ingestion.catalog.partition_registrar.handler
    trigger          S3 event notification s3:ObjectCreated:* on
                     <lake prefix>/transformed/online_retail/invoice_lines/
    environment      GLUE_DATABASE (default online_retail_lake)
    IAM              glue:BatchCreatePartition on the catalog, the database and the
                     invoice_lines table; nothing on S3 (the event names the key)
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingestion.catalog.glue import partitions_in_s3_event, register_partitions
from ingestion.catalog.tables import glue_database

logger = Logger(service="online-retail-partition-registrar")


@functools.cache
def glue() -> Any:
    """One Glue client per container (boto3 honours AWS_ENDPOINT_URL for the local stack)."""
    return boto3.client("glue")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    partitions = partitions_in_s3_event(event)
    created = register_partitions(glue(), glue_database(), partitions) if partitions else []
    result = {
        "partitions_seen": [f"{p.year}-{p.month}" for p in partitions],
        "partitions_created": [f"{p.year}-{p.month}" for p in created],
    }
    logger.info("partitions registered", extra=result)
    return result
