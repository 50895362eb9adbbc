"""One measurement of the batch benchmark, run in a fresh interpreter (the benchmark
script with `--child`): the three methods it times (the job, DuckDB's floor, pandas)
and the wall time, CPU time and peak memory of one run; and `cold_command`, the whole
process as a user runs it (interpreter start and imports included), for the CPU time
the parent reads from the finished child's resource usage."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

METHODS = ("job", "duckdb", "pandas")


def _peak_mib() -> float:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource  # not Linux: ru_maxrss is KiB on most systems, bytes on macOS

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


class _Clock:
    """Wall and CPU time (user + system, every thread of the process) since creation."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


Timed = tuple[int, tuple[float, float]]  # rows, (wall seconds, CPU seconds)


def _job(source: Path, workdir: Path) -> Callable[[], Timed]:
    from ingestion.batch.job import run_batch_job
    from ingestion.lake import Lake, land_file

    def run() -> Timed:
        lake = Lake(str(Path(tempfile.mkdtemp(prefix="lake_", dir=workdir))))
        key = land_file(str(source), lake)  # not timed: landing is a copy
        clock = _Clock()
        result = run_batch_job(key, lake)
        return result.rows_in, clock.stop()

    return run


def _duckdb(source: Path, workdir: Path) -> Callable[[], Timed]:
    import duckdb

    connection = duckdb.connect()

    def run() -> Timed:
        clock = _Clock()
        relation = connection.sql(
            "select * from read_csv(?, header = true, all_varchar = true)",
            params=[str(source)],
        )
        rows = sum(batch.num_rows for batch in relation.to_arrow_reader())
        return rows, clock.stop()

    return run


def _pandas(source: Path, workdir: Path) -> Callable[[], Timed]:
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")  # DtypeWarning on mixed columns: peers ignore it too

    def run() -> Timed:
        out = Path(tempfile.mkdtemp(prefix="pandas_", dir=workdir))
        clock = _Clock()
        frame = pd.read_csv(source)
        frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"], format="%m/%d/%Y %H:%M")
        frame["year"] = frame["InvoiceDate"].dt.year
        frame["month"] = frame["InvoiceDate"].dt.month
        frame.to_parquet(
            out, engine="pyarrow", compression="snappy", partition_cols=["year", "month"]
        )
        return len(frame), clock.stop()

    return run


RUNNERS = {"job": _job, "duckdb": _duckdb, "pandas": _pandas}


def child(method: str, source: Path, warmup: Path, workdir: Path, profile: bool) -> None:
    """Warm up on the tiny file, then time one run on `source`; print one JSON line."""
    run = RUNNERS[method](source, workdir)
    warm = RUNNERS[method](warmup, workdir)
    warm()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        rows, (seconds, cpu_seconds) = run()
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr).strip_dirs()
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(25)
    else:
        rows, (seconds, cpu_seconds) = run()
    result = {"rows": rows, "seconds": seconds, "cpu_seconds": cpu_seconds}
    print(json.dumps({**result, "peak_mib": _peak_mib()}))


# The whole process, cold: as a user runs it, with nothing warmed up. The job is the
# command line on a file already landed (landing is a copy, not the job's work).
_DUCKDB_READ = (
    "import sys, duckdb\n"
    "relation = duckdb.connect().sql(\n"
    "    'select * from read_csv(?, header = true, all_varchar = true)', params=[sys.argv[1]]\n"
    ")\n"
    "print(sum(batch.num_rows for batch in relation.to_arrow_reader()))\n"
)


def cold_command(method: str, source: Path, workdir: Path) -> list[str]:
    if method == "job":
        from ingestion.lake import Lake, land_file

        lake_root = tempfile.mkdtemp(prefix="cold_lake_", dir=workdir)
        key = land_file(str(source), Lake(lake_root))
        entry = "from cli.main import main; raise SystemExit(main())"
        return [sys.executable, "-c", entry, "--lake", lake_root, "batch", key]
    if method == "duckdb":
        return [sys.executable, "-c", _DUCKDB_READ, str(source)]
    raise ValueError(f"no cold run for {method}")


def run_cold(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, every thread) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{command[:3]} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu
