{#- Timestamps as the warehouse keeps them: with their zone (UTC) where the engine can
    store one, a plain UTC timestamp on Athena, whose Iceberg tables keep timestamps
    without a zone (as fct_sales_lines.ingested_at). Two inputs, two macros:

    - utc_timestamp(column): a timestamp column of the lake (ingested_at). Always an
      explicit cast, because engines read the same Parquet column differently: DuckDB and
      the COPY path's native tables (timestamptz) keep the zone, but Redshift Spectrum
      reads the Glue type `timestamp` without one, which the staging contracts
      (timestamp with time zone) reject. Redshift takes a timestamp without zone as UTC.
    - utc_timestamp_from_iso8601(column): ISO 8601 text with an offset, as the batch
      manifests hold their run times (Python's isoformat: '2026-01-10T12:00:00+00:00').
      DuckDB, PostgreSQL and Redshift cast that text; Athena's cast wants a space, not
      the 'T', between date and time and fails on it, so it parses with Trino's
      from_iso8601_timestamp and converts to UTC before dropping the zone.
      https://docs.aws.amazon.com/athena/latest/ug/data-types-timestamps.html
      https://trino.io/docs/current/functions/datetime.html -#}

{% macro utc_timestamp(column) -%}
{{ return(adapter.dispatch('utc_timestamp', 'online_retail')(column)) }}
{%- endmacro %}

{% macro default__utc_timestamp(column) -%}
cast({{ column }} as timestamp with time zone)
{%- endmacro %}

{% macro athena__utc_timestamp(column) -%}
cast({{ column }} as timestamp)
{%- endmacro %}


{% macro utc_timestamp_from_iso8601(column) -%}
{{ return(adapter.dispatch('utc_timestamp_from_iso8601', 'online_retail')(column)) }}
{%- endmacro %}

{% macro default__utc_timestamp_from_iso8601(column) -%}
cast({{ column }} as timestamp with time zone)
{%- endmacro %}

{% macro athena__utc_timestamp_from_iso8601(column) -%}
cast(from_iso8601_timestamp({{ column }}) at time zone 'UTC' as timestamp)
{%- endmacro %}
