"""The lake's tables: their one definition (`tables`), registered in the Glue Data Catalog
(`glue`), and loaded into Redshift (`redshift_sql`).

This replaces the prototype's Glue crawler. A crawler guesses types from the files and
drifts when a file looks different; here every table's columns come from the schema
contract (`ingestion/contract/schema.py`), so Athena, Redshift Spectrum and the batch job agree.

    database   GLUE_DATABASE (default online_retail_lake): the dbt sources read it
    tables     invoice_lines       transformed zone, Parquet, partitions year / month
               quarantined_lines   quarantine zone, Parquet
               batch_manifests     manifests zone, JSON (one object per batch run)
               raw_invoice_lines   raw zone, the CSV files as received (all strings)

`register_lake()` is idempotent: a table equal to its definition is left alone (no new
version), a table that differs is updated (Glue keeps the old one as a version, so a
schema change is visible in the table's history and never a silent drift), and the
partitions registered are exactly the year=/month= folders present in the lake.

The same definitions give the DDL of native tables (Redshift's COPY path, PostgreSQL in
the tests) and Redshift's COPY statements, so no engine has a column list of its own.
"""
