"""The one set of cleaning rules, applied to a batch of raw lines at a time.

Pure functions over Arrow arrays: no I/O, no boto3. The batch job, the stream Lambdas
and the tests all call `clean_batch`, so a line is judged the same way on every path.

A raw line is eight text values named as in the source (`schema.SOURCE_COLUMNS`).
Each rule turns one of them into its typed contract column or says why it cannot;
a line that fails any rule is quarantined with the first field that failed, in
source column order, and a reason that quotes the value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract.scalars import as_type, const, empty_table, split, with_schema
from ingestion.contract.schema import (
    COLUMN_NAMES,
    INVOICE_LINE_SCHEMA,
    QUARANTINE_SCHEMA,
    SOURCE_COLUMNS,
    UNIT_PRICE_TYPE,
)
from ingestion.errors import OnlineRetailError

# Timestamp layouts seen in real copies of the dataset, tried in this order. Slash dates
# are month first, as in the UCI CSV exports (`12/1/2010 8:26` is 1 December 2010).
DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("M/D/YYYY H:MM", "%m/%d/%Y %H:%M"),
    ("YYYY-MM-DD HH:MM:SS", "%Y-%m-%d %H:%M:%S"),
    ("YYYY-MM-DDTHH:MM:SS", "%Y-%m-%dT%H:%M:%S"),
    ("YYYY-MM-DD HH:MM", "%Y-%m-%d %H:%M"),
    ("M/D/YYYY H:MM:SS", "%m/%d/%Y %H:%M:%S"),
)

_INVOICE_NO = r"^[A-Za-z]?[0-9]+$"  # 536365, C536379 (cancellation), A563185 (adjustment)
_WHOLE_NUMBER = r"^[+-]?[0-9]{1,9}(\.0*)?$"  # 6, -6, and 6.0 from spreadsheet exports
_PRICE = r"^[+-]?[0-9]{1,9}(\.[0-9]{0,3}0*)?$"  # at most 3 significant decimals: 0.001
_CUSTOMER_ID = r"^[0-9]+(\.0*)?$"  # 17850 or 17850.0
_TRAILING_ZERO_FRACTION = r"\.0*$"
_INT32_MAX = 2**31 - 1
INGESTED_AT_TYPE = pa.timestamp("us", tz="UTC")
# Constants as Arrow scalars (see `scalars`: a plain Python value would import pandas).
_NULL_TEXT = const(None, pa.string())
_EMPTY_TEXT = const("", pa.string())
_MISSING = const("is missing", pa.string())
_FALSE = const(False, pa.bool_())
_NULL_INT64 = const(None, pa.int64())
_INT32_MAX_SCALAR = const(_INT32_MAX, pa.int64())


EMPTY_QUARANTINE = empty_table(QUARANTINE_SCHEMA)


@dataclass(frozen=True)
class Lineage:
    """Where each raw line of a batch came from, one value per row.

    A file's lines share a source and an ingestion time (`Lineage.of_file`); a batch of
    stream records does not, and passes each record's own values, so every row lands or
    is quarantined with its real lineage.
    """

    event_ids: pa.Array  # string: the line's identity, for deduplication downstream
    source_files: pa.Array  # string: path relative to the lake root, or a stream's name
    line_numbers: pa.Array  # int64: the line's position in its source
    ingested_at: pa.Array  # timestamp("us", tz="UTC")

    @classmethod
    def of_file(
        cls,
        source_file: str,
        ingested_at: datetime,
        line_numbers: Sequence[int] | pa.Array,
        event_ids: Sequence[str] | pa.Array | None = None,
    ) -> Lineage:
        """The lines of one source read at one time. Event ids default to
        `<source_file>:<line_number>`, so a re-run of the same file gives the same ids."""
        numbers = _as_array(line_numbers, pa.int64())
        n = len(numbers)
        source = const(source_file, pa.string())
        if event_ids is None:
            text = pc.cast(numbers, pa.string())
            event_ids = pc.binary_join_element_wise(source, text, const(":", pa.string()))
        at = const(ingested_at, INGESTED_AT_TYPE)
        return cls(
            event_ids=_as_array(event_ids, pa.string()),
            source_files=pa.repeat(source, n) if n else pa.nulls(0, pa.string()),
            line_numbers=numbers,
            ingested_at=pa.repeat(at, n) if n else pa.nulls(0, INGESTED_AT_TYPE),
        )

    def filter(self, mask: pa.Array) -> Lineage:
        """The lineage of the rows where `mask` is true."""
        return Lineage(
            self.event_ids.filter(mask),
            self.source_files.filter(mask),
            self.line_numbers.filter(mask),
            self.ingested_at.filter(mask),
        )


def _as_array(values: Sequence | pa.Array, type_: pa.DataType) -> pa.Array:
    if isinstance(values, pa.Array) and values.type == type_:
        return values
    return pa.array(values, type_)


@dataclass
class CleanResult:
    landed: pa.Table  # INVOICE_LINE_SCHEMA
    quarantined: pa.Table  # QUARANTINE_SCHEMA
    date_formats: dict[str, int] = field(default_factory=dict)  # format name -> lines
    passed: pa.Array | None = None  # boolean per input row; None: every row landed

    @property
    def landed_positions(self) -> list[int]:
        """Positions in the input batch of the landed rows, in order."""
        if self.passed is None:
            return list(range(self.landed.num_rows))
        return pc.indices_nonzero(self.passed).to_pylist()

    @property
    def quarantined_positions(self) -> list[int]:
        """Positions in the input batch of the quarantined rows, in order."""
        if self.passed is None:
            return []
        return pc.indices_nonzero(pc.invert(self.passed)).to_pylist()


@dataclass
class _Rule:
    """The outcome of one field's rule: typed values, and a reason where it failed."""

    values: pa.Array
    reason: pa.Array  # string; null where the value passed


def _texts(columns: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """`_text` of each column (the rules' input), in one call a step for all of them."""
    whole = _text(pa.concat_arrays(list(columns.values())))
    return dict(zip(columns, split(whole, [len(c) for c in columns.values()]), strict=True))


def _text(values: pa.Array) -> pa.Array:
    """Trimmed text, with empty strings as null."""
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, _EMPTY_TEXT), _NULL_TEXT, trimmed)


def _quote(values: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("'", pc.fill_null(values, ""), "'", "")


def _fails(failed: pa.Array, values: pa.Array, message: str) -> pa.Array:
    """`message: 'value'` where `failed` is true, else null."""
    if not pc.any(failed).as_py():  # a null is not a failure: any() skips it
        return pa.nulls(len(values), pa.string())  # the usual case, at no cost
    failed = pc.fill_null(failed, _FALSE)
    text = pc.binary_join_element_wise(message, _quote(values), ": ")
    return pc.if_else(failed, text, pa.scalar(None, pa.string()))


def _required(values: pa.Array) -> pa.Array:
    if values.null_count == 0:
        return pa.nulls(len(values), pa.string())
    return pc.if_else(pc.is_null(values), _MISSING, _NULL_TEXT)


def _first_reason(*reasons: pa.Array) -> pa.Array:
    found = [r for r in reasons if r.null_count < len(r)] or [reasons[0]]  # usually none
    return pc.coalesce(*found) if len(found) > 1 else found[0]


def _invoice_no(text: pa.Array) -> _Rule:
    bad = pc.invert(pc.match_substring_regex(text, _INVOICE_NO))
    message = "is not an invoice number (digits, optionally after one letter such as C or A)"
    return _Rule(text, _first_reason(_required(text), _fails(bad, text, message)))


def _required_text(text: pa.Array) -> _Rule:
    return _Rule(text, _required(text))


def _optional_text(text: pa.Array) -> _Rule:
    return _Rule(text, pa.nulls(len(text), pa.string()))


def _without_zero_fraction(text: pa.Array) -> pa.Array:
    """`17850.0` -> `17850`; skipped when no value has a point (the usual CSV)."""
    if not pc.any(pc.match_substring(text, ".")).as_py():
        return text
    return pc.replace_substring_regex(text, _TRAILING_ZERO_FRACTION, "")


def _quantity(text: pa.Array) -> _Rule:
    ok = pc.fill_null(pc.match_substring_regex(text, _WHOLE_NUMBER), _FALSE)
    digits = _without_zero_fraction(text)
    as_int64 = pc.cast(pc.if_else(ok, digits, _NULL_TEXT), pa.int64())
    in_range = pc.fill_null(pc.less_equal(pc.abs(as_int64), _INT32_MAX_SCALAR), _FALSE)
    ok = pc.and_(ok, in_range)
    values = pc.cast(pc.if_else(ok, as_int64, _NULL_INT64), pa.int32())
    reason = _first_reason(
        _required(text),
        _fails(pc.invert(ok), text, "is not a whole number of units"),
    )
    return _Rule(values, reason)


def _invoiced_at(text: pa.Array, counts: dict[str, int], rows: pa.Array | None = None) -> _Rule:
    """`rows`: each line's position in `raw` where `raw` holds distinct values, so that
    `counts` counts lines, not values, per layout."""
    parsed = pa.nulls(len(text), pa.timestamp("us"))
    for name, layout in DATE_FORMATS:
        if not pc.any(pc.and_(pc.is_valid(text), pc.is_null(parsed))).as_py():
            break  # every present value has parsed
        attempt = pc.strptime(text, format=layout, unit="us", error_is_null=True)
        newly = pc.and_(pc.is_null(parsed), pc.is_valid(attempt))
        matched = pc.sum(newly if rows is None else newly.take(rows)).as_py() or 0
        if matched:
            counts[name] = counts.get(name, 0) + matched
            parsed = pc.coalesce(parsed, attempt)
    known = ", ".join(name for name, _ in DATE_FORMATS)
    reason = _first_reason(
        _required(text),
        _fails(pc.is_null(parsed), text, f"is not a timestamp in a known layout ({known})"),
    )
    return _Rule(parsed, reason)


def _unit_price(text: pa.Array) -> _Rule:
    ok = pc.fill_null(pc.match_substring_regex(text, _PRICE), _FALSE)
    values = pc.cast(pc.if_else(ok, text, _NULL_TEXT), UNIT_PRICE_TYPE)
    reason = _first_reason(
        _required(text),
        _fails(pc.invert(ok), text, "is not a price with at most 3 decimals"),
    )
    return _Rule(values, reason)


def _customer_id(text: pa.Array) -> _Rule:
    # Absent customers stay null: they are guest checkouts, not a customer called 'unknown'.
    bad = pc.invert(pc.match_substring_regex(text, _CUSTOMER_ID))
    return _Rule(_without_zero_fraction(text), _fails(bad, text, "is not a numeric customer id"))


def _distinct(column: pa.Array) -> pa.DictionaryArray:
    """A text column as its distinct values (nulls among them) and each row's index."""
    return pc.dictionary_encode(column, null_encoding="encode")


def _spread(values: pa.Array, encoded: pa.DictionaryArray, raw: pa.Array) -> pa.Array:
    """A rule's result for the distinct values, spread back over the rows. Text the rule
    left as it was (no blank, nothing trimmed: the usual column) is the raw column itself."""
    if (
        values.type == pa.string()
        and values.null_count == 0
        and pc.all(pc.equal(values, encoded.dictionary)).as_py()
    ):
        return raw
    return values.take(encoded.indices)


def clean_batch(raw: pa.Table, lineage: Lineage) -> CleanResult:
    """Apply the cleaning rules to `raw` (string columns named as in SOURCE_COLUMNS),
    whose rows came from where `lineage` says, row by row.

    A column repeats its values (541,909 lines hold 23,260 timestamps and 1,630 prices),
    so each rule judges a column's distinct values once and its verdicts are spread back
    over the rows: the same result per row, at a fraction of the regex and parse work."""
    n = raw.num_rows
    missing = [c for c in SOURCE_COLUMNS if c not in raw.column_names]
    if missing:
        raise OnlineRetailError(f"the raw batch lacks columns {', '.join(missing)}")
    col = {c: as_type(raw.column(c).combine_chunks(), pa.string()) for c in SOURCE_COLUMNS}
    encoded = {c: _distinct(col[c]) for c in SOURCE_COLUMNS}
    distinct = _texts({c: encoded[c].dictionary for c in SOURCE_COLUMNS})  # trimmed

    date_formats: dict[str, int] = {}
    date_rows = encoded["InvoiceDate"].indices
    rules: dict[str, _Rule] = {
        "InvoiceNo": _invoice_no(distinct["InvoiceNo"]),
        "StockCode": _required_text(distinct["StockCode"]),
        "Description": _optional_text(distinct["Description"]),
        "Quantity": _quantity(distinct["Quantity"]),
        "InvoiceDate": _invoiced_at(distinct["InvoiceDate"], date_formats, date_rows),
        "UnitPrice": _unit_price(distinct["UnitPrice"]),
        "CustomerID": _customer_id(distinct["CustomerID"]),
        "Country": _required_text(distinct["Country"]),
    }

    # The first failing field, in source column order, names the line's quarantine reason.
    failed_field = pa.nulls(n, pa.string())
    reason = pa.nulls(n, pa.string())
    for name in SOURCE_COLUMNS:
        if rules[name].reason.null_count == len(rules[name].reason):
            continue  # no value of this column failed: the usual case, at no cost per row
        this_reason = rules[name].reason.take(encoded[name].indices)
        this_failed = pc.and_(pc.is_null(reason), pc.is_valid(this_reason))
        failed_field = pc.if_else(this_failed, pa.scalar(name), failed_field)
        reason = pc.coalesce(reason, this_reason)
    passed = pc.is_null(reason)

    landed = pa.table(
        {
            "event_id": lineage.event_ids,
            "source_file": lineage.source_files,
            "source_line_number": lineage.line_numbers,
            "ingested_at": lineage.ingested_at,
            **{
                COLUMN_NAMES[source]: _spread(rules[source].values, encoded[source], col[source])
                for source in SOURCE_COLUMNS
            },
        }
    ).select(INVOICE_LINE_SCHEMA.names)
    if reason.null_count == n:  # the usual batch: nothing to set aside
        return CleanResult(with_schema(landed, INVOICE_LINE_SCHEMA), EMPTY_QUARANTINE,
                           date_formats)  # fmt: skip

    rejected = pc.invert(passed)
    kept = lineage.filter(rejected)
    quarantined = quarantine_table(
        event_ids=kept.event_ids,
        source_file=kept.source_files,
        line_numbers=kept.line_numbers,
        ingested_at=kept.ingested_at,
        fields=failed_field.filter(rejected),
        reasons=reason.filter(rejected),
        raw_records=_raw_records(raw.filter(rejected)),
    )
    landed = with_schema(landed.filter(passed), INVOICE_LINE_SCHEMA)
    return CleanResult(landed, quarantined, date_formats, passed)


def _raw_records(raw: pa.Table) -> list[str]:
    columns = [c for c in SOURCE_COLUMNS if c in raw.column_names]
    return [json.dumps(row, ensure_ascii=False) for row in raw.select(columns).to_pylist()]


def quarantine_table(
    *,
    event_ids: Sequence[str] | pa.Array,
    source_file: str | pa.Array,
    line_numbers: Sequence[int] | pa.Array,
    ingested_at: datetime | pa.Array,
    fields: Sequence[str] | pa.Array,
    reasons: Sequence[str] | pa.Array,
    raw_records: Sequence[str],
) -> pa.Table:
    """Rows for the quarantine zone (QUARANTINE_SCHEMA); `source_file` and `ingested_at`
    are one value for every row or an array with one per row."""
    n = len(raw_records)
    return pa.table(
        {
            "event_id": pa.array(event_ids, pa.string()),
            "source_file": _per_row(source_file, n, pa.string()),
            "source_line_number": pa.array(line_numbers, pa.int64()),
            "ingested_at": _per_row(ingested_at, n, INGESTED_AT_TYPE),
            "field": pa.array(fields, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "raw_record": pa.array(raw_records, pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _per_row(value: object, n: int, type_: pa.DataType) -> pa.Array:
    if isinstance(value, pa.Array):
        return value.cast(type_)
    return pa.array([value] * n, type_)


def raw_table(records: Iterable[Mapping[str, object]]) -> pa.Table:
    """A raw batch from records keyed by source column name (e.g. decoded JSON).

    Values of any JSON type become text, so the rules judge `6`, `6.0` and `"6"` alike.
    """
    rows = list(records)
    return pa.table(
        {
            name: pa.array([_as_text(row.get(name)) for row in rows], pa.string())
            for name in SOURCE_COLUMNS
        }
    )


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)
