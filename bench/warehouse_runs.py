"""One measured `dbt build`: wall time, CPU time and peak memory of the processes doing
the work.

On DuckDB the work is the dbt process itself (DuckDB runs inside it), so its figures come
from the kernel's accounting of that one child (`os.wait4`: user + system CPU time and
`ru_maxrss`, the high-water mark of its resident memory, which also covers any process
it waited for). A sampler thread also sums the resident memory of dbt's whole process
tree four times a second, as a cross-check. On PostgreSQL the work is mostly the
server's: its processes (the postmaster and every backend, found by the port on their
command line) are sampled the same way, and their CPU time is the postmaster's own
plus that of the backends it reaped plus the live ones'.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
DBT = Path(sys.executable).with_name("dbt")
SAMPLE_SECONDS = 0.25


@dataclass
class Run:
    label: str
    seconds: float
    cpu_seconds: float
    peak_mib: float  # ru_maxrss of dbt (DuckDB) or the sampled server peak (PostgreSQL)
    sampled_peak_mib: float  # summed RSS of the tree, sampled
    status: str  # dbt's last summary line ("Done. PASS=... ERROR=0 ...")
    slowest: list[tuple[str, float]] = field(default_factory=list)
    server_cpu_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def dbt_env(workdir: Path, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "DBT_PROFILES_DIR": str(REPO / "profiles"),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **settings,
    }


class _Sampler(threading.Thread):
    """Peak of the summed RSS of some processes, sampled until stopped."""

    def __init__(self, processes) -> None:
        super().__init__(daemon=True)
        self.processes = processes  # () -> list[psutil.Process]
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            total = 0
            for process in self.processes():
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            self.stopped.wait(SAMPLE_SECONDS)

    def stop(self) -> float:
        self.stopped.set()
        self.join()
        return self.peak / 2**20


def _tree(pid: int):
    def processes() -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    return processes


def postgres_processes(port: int):
    """The server's processes: the postmaster (its command line names the port) and its
    children."""
    postmaster = None
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" and f"-p {port}" in cmdline:
            postmaster = process
            break
    if postmaster is None:
        raise RuntimeError(f"no postgres process with -p {port} on its command line")
    return postmaster, _tree(postmaster.pid)


def _server_cpu(postmaster: psutil.Process) -> float:
    times = postmaster.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in postmaster.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.Error:
            continue
        total += child_times.user + child_times.system
    return total


def _slowest(workdir: Path, count: int = 6) -> list[tuple[str, float]]:
    results_file = workdir / "target" / "run_results.json"
    if not results_file.exists():
        return []
    results = json.loads(results_file.read_text())["results"]
    timed = [(r["unique_id"].split(".")[-1][:60], r["execution_time"]) for r in results]
    return sorted(timed, key=lambda t: -t[1])[:count]


def run_dbt(label: str, args: list[str], workdir: Path, env: dict[str, str],
            log_file: Path, postgres_port: int | None = None) -> Run:  # fmt: skip
    """`dbt <args>` in the repo, measured; fails loudly when dbt fails."""
    postmaster = None
    if postgres_port is not None:
        postmaster, server = postgres_processes(postgres_port)
        server_cpu_before = _server_cpu(postmaster)
    started = time.perf_counter()
    with log_file.open("ab") as log:
        log.write(f"\n===== {label}: dbt {' '.join(args)}\n".encode())
        log.flush()
        process = subprocess.Popen([str(DBT), *args], cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        sampler = _Sampler(server if postmaster else _tree(process.pid))
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    sampled = sampler.stop()
    tail = log_file.read_text(errors="replace").splitlines()[-40:]
    summary = next((line for line in reversed(tail) if "PASS=" in line), "no summary")
    if process.returncode != 0 or "ERROR=0" not in summary:
        sys.exit(f"{label}: dbt failed (exit {process.returncode}); see {log_file}\n"
                 + "\n".join(tail[-25:]))  # fmt: skip
    run = Run(
        label=label,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        sampled_peak_mib=sampled,
        status=summary.split("Done.", 1)[-1].strip(),
        slowest=_slowest(workdir),
    )
    if postmaster is not None:
        run.server_cpu_seconds = _server_cpu(postmaster) - server_cpu_before
        run.peak_mib = sampled
    return run
