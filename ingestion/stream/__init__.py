"""The stream path: API Gateway -> Kinesis -> Lambda consumers -> DynamoDB and S3.

    handlers/           the four Lambdas, thin: event -> plain values -> pure code -> response
      api.py                 POST /invoices
      kinesis_consumer.py    Kinesis -> the customer and invoice tables in DynamoDB
      firehose_transform.py  Firehose's transformation Lambda: clean, partition keys
      query_api.py           GET /customers/{id}/invoices and GET /invoices/{invoice_no}
    request_bodies.py   a request body -> numbered lines, and why a line was rejected
    records.py          the Kinesis record of a line (its lineage envelope), and cleaning them
    intake.py           POST /invoices' work: judge, keep, quarantine, send
    producer.py         PutRecords within Kinesis' limits, with retries
    items.py            the DynamoDB items of cleaned lines (pure)
    queries.py          the query API's reads: a customer's invoices, an invoice's lines
    item_store.py       reading and writing those items in batches
    output.py           the stream path's keys in the lake, Parquet objects, Firehose's JSON lines
    settings.py         settings from the environment, boto3 clients made once per container

The laptop emulator of this path is the top-level `local_stack` package, never shipped.
"""
