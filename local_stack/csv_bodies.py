"""Dataset lines as CSV request bodies for POST /invoices, sent at a given rate.

Each body's first column is the client's event id, the line's identity in the dataset
(`raw/online_retail/<file>:<line>`, the batch job's own ids), so a replay of the same
lines, or the batch job over the same file, collapses to the same rows downstream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from local_stack.stack import LocalStack


@dataclass
class Tally:
    requests: int = 0
    sent: int = 0  # lines in the requests
    accepted: int = 0
    rejected: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


def csv_bodies(
    header: str, lines: Sequence[str], event_ids: Sequence[str], per_request: int
) -> Iterator[tuple[bytes, int]]:
    """CSV bodies of at most `per_request` lines, each line prefixed by its event id."""
    for start in range(0, len(lines), per_request):
        part = range(start, min(start + per_request, len(lines)))
        text = "\n".join([f"event_id,{header}", *(f"{event_ids[i]},{lines[i]}" for i in part)])
        yield (text + "\n").encode("utf-8"), len(part)


def send_lines(
    stack: LocalStack,
    header: str,
    lines: Sequence[str],
    event_ids: Sequence[str],
    *,
    per_request: int = 500,
    rate: float = 0.0,
) -> Tally:
    """Send lines through POST /invoices at `rate` lines per second (0: as fast as the
    handler goes), letting the consumers poll between requests as they would."""
    tally = Tally()
    started = time.monotonic()
    for body, count in csv_bodies(header, lines, event_ids, per_request):
        response = stack.post(body)
        answer = json.loads(response["body"])
        tally.requests += 1
        tally.sent += count
        tally.accepted += answer.get("accepted", 0)
        tally.rejected += answer.get("rejected", 0)
        tally.statuses[response["statusCode"]] = tally.statuses.get(response["statusCode"], 0) + 1
        stack.pump()
        if rate > 0:
            ahead = tally.sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    tally.seconds = time.monotonic() - started
    return tally
