"""The command line: a user's mistake gets one clear line and exit code 2, no traceback."""

from __future__ import annotations

from support import write_csv

from cli.main import main
from ingestion.lake import Lake, land_file


def test_a_file_that_is_not_online_retail_data_is_refused_clearly(tmp_path, capsys) -> None:
    lake = Lake(str(tmp_path / "lake"))
    key = land_file(str(write_csv(tmp_path / "orders.csv", ["order,amount", "1,2"])), lake)
    assert main(["--lake", lake.root, "batch", key]) == 2
    err = capsys.readouterr().err
    assert "online-retail batch: error:" in err
    assert "line 1: header lacks column(s) InvoiceNo" in err
    assert "Traceback" not in err


def test_a_missing_file_is_named(tmp_path, capsys) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["--lake", str(tmp_path / "lake"), "land", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_batch_prints_the_counts(slice_lines, tmp_path, capsys) -> None:
    lake = Lake(str(tmp_path / "lake"))
    key = land_file(str(write_csv(tmp_path / "day.csv", slice_lines[:101])), lake)
    assert main(["--lake", lake.root, "batch", key]) == 0
    out = capsys.readouterr().out
    assert "rows in         100" in out
    assert "landed          100" in out
