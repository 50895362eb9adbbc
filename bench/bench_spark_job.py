"""Time the Spark job (pyspark local mode) against the single-process job, same file, same run.

    .venv/bin/python bench/bench_spark_job.py                      # full dataset, local[2]
    .venv/bin/python bench/bench_spark_job.py --master 'local[1]' --repeat 2

Each job runs in its own fresh interpreter, as a user runs it, on a fresh temporary lake
holding the file as `online-retail land` lands it. This script makes itself the child
subreaper, so the JVM and Spark's Python workers, which outlive their parents, are reaped
here and their CPU time is counted: "process" is the whole thing (interpreter, imports,
JVM start, the job), "job" is the job's own call inside it. A second Spark child runs the
job twice in one session and reports the second: the first run pays the Python workers'
start, a warm session (as on Glue, after its start) does not. Each figure is the best of
`--repeat` runs. The machine's load average is printed, since
on a shared machine the other tenants' work slows both jobs.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATASET = REPO / "data" / "online_retail.csv.gz"
PR_SET_CHILD_SUBREAPER = 36


def child(kind: str, lake_root: str, source: str, master: str) -> None:
    """Run one job in this interpreter and print its own timings as JSON."""
    from ingestion.lake import Lake, land_file

    lake = Lake(lake_root)
    key = land_file(source, lake)
    timings: dict[str, float | int] = {}
    if kind == "single":
        from ingestion.batch.job import run_batch_job

        started = time.perf_counter()
        result = run_batch_job(key, lake)
        timings["job_s"] = time.perf_counter() - started
    else:
        from ingestion.batch.spark_job import local_session, run_spark_job

        started = time.perf_counter()
        spark = local_session(master)
        spark.sparkContext.setLogLevel("ERROR")
        timings["session_s"] = time.perf_counter() - started
        for _ in range(2 if kind == "spark-warm" else 1):
            started = time.perf_counter()
            result = run_spark_job(spark, key, lake)
            timings["job_s"] = time.perf_counter() - started
        spark.stop()
    timings["rows_in"] = result.rows_in
    print(json.dumps(timings))


def measure(kind: str, source: Path, master: str) -> dict[str, float]:
    """One fresh interpreter: wall and CPU of the whole process tree, and its own timings."""
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as folder:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        command = [sys.executable, __file__, "--child", kind, "--lake", folder]
        command += ["--source", str(source), "--master", master]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
        wall = time.perf_counter() - started
        while True:  # the orphans (the JVM, Python workers) were re-parented to this process
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{kind} job failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"process_s": wall, "cpu_s": cpu, **json.loads(done.stdout.strip().splitlines()[-1])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DATASET, help="a .csv or .csv.gz file")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--child", choices=["single", "spark", "spark-warm"], help=argparse.SUPPRESS
    )
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.lake, str(args.source), args.master)
        return 0

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    load = os.getloadavg()[0]
    print(f"{args.source.name}, Spark {args.master}, {os.cpu_count()} cores, load {load:.1f}")
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):
        for kind in ("single", "spark", "spark-warm"):
            run = measure(kind, args.source, args.master)
            if kind not in best or run["job_s"] < best[kind]["job_s"]:
                best[kind] = run
    single, spark, warm = best["single"], best["spark"], best["spark-warm"]
    lines = single["rows_in"]
    assert spark["rows_in"] == warm["rows_in"] == lines
    print(f"{'':28}{'process wall':>14}{'process CPU':>13}{'job wall':>10}{'lines/s':>11}")
    for label, run in (("single-process job", single), ("Spark job", spark)):
        print(
            f"{label:28}{run['process_s']:13.1f}s{run['cpu_s']:12.1f}s"
            f"{run['job_s']:9.1f}s{lines / run['job_s']:11,.0f}"
        )
    print(
        f"{'Spark job, warm session':28}{'':27}{warm['job_s']:9.1f}s{lines / warm['job_s']:11,.0f}"
    )
    print(f"Spark session start: {spark['session_s']:.1f} s")
    print(
        f"Spark / single: process wall {spark['process_s'] / single['process_s']:.1f}x, "
        f"process CPU {spark['cpu_s'] / single['cpu_s']:.1f}x, "
        f"job wall {spark['job_s'] / single['job_s']:.1f}x, "
        f"warm {warm['job_s'] / single['job_s']:.1f}x"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
