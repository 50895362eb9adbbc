{#- A timestamp column as the warehouse keeps it: with its zone (UTC) where the engine can
    store one, a plain UTC timestamp on Athena, whose Iceberg tables keep timestamps
    without a zone (as fct_sales_lines.ingested_at). -#}

{% macro utc_timestamp(column) -%}
{{ return(adapter.dispatch('utc_timestamp', 'online_retail')(column)) }}
{%- endmacro %}

{% macro default__utc_timestamp(column) -%}
cast({{ column }} as timestamp with time zone)
{%- endmacro %}

{% macro athena__utc_timestamp(column) -%}
cast(cast({{ column }} as timestamp with time zone) as timestamp)
{%- endmacro %}
