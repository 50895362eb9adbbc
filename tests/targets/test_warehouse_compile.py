"""The project compiles for Athena and Redshift with no warehouse reachable (AWS calls,
if any, would go to moto's server), every compiled model, analysis and test parses with
sqlglot in the target's dialect, and Athena's sources name exactly the Glue tables that
`ingestion.catalog` registers."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import boto3
import pytest
import sqlglot
from dbt_runs import manifest
from sqlglot.errors import ErrorLevel
from support import run_dbt

from ingestion.catalog.glue import register_lake
from ingestion.catalog.redshift_sql import redshift_load_sql
from ingestion.catalog.tables import DEFAULT_GLUE_DATABASE, LAKE_TABLES, SPECTRUM_SCHEMA
from ingestion.lake import Lake

TARGETS = {"athena": "athena", "redshift": "redshift"}  # dbt target -> sqlglot dialect
LAKE_ROOT = "s3://online-retail-lake/lake"


def offline_env(moto_endpoint: str) -> dict[str, str]:
    return {
        "LAKE_ROOT": LAKE_ROOT,
        # nothing listens there: a connection attempt would fail the compile
        "REDSHIFT_HOST": "127.0.0.1",
        "REDSHIFT_PORT": "9",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ATHENA_S3_STAGING_DIR": "s3://online-retail-athena/results/",
        "ATHENA_S3_DATA_DIR": "s3://online-retail-athena/tables/",
    }


@pytest.fixture(scope="module", params=sorted(TARGETS))
def compiled(request, moto_endpoint: str, tmp_path_factory) -> tuple[str, dict[str, Path]]:
    """Both branches of the incremental models: a first build and an incremental one."""
    target = request.param
    workdirs = {}
    for mode in ("full", "incremental"):
        workdir = tmp_path_factory.mktemp(f"{target}-{mode}")
        args = ["compile", "--target", target, "--no-populate-cache", "--no-introspect",
                "--vars", f"{{compile_offline: {mode}}}"]  # fmt: skip
        if mode == "incremental":
            args += ["--select", "config.materialized:incremental"]
        done = run_dbt(args, workdir, offline_env(moto_endpoint))
        assert done.returncode == 0, done.stdout[-4000:]
        workdirs[mode] = workdir
    return target, workdirs


def _compiled(workdir: Path) -> dict[str, dict]:
    """Compiled nodes by unique_id (models, analyses, data and unit tests), from dbt."""
    return {
        unique_id: node
        for unique_id, node in manifest(workdir)["nodes"].items()
        if node["resource_type"] in ("model", "analysis", "test", "unit_test")
        and node.get("compiled_code")
    }


def test_every_compiled_model_analysis_and_test_parses_in_the_dialect(compiled) -> None:
    target, workdirs = compiled
    full, incremental = _compiled(workdirs["full"]), _compiled(workdirs["incremental"])
    kinds = Counter(node["resource_type"] for node in full.values())
    all_models = [
        n for n in manifest(workdirs["full"])["nodes"].values() if n["resource_type"] == "model"
    ]
    assert kinds["model"] == len(all_models)  # every model compiled, with no warehouse
    assert kinds["test"] > 100
    analyses = {n["name"] for n in full.values() if n["resource_type"] == "analysis"}
    assert analyses >= {"revenue_by_quarter", "top_product_per_season"}
    incremental_models = {n["name"] for n in incremental.values() if n["resource_type"] == "model"}
    assert incremental_models == {
        n["name"] for n in all_models if n["config"]["materialized"] == "incremental"
    }

    failures = []
    for label, node in [
        *(("full", n) for n in full.values()),
        *(("incremental", n) for n in incremental.values() if n["resource_type"] == "model"),
    ]:
        try:
            parsed = sqlglot.parse(
                node["compiled_code"], read=TARGETS[target], error_level=ErrorLevel.RAISE
            )
        except sqlglot.errors.ParseError as error:
            failures.append(f"{label} {node['unique_id']}: {error}")
            continue
        assert parsed and all(statement is not None for statement in parsed), node["unique_id"]
    assert not failures, "\n".join(failures)
    for node in incremental.values():  # the incremental branch filters on what landed
        if node["resource_type"] == "model":
            assert "ingested_at >" in node["compiled_code"], node["name"]


# The late-arrival look-back (dbt_project.yml's default), as each engine adds hours
# (whitespace left out)
LOOKBACK = {"athena": "date_add('hour',-48,max(built.ingested_at))",
            "redshift": "dateadd(hour,-48,max(built.ingested_at))"}  # fmt: skip


def test_incremental_builds_look_back_for_late_arrivals(compiled) -> None:
    """The watermark is the latest line built less the look-back, not max(ingested_at):
    a file landed after the last build with lines received before it is still read."""
    target, workdirs = compiled
    incremental = _compiled(workdirs["incremental"])
    for name in ("stg_online_retail__invoice_lines", "fct_sales_lines"):
        sql = incremental[f"model.online_retail.{name}"]["compiled_code"]
        assert LOOKBACK[target] in "".join(sql.split()), (name, sql[-600:])
        watermark = sqlglot.parse_one(sql, read=TARGETS[target]).find(sqlglot.exp.Coalesce)
        assert watermark is not None, name  # an empty table has no watermark: read all


def _select_expressions(node: dict, dialect: str) -> dict[str, sqlglot.exp.Expression]:
    """The final select's expressions of a compiled model's CTE `final`, by alias."""
    tree = sqlglot.parse_one(node["compiled_code"], read=dialect)
    final = next(cte for cte in tree.find_all(sqlglot.exp.CTE) if cte.alias == "final")
    return {e.alias_or_name: e for e in final.this.expressions}


def test_timestamps_are_typed_explicitly_for_the_engine(compiled) -> None:
    """Athena (Trino) cannot cast Python's isoformat ('T' between date and time): the
    manifests' run times are parsed with from_iso8601_timestamp. Redshift Spectrum reads
    ingested_at as timestamp without zone: staging casts it to the contract's type."""
    target, workdirs = compiled
    full = _compiled(workdirs["full"])
    manifests = full["model.online_retail.stg_online_retail__batch_manifests"]
    run_times = _select_expressions(manifests, TARGETS[target])
    sources = manifest(workdirs["full"])["sources"]
    freshness = sources["source.online_retail.online_retail.batch_manifests"]
    if target == "athena":
        for dialect in ("athena", "trino"):
            tree = sqlglot.parse_one(manifests["compiled_code"], read=dialect)
            assert tree.find(sqlglot.exp.FromISO8601Timestamp) is not None, dialect
        for column in ("started_at", "finished_at"):
            parsed = run_times[column].find(sqlglot.exp.FromISO8601Timestamp)
            assert parsed is not None and parsed.this.name == column, column
            assert run_times[column].find(sqlglot.exp.AtTimeZone) is not None  # to UTC
        assert "timestamp with time zone" not in manifests["compiled_code"]
        assert freshness["loaded_at_field"] == "from_iso8601_timestamp(finished_at)"
        return
    assert freshness["loaded_at_field"] == "cast(finished_at as timestamp with time zone)"
    for name in ("stg_online_retail__invoice_lines", "stg_online_retail__quarantined_lines"):
        tree = sqlglot.parse_one(full[f"model.online_retail.{name}"]["compiled_code"], "redshift")
        casts = [
            cast.to.this
            for cast in tree.find_all(sqlglot.exp.Cast)
            if isinstance(cast.this, sqlglot.exp.Column) and cast.this.name == "ingested_at"
        ]
        assert casts == [sqlglot.exp.DataType.Type.TIMESTAMPTZ], name


def test_dialect_macros_render_the_target_engines_sql(compiled) -> None:
    target, workdirs = compiled
    sql = _compiled(workdirs["full"])["model.online_retail.dim_dates"]["compiled_code"]
    expected = {"athena": "year_of_week(date_day)", "redshift": "to_char(date_day, 'IYYY')"}
    assert expected[target] in sql
    assert "isoyear" not in sql  # neither engine has extract(isoyear)


def test_warehouse_configs_follow_the_target(compiled) -> None:
    target, workdirs = compiled
    configs = {
        n["name"]: n["config"]
        for n in manifest(workdirs["full"])["nodes"].values()
        if n["resource_type"] == "model"
    }
    facts, staging = configs["fct_sales_lines"], configs["stg_online_retail__invoice_lines"]
    assert facts["materialized"] == staging["materialized"] == "incremental"
    assert facts["unique_key"] == staging["unique_key"] == "event_id"
    if target == "athena":
        assert facts["incremental_strategy"] == "merge"
        assert facts["table_type"] == "iceberg"
        assert facts["partitioned_by"] == ["month(invoice_date)"]
    else:
        assert facts["incremental_strategy"] == "delete+insert"
        assert (facts["dist"], facts["sort"]) == ("invoice_no", "invoice_date")
        assert configs["dim_dates"]["dist"] == "all"


def test_athena_sources_are_the_tables_the_catalog_registers(compiled, aws_env: str) -> None:
    target, workdirs = compiled
    sources = manifest(workdirs["full"])["sources"].values()
    if target == "redshift":
        # Spectrum: the external schema redshift_load_sql creates over the same database
        assert {s["schema"] for s in sources} == {SPECTRUM_SCHEMA}
        statements = redshift_load_sql(LAKE_ROOT, "arn:aws:iam::123456789012:role/lake")
        assert f"create external schema if not exists {SPECTRUM_SCHEMA} " in statements[0]
        assert f"database '{DEFAULT_GLUE_DATABASE}'" in statements[0]
        for statement in statements:
            assert sqlglot.parse_one(statement, read="redshift") is not None
        return

    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    glue = boto3.client("glue")
    register_lake(Lake(f"s3://{bucket}/lake"), glue)  # the default database, as dbt's
    registered = {
        t["Name"]: t for t in glue.get_tables(DatabaseName=DEFAULT_GLUE_DATABASE)["TableList"]
    }
    assert set(registered) == {t.name for t in LAKE_TABLES}
    read_by_dbt = {s["identifier"] for s in sources}
    assert {s["schema"] for s in sources} == {DEFAULT_GLUE_DATABASE}
    assert set(registered) - read_by_dbt == {"raw_invoice_lines"}  # only the raw text
    for source in sources:
        table = registered[source["identifier"]]
        glue_columns = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
        glue_columns += [k["Name"] for k in table.get("PartitionKeys", [])]
        assert set(source["columns"]) <= set(glue_columns), source["identifier"]
