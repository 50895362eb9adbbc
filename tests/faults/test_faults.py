"""The fault-injection suite of issue 10 (local_stack/fault_suite.py), as `make test` runs
it: every AWS fault injected on the local stack, one day of lines through the whole
stream path each time, and for every fault: each line landed or quarantined exactly
once, by its identity, and the marts equal to the batch build's, to the penny.

`make faults` runs the same suite as a command and prints its table; here the table is
printed too (with `-s`), and each row is a test of its own.
"""

from __future__ import annotations

import pytest

from local_stack.fault_ledger import Row, render
from local_stack.fault_scenarios import SCENARIOS
from local_stack.fault_suite import INJECTED, RETRY_ATTEMPTS, read_slice, run_suite

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> dict[str, Row]:
    out = run_suite(tmp_path_factory.mktemp("faults"))
    print("\n" + "\n".join(render(out)))
    return {row.fault: row for row in out}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_line_lands_or_is_quarantined_exactly_once_under_the_fault(rows, scenario):
    row = rows[scenario.name]
    # the fault was really injected: its counters moved
    assert all(row.fired.get(name, 0) > 0 for name in scenario.proof), row.fired
    assert (row.lost, row.doubled) == (0, 0)
    assert row.lines_in == row.landed + row.quarantined
    assert row.problems == []  # marts = batch marts, lake = warehouse, every hop reconciled


def test_the_control_run_lands_the_day_and_quarantines_every_bad_input(rows):
    control = rows["none (control)"]
    assert control.fired == {}
    _, lines, _ = read_slice()
    assert (control.landed, control.quarantined) == (len(lines), INJECTED)
    kpl = rows["KPL aggregates"]
    assert (kpl.landed, kpl.quarantined) == (control.landed, control.quarantined)


def test_the_poison_record_holds_its_shard_no_longer_than_the_retry_bound(rows):
    fired = rows["poison record"].fired
    assert fired["on-failure batches"] == 1
    # each attempt: one BatchWriteItem refused, then its item alone (PutItem) refused;
    # 1 attempt + ConsumerMaximumRetryAttempts retries, then the shard moves on
    assert fired["poison refused"] <= 2 * (1 + RETRY_ATTEMPTS)
