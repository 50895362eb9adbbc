"""The benchmark's inputs: the real dataset scaled up, or cut down to its first lines.

The 10x input is generated from the real lines, streamed and gzipped into a temporary
folder: copy k (k = 0..9) of the whole file, in order, with 1,000,000 * k added to the
invoice number (its C/A prefix kept) and 2 * k years added to the invoice date. The
real data spans 13 months (Dec 2010 - Dec 2011), so copies never share a partition,
and the real dates hold no 29 February, so every shifted date stays valid.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

INVOICE_STRIDE = 1_000_000  # added to the invoice number per copy
YEAR_STRIDE = 2  # years added to the invoice date per copy
BLOCK_BYTES = 16 * 1024 * 1024

_INVOICE = re.compile(rb"^([A-Za-z]?)([0-9]+),", re.MULTILINE)
_DATE = re.compile(rb",([0-9]{1,2}/[0-9]{1,2}/)([0-9]{4}) ")


def _shift(block: bytes, copy: int) -> bytes:
    """Copy `copy` of whole lines: invoice numbers and dates moved clear of copy 0."""
    if copy == 0:
        return block
    add_invoice, add_years = copy * INVOICE_STRIDE, copy * YEAR_STRIDE
    block = _INVOICE.sub(lambda m: b"%s%d," % (m[1], int(m[2]) + add_invoice), block)
    return _DATE.sub(lambda m: b",%s%d " % (m[1], int(m[2]) + add_years), block)


def write_scaled(source: Path, dest: Path, factor: int) -> None:
    """`factor` shifted copies of `source`'s lines, streamed a block of whole lines at a time."""
    with gzip.open(dest, "wb", compresslevel=1) as out:
        for copy in range(factor):
            with gzip.open(source, "rb") as src:
                header = src.readline()
                if copy == 0:
                    out.write(header)
                while block := src.read(BLOCK_BYTES):
                    out.write(_shift(block + src.readline(), copy))  # end on a whole line


def write_head(source: Path, dest: Path, lines: int) -> None:
    """The header and the first `lines` data lines of `source`."""
    with gzip.open(source, "rb") as src, gzip.open(dest, "wb", compresslevel=1) as out:
        for _ in range(lines + 1):
            out.write(src.readline())
