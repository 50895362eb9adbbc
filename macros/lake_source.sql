{#- A source of the lake, read so that an empty zone is an empty table, not an error.

    On DuckDB the sources read the lake's files through dbt-duckdb's external_location
    (read_parquet / read_json over a glob), and DuckDB fails a glob that matches no file.
    A lake fed only by the stream has no batch manifest and may have no quarantine file,
    so at run time this asks DuckDB whether the zone's glob (the source's meta
    `lake_files`) matches anything; when it does not, it selects no rows with the source's
    declared columns and types (its `data_type`s in _online_retail__sources.yml) instead.
    Everywhere else (the warehouse targets, where the sources are catalog tables that
    exist when empty; parsing; unit tests, whose fixtures stand in for the source) it is
    `select * from` the source. source() is always called, so the lineage is dbt's own.
    A view built while a zone is empty stays empty until the next build. -#}

{% macro lake_source(source_name, table_name) %}
{%- set relation = source(source_name, table_name) -%}
{%- set source_id = 'source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name -%}
{%- set checks_files = (
    execute and target.type == 'duckdb' and model.resource_type != 'unit_test'
) -%}
{%- set node = graph.sources[source_id] if checks_files else none -%}
{%- set lake_files = node.config.meta.get('lake_files') if checks_files else none -%}
{%- if lake_files and not _lake_files_exist(lake_files) -%}
{{ log("lake_source: " ~ source_id ~ " reads as empty: no file matches " ~ lake_files) }}
select
{%- for column in node.columns.values() %}
    cast(null as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
{%- endfor %}
where 1 = 0
{%- else -%}
select * from {{ relation }}
{%- endif -%}
{% endmacro %}


{#- Whether a glob of the lake matches at least one file (DuckDB's glob() table function
    returns no row, rather than failing, when nothing matches). -#}
{% macro _lake_files_exist(lake_files) %}
{%- set found = run_query(
    "select count(*) as files from glob('" ~ lake_files | replace("'", "''") ~ "')"
) -%}
{{ return(found.columns[0].values()[0] > 0) }}
{% endmacro %}
