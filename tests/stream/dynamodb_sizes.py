"""DynamoDB's item size, computed by the tests from AWS's rules, independently of the code.

Strings and binaries count their bytes (UTF-8), numbers about one byte per two
significant digits plus one, booleans and nulls one byte; a list or map 3 bytes plus
one byte per element plus its elements (a map element also counts its name); an item
is the sum of its attribute names and values. The limit is 400 KB of 1,024 bytes.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html
"""

from __future__ import annotations

import math
from typing import Any

ITEM_LIMIT_BYTES = 400 * 1024


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0]
    significant = digits.strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "B":
        return len(v)
    if kind == "N":
        return _number_size(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in v)
    if kind == "NS":
        return sum(_number_size(n) for n in v)
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(e) for k, e in v.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """Bytes of a low-level item (attribute names plus values)."""
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())
