"""Each `online-retail` subcommand answers a user's mistake with one line on stderr and
exit code 2, never a traceback: the real entry point, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENTRY_POINT = Path(sys.executable).with_name("online-retail")
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there
# Settings a developer's shell may hold that would change what each mistake meets.
CLEARED = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "QUICKSIGHT_ACCOUNT_ID",
    "AWS_ACCOUNT_ID",
    "REDSHIFT_HOST",
    "REDSHIFT_USER",
    "LAKE_ROOT",
    "DUCKDB_PATH",
)


def online_retail(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return subprocess.run(
        [
            str(ENTRY_POINT),
            "--lake",
            str(tmp_path / "lake"),
            "--warehouse",
            str(tmp_path / "warehouse" / "none.duckdb"),
            *args,
        ],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=tmp_path,
        timeout=120,
    )


# AWS as a user has it when the endpoint is down: credentials, a region, one attempt.
AWS_UNREACHABLE = {
    "AWS_ENDPOINT_URL": UNREACHABLE,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "1",
}

# subcommand -> (arguments after the global options, environment, words the line must hold)
MISTAKES: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
    "run": (["run", "--source", "{tmp}/no-such-file.csv"], {}, ["no-such-file.csv"]),
    "land": (["land", "{tmp}/no-such-file.csv"], {}, ["no-such-file.csv"]),
    "batch": (["batch", "raw/online_retail/never-landed.csv"], {}, ["never-landed.csv"]),
    "fetch": (["fetch", "--url", "not a url", "--target-dir", "{tmp}/dl"], {}, ["--url"]),
    "summary": (["summary"], {}, ["none.duckdb", "DUCKDB_PATH"]),
    "stream": (["stream", "--day", "2011-02-30"], {}, ["--day", "2011-02-30"]),
    "catalog": (
        ["--lake", "s3://online-retail-lake/lake", "catalog"],
        AWS_UNREACHABLE,
        ["AWS_ENDPOINT_URL", "Glue"],
    ),
    "redshift-sql": (["redshift-sql", "--iam-role", "admin"], {}, ["--iam-role", "'admin'"]),
    "select": (
        ["select", "s3://online-retail-lake/x.parquet", "select * from s3object"],
        AWS_UNREACHABLE,
        ["AWS_ENDPOINT_URL", "S3"],
    ),
    "dashboard": (["dashboard", "--out-dir", "{tmp}/bi"], {}, ["none.duckdb", "DUCKDB_PATH"]),
    "hyper": (["hyper", "--out", "{tmp}/bi/x.hyper"], {}, ["none.duckdb", "DUCKDB_PATH"]),
    "tableau-tds": (["tableau-tds", "--out-dir", "{tmp}/bi"], {}, ["REDSHIFT_HOST"]),
    "quicksight": (["quicksight", "deploy"], {}, ["QUICKSIGHT_ACCOUNT_ID"]),
    "reingest-errors": (
        ["--lake", "{tmp}/no-such-lake", "reingest-errors"],
        {},
        ["no-such-lake", "--lake"],
    ),
}


def test_every_subcommand_has_a_mistake_here() -> None:
    help_text = online_retail(["--help"], Path.cwd()).stdout
    listed = help_text.split("{", 1)[1].split("}", 1)[0].split(",")
    assert sorted(listed) == sorted(MISTAKES)


@pytest.mark.parametrize("command", sorted(MISTAKES))
def test_a_mistake_is_one_line_and_exit_code_2(command: str, tmp_path: Path) -> None:
    args, env, words = MISTAKES[command]
    done = online_retail([a.replace("{tmp}", str(tmp_path)) for a in args], tmp_path, **env)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert done.returncode == 2
    assert lines[0].startswith(f"online-retail {command}: error: ")
    for word in words:
        assert word in lines[0]
