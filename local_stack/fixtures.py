"""What a replay sends: the dataset lines picked (a day, a count, or all), and the bad
inputs it can inject, one of each kind the API and the stream must quarantine."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime

from ingestion.errors import OnlineRetailError
from ingestion.stream import settings
from local_stack.stack import LocalStack


def dataset_selection(
    lines: Sequence[str], *, day: str | None, count: int | None, skip: int = 0
) -> list[int]:
    """Indexes (into `lines`, header at 0) of the data lines to replay: the lines of one
    invoice day (`day` as YYYY-MM-DD), or `count` lines after `skip`, or all of them."""
    if day is not None:
        try:
            target = datetime.strptime(day, "%Y-%m-%d").date()
        except ValueError as error:
            raise OnlineRetailError(f"{day!r} is not a day as YYYY-MM-DD", field="--day") from error
        picked = []
        for i, row in enumerate(csv.reader(lines[1:]), start=1):
            stamp = row[4].split(" ")[0] if len(row) > 4 else ""
            try:
                if datetime.strptime(stamp, "%m/%d/%Y").date() == target:
                    picked.append(i)
            except ValueError:
                continue
        return picked
    stop = len(lines) if count is None else min(len(lines), 1 + skip + count)
    return list(range(1 + skip, stop))


DEFAULT_DAY = "2011-06-15"  # a typical day: 1,718 lines, the median day has 1,577

# Lines no client should send, one of each kind the API and the stream must quarantine.
_BAD_CSV_LINES = (
    "536999,22086,PAPER CHAIN KIT,six,12/1/2010 9:00,2.55,17850,United Kingdom",
    "536999,22086,PAPER CHAIN KIT,6,31/31/2010 9:00,2.55,17850,United Kingdom",
    "536999,,PAPER CHAIN KIT,6,12/1/2010 9:00,2.55,17850,United Kingdom",
    "536999,22086,PAPER CHAIN KIT,6,12/1/2010 9:00",
    "X536999,22086,PAPER CHAIN KIT,6,12/1/2010 9:00,2.5555,17850,United Kingdom",
)
_BAD_STREAM_RECORDS = (
    b'{"hello": "not an invoice line"}',
    b"\xff\xfe not UTF-8 at all",
    b'{"InvoiceNo": "536999", "StockCode": "22086", "Quantity": "6"}',
)


def bad_lines(count: int) -> tuple[list[str], list[bytes]]:
    """`count` bad inputs: CSV lines for the API and raw records put on the stream
    directly (by a producer that skips the API), in a fixed rotation."""
    kinds = len(_BAD_CSV_LINES) + len(_BAD_STREAM_RECORDS)
    n_csv = len(_BAD_CSV_LINES)
    csv_lines = [_BAD_CSV_LINES[i % kinds] for i in range(count) if i % kinds < n_csv]
    records = [
        _BAD_STREAM_RECORDS[i % kinds - len(_BAD_CSV_LINES)]
        for i in range(count)
        if i % kinds >= len(_BAD_CSV_LINES)
    ]
    return csv_lines, records


def put_direct(stack: LocalStack, records: Sequence[bytes]) -> None:
    for i, data in enumerate(records):
        settings.kinesis().put_record(
            StreamName=stack.settings.stream_name, Data=data, PartitionKey=f"direct-{i}"
        )
