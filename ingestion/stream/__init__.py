"""The stream path: API Gateway -> Kinesis -> Lambda consumers -> DynamoDB and S3.

    api.py                 POST /invoices: read, validate, keep raw, PutRecords
    kinesis_consumer.py    Kinesis -> the customer and invoice tables in DynamoDB
    firehose_transform.py  Firehose's transformation Lambda: clean, partition keys
    query_api.py           GET /customers/{id}/invoices and GET /invoices/{invoice_no}

The handlers are thin: the work is in pure modules (`records`, `items`) over the shared
schema contract and cleaning rules. `local_runner` reproduces the parts of AWS that moto
does not (event source mappings, Firehose buffering and Parquet conversion) and `replay`
drives the whole path on a laptop (`make stream`).
"""
