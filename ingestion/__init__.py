"""What ships to AWS (the stream Lambdas) or runs as a job, and imports nothing above it.

errors.py     OnlineRetailError, the one root exception
lake.py       the lake's zones, key names, filesystem and Parquet settings
contract/     the schema and the cleaning rules
batch/        the batch job and its readers
stream/       the stream path: handlers and the pure modules they call
catalog/      the tables in Glue, and Redshift's SQL
s3_select.py  S3 Select over one object of the lake
"""
