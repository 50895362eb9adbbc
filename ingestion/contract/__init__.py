"""The contract every path shares, pure (no boto3, no I/O): the schema of an invoice line
(`schema.py`) and the one set of cleaning rules with per-row lineage (`cleaning.py`)."""
