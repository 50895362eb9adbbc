"""A real, throw-away PostgreSQL server for the tests, and the lake loaded into it.

The server is started from the PostgreSQL server binaries (initdb, pg_ctl) on a free
loopback port, with its unix socket in its own temporary folder, and removed afterwards.
PostgreSQL refuses to run as root, so under root (CI) it runs as an unprivileged user
that owns the data folder. The loader stands in for Redshift's COPY: the lake's Parquet
and manifests go into native tables created from the same definitions
(`ingestion.catalog`), which dbt's postgres target reads as its sources.
"""

from __future__ import annotations

import glob
import io
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from ingestion.catalog.redshift_sql import create_table_sql
from ingestion.catalog.redshift_sql import native_columns as native_columns_of
from ingestion.catalog.tables import BATCH_MANIFESTS, INVOICE_LINES, QUARANTINED_LINES
from ingestion.lake import Lake

SKIP_REASON = (
    "no PostgreSQL server binaries (initdb, pg_ctl): install them (Debian/Ubuntu: "
    "apt-get install postgresql-15) or set PG_BIN to their folder"
)


def find_pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl: $PG_BIN, the newest Debian install, or PATH."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    dbname: str

    def connect(self):  # -> psycopg2 connection
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=self.dbname)

    def env(self) -> dict[str, str]:
        """What profiles/profiles.yml's postgres target reads."""
        return {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": "",
            "POSTGRES_DB": self.dbname,
        }


@contextmanager
def postgres_server(pg_bin: Path, dbname: str = "online_retail") -> Iterator[PostgresServer]:
    # Under root, run as 'postgres' (Debian's package creates it) or else 'nobody'.
    run_as: dict[str, int] = {}
    if os.geteuid() == 0:
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            run_as = {"user": entry.pw_uid, "group": entry.pw_gid}
            break
    home = Path(tempfile.mkdtemp(prefix="pg-test-"))
    data, sockets, log = home / "data", home / "sockets", home / "server.log"
    sockets.mkdir()
    if run_as:
        for path in (home, sockets):
            os.chown(path, run_as["user"], run_as["group"])

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, text=True, **run_as)  # type: ignore[call-overload]

    superuser = "dbt"
    run(str(pg_bin / "initdb"), "-D", str(data), "-U", superuser, "--auth=trust",
        "-E", "UTF8", "--no-locale", "--no-sync")  # fmt: skip
    port = 0
    for attempt in range(5):  # another process may take the port between probe and start
        port = _free_port()
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 "
            # a test server: durability off, it is thrown away
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        try:
            run(str(pg_bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
                "-w", "-t", "60", "start")  # fmt: skip
            break
        except subprocess.CalledProcessError:
            if attempt == 4:
                raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text()}") from None
            time.sleep(0.5)
    try:
        server = PostgresServer("127.0.0.1", port, superuser, "postgres")
        con = server.connect()
        con.autocommit = True  # CREATE DATABASE cannot run in a transaction
        con.cursor().execute(f'create database "{dbname}"')
        con.close()
        yield PostgresServer("127.0.0.1", port, superuser, dbname)
    finally:
        try:
            run(str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(home, ignore_errors=True)


def load_lake(server: PostgresServer, lake: Lake, schema: str) -> dict[str, int]:
    """Load the lake's three zones into native tables (the COPY path); rows per table."""
    counts: dict[str, int] = {}
    with server.connect() as con, con.cursor() as cur:
        cur.execute(f"drop schema if exists {schema} cascade; create schema {schema}")
        for table in (INVOICE_LINES, QUARANTINED_LINES):
            cur.execute(create_table_sql(table, schema, "postgres"))
            files = [lake.path(key) for key in lake.files_under(table.zone)]
            # the contract's columns only: the partition columns are path segments
            data = ds.dataset(files, filesystem=lake.filesystem, format="parquet").to_table(
                columns=table.arrow_schema.names
            )
            buffer = io.BytesIO()
            pacsv.write_csv(data, buffer)  # nulls unquoted (NULL), empty strings quoted
            buffer.seek(0)
            columns = ", ".join(table.arrow_schema.names)
            cur.copy_expert(
                f"copy {schema}.{table.name} ({columns}) from stdin with (format csv, header)",
                buffer,
            )
            counts[table.name] = data.num_rows
        cur.execute(create_table_sql(BATCH_MANIFESTS, schema, "postgres"))
        names = [name for name, _ in native_columns_of(BATCH_MANIFESTS, "postgres")]
        manifests = [json.loads(lake.read_bytes(k)) for k in lake.files_under(BATCH_MANIFESTS.zone)]
        cur.executemany(
            f"insert into {schema}.{BATCH_MANIFESTS.name} ({', '.join(names)}) "
            f"values ({', '.join(['%s'] * len(names))})",
            [[m.get(name) for name in names] for m in manifests],
        )
        counts[BATCH_MANIFESTS.name] = len(manifests)
    con.close()
    return counts
