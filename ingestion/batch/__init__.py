"""The batch path: a file as received -> the raw zone -> cleaned, partitioned Parquet.

sources.py   readers for the real-world copies (CSV / XLSX, encodings, date layouts)
job.py       the single-process batch job (`run_batch_job`, `BatchResult`)
dataset.py   the shipped copy of the dataset and the download from UCI
spark_job.py the same job on AWS Glue Spark
upload_trigger.py  the Lambda that starts the Glue job when POST /uploads' file lands
"""
